"""The LAAFFIC API client: signed calls over one keep-alive session, answers sorted into
worker.errors. Thin on purpose: no retries here, the retry policy lives with the actors."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import requests

from worker.errors import (
    CredentialsError,
    PermanentError,
    TransientError,
    classify,
    describe,
    normalize_status,
)
from worker.send_time import PROVIDER_TIME_FORMAT
from worker.signing import signed_headers

DEFAULT_BASE_URL = "https://api.laaffic.com"
SEND_PATH = "/v3/voice/group/call/send/agent"
QUERY_PATH = "/v3/voice/group/call/query"
DETAIL_PATH = "/v3/voice/group/call/detail"
AI_AGENT_TASK_TYPE = 3  # the query's taskType for AI-agent group calls (ignored where unknown)
SNIPPET_CHARS = 200  # how much of an unexpected body goes into an error reason

# Failures of the connection itself: the request may or may not have reached the provider.
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str = field(repr=False)  # never in repr, logs or exception messages

    @classmethod
    def from_env(cls) -> Credentials:
        """Read LAAFFIC_API_KEY and LAAFFIC_API_SECRET; CredentialsError names what is missing."""
        api_key = os.environ.get("LAAFFIC_API_KEY", "").strip()
        api_secret = os.environ.get("LAAFFIC_API_SECRET", "").strip()
        missing = [name for name, value in
                   (("LAAFFIC_API_KEY", api_key), ("LAAFFIC_API_SECRET", api_secret)) if not value]
        if missing:
            raise CredentialsError(
                f"{' and '.join(missing)} not set: export the LAAFFIC account's API key and "
                "secret (for the local sandbox: sandbox-key / sandbox-secret) and run again"
            )
        return cls(api_key, api_secret)


def base_url_from_env() -> str:
    """LAAFFIC_BASE_URL without a trailing slash, or the production API root."""
    return (os.environ.get("LAAFFIC_BASE_URL", "").strip() or DEFAULT_BASE_URL).rstrip("/")


def api_time(moment: datetime) -> str:
    """The API's LocalDateTime text. Aware datetimes are shown in this machine's local time."""
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return moment.strftime(PROVIDER_TIME_FORMAT)


_INTEGER_TEXT = re.compile(r"-?[0-9]+")  # not int()'s "+5", "1_000" or full-width digits


def as_int(value: Any) -> int | None:
    """An integer the provider sent as a JSON number or as text; None for anything else
    (bools, fractions, words), so an odd answer is never mistaken for an id or a count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    return None


def task_job_id(record: dict) -> int | None:
    """A query record's task id: jobId, or taskId where an answer names it so."""
    return as_int(record.get("jobId", record.get("taskId")))


class LaafficClient:
    query_page_size = 100  # the query endpoint accepts 1..100 per page
    max_query_pages = 1000  # a guard against an answer whose paging never ends

    def __init__(self, base_url: str, credentials: Credentials, connect_timeout: float = 5.0,
                 read_timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = (connect_timeout, read_timeout)
        self._session = requests.Session()  # keep-alive: one TLS handshake per connection

    def __repr__(self) -> str:
        return f"LaafficClient(base_url={self.base_url!r}, api_key={self.credentials.api_key!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> LaafficClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_group_call(self, body: bytes) -> int:
        """POST one pre-encoded task; return its keyId. Signs afresh on every call."""
        data = self._call("POST", SEND_PATH, body)
        key_id = as_int(data)
        if key_id is None:
            raise PermanentError("0", f"success answered without a keyId: {data!r:.80}")
        return key_id

    def query_tasks(self, search: str, start: datetime, end: datetime) -> list[dict]:
        """Every task whose name fuzzily matches `search`, created within [start, end]."""
        records: list[dict] = []
        for page in range(1, self.max_query_pages + 1):
            query = {
                "current": page,
                "size": self.query_page_size,
                "params": {"strTime": api_time(start), "endTime": api_time(end),
                           "statusList": [], "searchCondition": search,
                           "taskType": AI_AGENT_TASK_TYPE},
            }
            data = self._call("POST", QUERY_PATH, orjson.dumps(query))
            if not isinstance(data, dict):
                raise PermanentError(None, f"task query answered without paging data: {data!r:.80}")
            page_records = [r for r in data.get("records") or [] if isinstance(r, dict)]
            records.extend(page_records)
            total, pages = as_int(data.get("total")), as_int(data.get("pages"))
            if (not page_records or (total is not None and len(records) >= total)
                    or (pages is not None and page >= pages)):
                break
        return records

    def find_task_id(self, task_name: str, around: datetime,
                     window: timedelta = timedelta(days=1)) -> int | None:
        """The jobId of the task named exactly `task_name` (the search itself is fuzzy)."""
        for record in self.query_tasks(task_name, around - window, around + window):
            if record.get("taskName") == task_name:
                job_id = task_job_id(record)
                if job_id is not None:
                    return job_id
        return None

    def task_detail(self, job_id: int) -> dict:
        data = self._call("GET", f"{DETAIL_PATH}/{int(job_id)}", None)
        if not isinstance(data, dict):
            raise PermanentError(None, f"task detail answered without data: {data!r:.80}")
        return data

    def _call(self, method: str, path: str, body: bytes | None) -> Any:
        """One signed request; the answer's `data` on success, else an error from the tree."""
        headers = signed_headers(self.credentials.api_key, self.credentials.api_secret)
        try:
            response = self._session.request(method, self.base_url + path, data=body,
                                             headers=headers, timeout=self.timeout)
        except TRANSPORT_ERRORS as exc:
            raise TransientError(None, self._redact(f"{type(exc).__name__}: {exc}")) from exc
        except requests.RequestException as exc:  # a bad URL and the like: retrying cannot help
            raise PermanentError(None, self._redact(f"{type(exc).__name__}: {exc}")) from exc
        return self._data_of(response)

    def _data_of(self, response: requests.Response) -> Any:
        """Read either envelope (status/reason or code/msg); raise unless it says success."""
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            payload = None
        envelope = payload if isinstance(payload, dict) else {}
        status = normalize_status(envelope.get("status", envelope.get("code")))
        http_status = response.status_code
        if status == "0" and 200 <= http_status < 300:
            return envelope.get("data")
        if status is not None:
            reason = describe(status, _text(envelope.get("reason", envelope.get("msg"))))
        elif 200 <= http_status < 300:
            snippet = response.text[:SNIPPET_CHARS].replace("\n", " ").strip()
            reason = f"unexpected answer ({response.headers.get('Content-Type', '?')}): {snippet!r}"
        else:
            reason = f"HTTP {http_status} {response.reason or ''}".strip()
        raise classify(status, self._redact(reason), http_status)

    def _redact(self, text: str) -> str:
        """No message this client builds may carry the secret, whatever a server echoes."""
        text = " ".join(text.split())  # one line
        secret = self.credentials.api_secret
        return text.replace(secret, "***") if secret else text


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
