"""The API client over real HTTP: against the sandbox, and against a tiny stub server that
answers whatever a test chooses (statuses, HTTP errors, slow or broken answers)."""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from pipeline_support import API_KEY, API_SECRET

from laaffic_batch.sandbox import Faults, SandboxServer
from worker.client import Credentials, LaafficClient, base_url_from_env
from worker.errors import (
    AlreadyExists,
    CredentialsError,
    PermanentError,
    ProviderBusy,
    SubmitError,
    TransientError,
)
from worker.signing import sign

SECRET = "s3cr3t-do-not-leak"
SANDBOX_CREDENTIALS = Credentials(API_KEY, API_SECRET)  # those of conftest's sandbox


def task_body(name: str, numbers: tuple[str, ...] = ("46701234567",), agent_id: int = 41,
              **extra: Any) -> bytes:
    task = {"appId": "2Xql9RBI", "agentId": agent_id, "taskName": name,
            "numberInfoList": [{"calleeNumber": n} for n in numbers], **extra}
    return orjson.dumps(task)


# ------------------------------------------------------------------ a scripted stub server


@dataclass
class Script:
    http_status: int = 200
    body: bytes = b'{"status":"0","reason":"success","data":1}'
    content_type: str = "application/json;charset=UTF-8"
    delay: float = 0.0
    truncate: bool = False  # promise more bytes than sent, then close


class _StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _StubServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        script = self.server.script
        self.server.seen.append(dict(self.headers))
        time.sleep(script.delay)
        try:
            self.send_response(script.http_status)
            self.send_header("Content-Type", script.content_type)
            self.send_header("Content-Length", str(len(script.body) + (100 * script.truncate)))
            self.end_headers()
            self.wfile.write(script.body)
        except OSError:
            pass  # the client gave up (timeout tests)
        if script.truncate:
            self.close_connection = True

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True
    script = Script()
    seen: list[dict[str, str]]


@pytest.fixture(scope="module")
def stub_server() -> Iterator[_StubServer]:
    server = _StubServer(("127.0.0.1", 0), _StubHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def stub(stub_server: _StubServer) -> _StubServer:
    stub_server.script = Script()
    stub_server.seen = []
    return stub_server


def stub_client(stub: _StubServer, **timeouts: float) -> LaafficClient:
    host, port = stub.server_address[:2]
    return LaafficClient(f"http://{host}:{port}", Credentials("key", SECRET), **timeouts)


def answer_with(stub: _StubServer, payload: Any, http_status: int = 200) -> None:
    stub.script = Script(http_status=http_status, body=orjson.dumps(payload))


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[LaafficClient]:
    with LaafficClient(sandbox.url, SANDBOX_CREDENTIALS) as api:
        yield api


# ------------------------------------------------------------------ sending


def test_send_returns_the_key_id_and_the_sandbox_records_the_numbers(
        client: LaafficClient, sandbox: SandboxServer) -> None:
    key_id = client.send_group_call(task_body("promo-001", ("46701234567", "46701234568")))
    [task] = sandbox.tasks()
    assert task["jobId"] == key_id
    assert task["taskName"] == "promo-001"
    assert task["numbers"] == ["46701234567", "46701234568"]


def test_sends_the_body_bytes_unchanged_with_the_signed_headers(stub: _StubServer) -> None:
    answer_with(stub, {"status": "0", "reason": "success", "data": 123123})
    assert stub_client(stub).send_group_call(b'{"taskName":"x"}') == 123123
    [headers] = stub.seen
    assert headers["Content-Type"] == "application/json;charset=UTF-8"
    assert headers["Content-Length"] == str(len(b'{"taskName":"x"}'))
    assert headers["Api-Key"] == "key"
    assert headers["Sign"] == sign("key", SECRET, headers["Timestamp"])
    assert abs(int(headers["Timestamp"]) - time.time()) < 5  # Unix seconds, of now
    assert SECRET not in str(headers)


def test_every_send_is_signed_with_a_fresh_timestamp(
        client: LaafficClient, sandbox: SandboxServer) -> None:
    client.send_group_call(task_body("fresh-001"))
    time.sleep(1.02 - time.time() % 1)  # into the next second
    client.send_group_call(task_body("fresh-002"))
    first, second = (task["timestamp"] for task in sandbox.tasks())
    assert int(second) > int(first)


def test_second_send_of_the_same_name_is_already_exists(
        client: LaafficClient, sandbox: SandboxServer) -> None:
    client.send_group_call(task_body("dup-001"))
    with pytest.raises(AlreadyExists) as caught:
        client.send_group_call(task_body("dup-001"))
    assert caught.value.as_error() == {"status": "-41", "reason": "Task name already exists"}
    assert len(sandbox.tasks()) == 1


# ------------------------------------------------------------------ classification

STATUS_KINDS = [
    ("-41", AlreadyExists), ("-20", AlreadyExists),
    ("-16", TransientError), ("-18", TransientError),
    ("-37", ProviderBusy),
    *[(s, PermanentError) for s in ("-1", "-2", "-21", "-22", "-23", "-24", "-26", "-34",
                                    "-38", "-39", "-42", "-60", "-68", "-999", "7")],
]


@pytest.mark.parametrize(("status", "kind"), STATUS_KINDS)
def test_each_status_is_classified(stub: _StubServer, status: str, kind: type) -> None:
    answer_with(stub, {"status": status, "reason": f"reason for {status}"})
    with pytest.raises(SubmitError) as caught:
        stub_client(stub).send_group_call(b"{}")
    assert type(caught.value) is kind
    assert caught.value.status == status
    assert caught.value.as_error()["status"] == status
    assert caught.value.as_error()["reason"].startswith(f"reason for {status}")


@pytest.mark.parametrize("payload", [
    {"status": -41, "reason": "Task name already exists"},  # status as a number
    {"code": "-41", "msg": "Task name already exists"},  # the query endpoints' envelope
    {"code": -41, "msg": "Task name already exists"},
])
def test_both_envelopes_and_numeric_statuses_are_understood(
        stub: _StubServer, payload: dict) -> None:
    answer_with(stub, payload)
    with pytest.raises(AlreadyExists) as caught:
        stub_client(stub).send_group_call(b"{}")
    assert caught.value.as_error() == {"status": "-41", "reason": "Task name already exists"}


def test_billing_failure_says_so(stub: _StubServer) -> None:
    answer_with(stub, {"status": "-26", "reason": "Getting fee faily"})
    with pytest.raises(PermanentError) as caught:
        stub_client(stub).send_group_call(b"{}")
    assert "balance" in caught.value.reason


def test_a_status_without_reason_gets_the_documented_one(stub: _StubServer) -> None:
    answer_with(stub, {"status": "-60"})
    with pytest.raises(PermanentError) as caught:
        stub_client(stub).send_group_call(b"{}")
    assert caught.value.as_error() == {"status": "-60",
                                       "reason": "The AI speech template does not exist"}


@pytest.mark.parametrize("http_status", [500, 502, 503, 504, 429])
def test_server_errors_and_throttling_are_transient(stub: _StubServer, http_status: int) -> None:
    stub.script = Script(http_status=http_status, body=b"<html>oops</html>",
                         content_type="text/html")
    with pytest.raises(TransientError) as caught:
        stub_client(stub).send_group_call(b"{}")
    assert caught.value.http_status == http_status
    assert caught.value.as_error()["status"] is None
    assert str(http_status) in str(caught.value)


def test_http_500_is_transient_whatever_its_body_says(stub: _StubServer) -> None:
    answer_with(stub, {"status": "-60", "reason": "The AI speech template does not exist"}, 500)
    with pytest.raises(TransientError):
        stub_client(stub).send_group_call(b"{}")


@pytest.mark.parametrize(("script", "shown"), [
    (Script(body=b"<html>maintenance</html>", content_type="text/html"), "maintenance"),
    (Script(body=b'{"hello": "world"}'), "hello"),
    (Script(body=b'["not", "an", "object"]'), "not"),
    (Script(body=b'{"status": "0", "reason": "success"}'), "keyId"),  # success without data
    (Script(http_status=404, body=b"Not Found", content_type="text/plain"), "404"),
])
def test_unexpected_answers_are_permanent(stub: _StubServer, script: Script, shown: str) -> None:
    stub.script = script
    with pytest.raises(PermanentError) as caught:
        stub_client(stub).send_group_call(b"{}")
    assert shown in caught.value.reason
    assert "\n" not in str(caught.value)


def test_a_read_timeout_is_transient(stub: _StubServer) -> None:
    stub.script = Script(delay=0.6)
    with pytest.raises(TransientError) as caught:
        stub_client(stub, read_timeout=0.15).send_group_call(b"{}")
    assert caught.value.as_error()["status"] is None
    assert caught.value.reason.startswith("ReadTimeout")


def test_a_truncated_answer_is_transient(stub: _StubServer) -> None:
    stub.script = Script(truncate=True)
    with pytest.raises(TransientError):
        stub_client(stub).send_group_call(b"{}")


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as placeholder:  # a port nobody listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    client = LaafficClient(f"http://127.0.0.1:{port}", Credentials("key", SECRET))
    with pytest.raises(TransientError) as caught:
        client.send_group_call(b"{}")
    assert caught.value.as_error()["status"] is None
    assert caught.value.reason.startswith("ConnectionError: ")


def test_a_lost_answer_is_transient_and_the_retry_finds_the_recorded_task(
        client: LaafficClient, sandbox: SandboxServer) -> None:
    sandbox.faults = Faults(lose_rate=1.0, seed=1)
    for name in ("lost-001", "lost-002", "lost-003"):  # both ways of losing: drop and 504
        with pytest.raises(TransientError):
            client.send_group_call(task_body(name))
    recorded = {task["taskName"]: task["jobId"] for task in sandbox.tasks()}
    assert set(recorded) == {"lost-001", "lost-002", "lost-003"}
    sandbox.faults = Faults()
    with pytest.raises(AlreadyExists):
        client.send_group_call(task_body("lost-002"))
    assert client.find_task_id("lost-002", datetime.now()) == recorded["lost-002"]


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(ProviderBusy("-37", "too many tasks", 200)))
    assert type(error) is ProviderBusy
    assert error.as_error() == {"status": "-37", "reason": "too many tasks"}


# ------------------------------------------------------------------ against the sandbox's rules


def test_too_many_running_tasks_is_provider_busy_until_one_finishes(
        client: LaafficClient, sandbox: SandboxServer) -> None:
    sandbox.faults = Faults(max_concurrent=1, task_duration=0.4)
    client.send_group_call(task_body("busy-001"))
    with pytest.raises(ProviderBusy) as caught:
        client.send_group_call(task_body("busy-002"))
    assert caught.value.status == "-37"
    time.sleep(0.45)
    client.send_group_call(task_body("busy-002"))
    assert [t["taskName"] for t in sandbox.tasks()] == ["busy-001", "busy-002"]


def test_a_wrong_secret_is_a_permanent_authentication_error(sandbox: SandboxServer) -> None:
    client = LaafficClient(sandbox.url, Credentials(API_KEY, SECRET))
    with pytest.raises(PermanentError) as caught:
        client.send_group_call(task_body("auth-001"))
    assert caught.value.status == "-1"
    assert "LAAFFIC_API_SECRET" in caught.value.reason  # tells the user what to check
    assert sandbox.tasks() == []


def test_a_permanent_agent_status_fails_the_send(
        client: LaafficClient, sandbox: SandboxServer) -> None:
    sandbox.faults = Faults(permanent_agents={41: "-60"})
    with pytest.raises(PermanentError) as caught:
        client.send_group_call(task_body("agent-001", agent_id=41))
    assert caught.value.status == "-60"
    assert client.send_group_call(task_body("agent-002", agent_id=42)) > 0


@pytest.mark.parametrize(("body", "status", "named"), [
    (task_body("bad-001", ("12345",)), "-21", "calleeNumber"),
    (task_body("x"), "-22", "taskName"),
    (orjson.dumps({"appId": "a", "taskName": "bad-002",
                   "numberInfoList": [{"calleeNumber": "46701234567"}]}), "-22", "agentId"),
    (task_body("bad-003", maxRingingTime=5), "-22", "maxRingingTime"),
])
def test_invalid_bodies_are_rejected_permanently(
        client: LaafficClient, sandbox: SandboxServer, body: bytes, status: str,
        named: str) -> None:
    with pytest.raises(PermanentError) as caught:
        client.send_group_call(body)
    assert caught.value.status == status
    assert named in caught.value.reason
    assert sandbox.tasks() == []


# ------------------------------------------------------------------ finding tasks


def test_find_task_id_picks_the_exact_name_among_fuzzy_matches(client: LaafficClient) -> None:
    names = ["camp-0011", "camp-001", "camp-00", "xcamp-001", "camp-001-b"]
    ids = {name: client.send_group_call(task_body(name)) for name in names}
    now = datetime.now()
    for name in names:
        assert client.find_task_id(name, now) == ids[name]
    assert client.find_task_id("camp-001", datetime.now(UTC)) == ids["camp-001"]  # aware
    assert client.find_task_id("camp-002", now) is None
    assert client.find_task_id("camp-001", now - timedelta(days=3)) is None  # outside the window


def test_query_tasks_walks_every_page(client: LaafficClient, sandbox: SandboxServer) -> None:
    client.query_page_size = 2
    for index in range(5):
        client.send_group_call(task_body(f"page-{index:03d}"))
    client.send_group_call(task_body("other-001"))
    now = datetime.now()
    records = client.query_tasks("page-", now - timedelta(hours=1), now + timedelta(hours=1))
    assert sorted(r["taskName"] for r in records) == [f"page-{i:03d}" for i in range(5)]
    assert sandbox.stats()["queries"] == 3
    assert {"jobId", "status", "numCnt", "callNum", "success", "fail", "rate",
            "createdTime"} <= set(records[0])


def test_task_detail(client: LaafficClient) -> None:
    key_id = client.send_group_call(task_body("detail-001", ("46701234567", "46701234568")))
    detail = client.task_detail(key_id)
    assert detail["jobId"] == key_id
    assert detail["taskName"] == "detail-001"
    assert detail["numCnt"] == 2
    with pytest.raises(PermanentError) as caught:
        client.task_detail(key_id + 1000)
    assert caught.value.status == "-24"


# ------------------------------------------------------------------ credentials and secrecy


def test_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAAFFIC_API_KEY", "key")
    monkeypatch.setenv("LAAFFIC_API_SECRET", SECRET)
    assert Credentials.from_env() == Credentials("key", SECRET)
    monkeypatch.delenv("LAAFFIC_API_SECRET")
    with pytest.raises(CredentialsError) as caught:
        Credentials.from_env()
    assert "LAAFFIC_API_SECRET" in str(caught.value)
    assert "LAAFFIC_API_KEY" not in str(caught.value).split(" not set")[0]
    monkeypatch.delenv("LAAFFIC_API_KEY")
    with pytest.raises(CredentialsError, match="LAAFFIC_API_KEY and LAAFFIC_API_SECRET"):
        Credentials.from_env()


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAAFFIC_BASE_URL", raising=False)
    assert base_url_from_env() == "https://api.laaffic.com"
    monkeypatch.setenv("LAAFFIC_BASE_URL", "http://127.0.0.1:8787/")
    assert base_url_from_env() == "http://127.0.0.1:8787"


def test_the_secret_never_appears_in_errors_or_reprs(stub: _StubServer) -> None:
    client = stub_client(stub)
    shown: list[str] = [repr(client), repr(client.credentials), str(client.credentials)]
    for script in (
        Script(body=orjson.dumps({"status": "-1", "reason": f"bad secret {SECRET}"})),
        Script(body=orjson.dumps({"code": 500, "msg": f"echo {SECRET}"}), http_status=502),
        Script(body=f"<html>{SECRET}</html>".encode(), content_type="text/html"),
    ):
        stub.script = script
        with pytest.raises(SubmitError) as caught:
            client.send_group_call(b"{}")
        shown += [str(caught.value), repr(caught.value), str(caught.value.as_error())]
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    offline = LaafficClient(f"http://127.0.0.1:{port}", Credentials("key", SECRET))
    with pytest.raises(TransientError) as caught:
        offline.send_group_call(b"{}")
    shown += [str(caught.value), repr(caught.value), repr(offline)]
    assert all(SECRET not in text for text in shown), [t for t in shown if SECRET in t]


@pytest.mark.parametrize(("value", "expected"), [
    (5, 5), ("12", 12), (" 12 ", 12), ("-3", -3),
    ("+5", None), ("1_000", None), ("\u0661\u0662", None), ("1.0", None), ("", None),
    (True, None), (1.5, None), (None, None), ([1], None),
])
def test_ids_and_counts_are_whole_numbers_or_nothing(value: object, expected: int | None) -> None:
    # An odd answer from the provider must never be mistaken for a keyId or a count.
    from worker.client import as_int

    assert as_int(value) == expected
