"""`laaffic-batch intake`: campaigns pushed as jobs to a Redis stream.

An entry's `job` field holds JSON: {"job_id", "config", "contacts" | "file", "at"?}. Each job
is planned and submitted through submit_file (the same path as `submit`) with run id =
job_id, and acknowledged only once submit_file has returned, i.e. once the campaign exists.

- One job_id is one campaign: `laaffic:job:<job_id>` is claimed with SET NX (as
  "pending:<entry id>") before planning and holds the campaign id afterwards. A later entry
  with that job_id is acknowledged and logged `job.duplicate`; while the first is still in
  flight the later one stays pending and is looked at again after the claim threshold.
- Invalid jobs (bad JSON, wrong types, missing fields, config errors, a path outside
  LAAFFIC_INTAKE_ROOT, too many inline contacts, an unreadable file) go to `<stream>:dead`
  with fields `job` (the raw text) and `error` (one line), and are acknowledged.
- Anything else (Redis hiccup, disk full, a bug) leaves the entry pending: it is claimed
  again (XAUTOCLAIM) once idle for LAAFFIC_INTAKE_CLAIM_IDLE_MS, by this or another
  consumer, which is also how a dead consumer's entries get done. An entry delivered more
  than LAAFFIC_INTAKE_MAX_DELIVERIES times is dead-lettered, so one poison job cannot
  cycle for ever.
- Inline contacts are written to <data dir>/jobs/<safe_file_name(job id)>.jsonl (the id's
  readable part plus a hash of it; removed once submitted)
  with [columns] phone = calleeNumber and textN = textN unless the job's config says
  otherwise."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis

from ingest.config import TEXT_KEYS, CampaignConfig, config_from_mapping
from ingest.errors import InputError, LaafficError, one_line
from laaffic_batch.logs import get_logger
from worker.connection import data_dir, redis_client
from worker.settings import env_int
from worker.shutdown import stop_on_signals
from worker.submission import parse_at, submit_file

JOB_FIELDS = ("job_id", "config", "contacts", "file", "at")
PHONE_KEY = "calleeNumber"
JOB_ID_MAX = 200
JOB_KEY_PREFIX = "laaffic:job:"
PENDING_PREFIX = "pending:"
DEFAULT_CLAIM_IDLE_MS = 60_000
DEFAULT_MAX_INLINE = 1_000_000
DEFAULT_MAX_DELIVERIES = 20
BLOCK_MS = 2_000  # how long a read waits for new entries; also how fast a stop is noticed
READ_COUNT = 10
REDIS_BACKOFF_S = (0.5, 1, 2, 5, 10)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

# Delete the job key only while it still holds this entry's reservation.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Take over a reservation whose entry is gone, only if nobody changed it meanwhile.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end
return 0
"""


@dataclass(frozen=True)
class Job:
    job_id: str
    config: dict[str, Any]
    contacts: list[dict[str, Any]] | None
    file: str | None
    at: str | None


@dataclass(frozen=True)
class IntakeSettings:
    claim_idle_ms: int = DEFAULT_CLAIM_IDLE_MS
    max_inline_contacts: int = DEFAULT_MAX_INLINE
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    intake_root: Path | None = None

    @classmethod
    def from_env(cls) -> IntakeSettings:
        root = os.environ.get("LAAFFIC_INTAKE_ROOT", "").strip()
        return cls(
            claim_idle_ms=env_int("LAAFFIC_INTAKE_CLAIM_IDLE_MS", DEFAULT_CLAIM_IDLE_MS, 0),
            max_inline_contacts=env_int("LAAFFIC_MAX_INLINE_CONTACTS", DEFAULT_MAX_INLINE, 1),
            max_deliveries=env_int("LAAFFIC_INTAKE_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES, 1),
            intake_root=Path(os.path.realpath(root)) if root else None,
        )



def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a whole number", float: "a fractional number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _job_id_of(raw: bytes) -> str | None:
    """The job_id in a raw job, if it has a usable one (to free its reservation)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    job_id = data.get("job_id") if isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) else None


# -- reading a job -----------------------------------------------------------------------


def parse_job(raw: bytes | str, max_inline_contacts: int) -> Job:
    """The job in an entry's `job` field; InputError (one line) when it is not a valid job."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"job is not valid JSON: {one_line(exc)}") from None
    if not isinstance(data, dict):
        raise InputError(f"job must be a JSON object with job_id, config and contacts or "
                         f"file, not {_kind(data)}")
    unknown = sorted(set(data) - set(JOB_FIELDS))
    if unknown:
        raise InputError(f"job has unknown field(s) {', '.join(unknown)}; "
                         f"known: {', '.join(JOB_FIELDS)}")
    job_id = data.get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise InputError(f"job_id must be a non-empty string, not {_kind(job_id)}")
    if len(job_id) > JOB_ID_MAX or any(unicodedata.category(c) == "Cc" for c in job_id):
        raise InputError(f"job_id must be at most {JOB_ID_MAX} characters without control "
                         "characters")
    where = f"job {job_id!r}"
    config = data.get("config")
    if not isinstance(config, dict):
        raise InputError(f"{where}: config must be an object with task, batch and columns, "
                         f"not {_kind(config)}")
    contacts, file = data.get("contacts"), data.get("file")
    if (contacts is None) == (file is None):
        raise InputError(f"{where}: give exactly one of contacts (inline list) or file "
                         f"(a path under LAAFFIC_INTAKE_ROOT)")
    if file is not None and (not isinstance(file, str) or not file.strip()):
        raise InputError(f"{where}: file must be a non-empty path string, not {_kind(file)}")
    if contacts is not None:
        _check_contacts(where, contacts, max_inline_contacts)
    at = data.get("at")
    if at is not None:
        if not isinstance(at, str):
            raise InputError(f"{where}: at must be a string such as "
                             f"\"2026-11-24T01:30:00+01:00\", not {_kind(at)}")
        try:
            parse_at(at)
        except LaafficError:
            raise InputError(f"{where}: at = {at!r} must be an ISO 8601 time with a UTC "
                             "offset, e.g. 2026-11-24T01:30:00+01:00") from None
    return Job(job_id=job_id, config=config, contacts=contacts, file=file, at=at)


def _check_contacts(where: str, contacts: object, limit: int) -> None:
    if not isinstance(contacts, list):
        raise InputError(f"{where}: contacts must be a list of objects, not {_kind(contacts)}")
    if not contacts:
        raise InputError(f"{where}: contacts is empty; nothing to call")
    if len(contacts) > limit:
        raise InputError(f"{where}: {len(contacts)} inline contacts is more than the "
                         f"{limit} allowed (LAAFFIC_MAX_INLINE_CONTACTS); send a file instead")
    for index, contact in enumerate(contacts):
        if not isinstance(contact, dict):
            raise InputError(f"{where}: contacts[{index}] must be an object like "
                             f'{{"calleeNumber": "46701234567"}}, not {_kind(contact)}')
        for key, value in contact.items():
            if value is not None and type(value) not in (str, int):
                raise InputError(f"{where}: contacts[{index}].{key} must be a string, "
                                 f"not {_kind(value)}")


def resolve_job_file(where: str, value: str, root: Path | None) -> Path:
    """The real path of a job's file, which must lie inside the intake root."""
    if root is None:
        raise InputError(f"{where}: file {value!r} refused: LAAFFIC_INTAKE_ROOT is not set, "
                         "so jobs may not name files; set it or send contacts inline")
    try:
        real = Path(os.path.realpath(root / value))  # absolute values replace root here
        inside = real.is_relative_to(root)
        is_file = inside and real.is_file()
    except (ValueError, OSError) as exc:
        raise InputError(f"{where}: file {value!r} is not a usable path "
                         f"({one_line(exc)})") from None
    if not inside:
        raise InputError(f"{where}: file {value!r} is outside LAAFFIC_INTAKE_ROOT ({root}); "
                         "refused")
    if not is_file:
        raise InputError(f"{where}: file {value!r} is not a file under {root}")
    if not os.access(real, os.R_OK):
        raise InputError(f"{where}: file {value!r} cannot be read (permissions)")
    return real


def job_config(job: Job, root: Path | None) -> CampaignConfig:
    """The job's config, validated; inline contacts map calleeNumber and text1..10 to
    themselves unless the job's [columns] say otherwise."""
    data = dict(job.config)
    if job.contacts is not None and isinstance(data.get("columns", {}), Mapping):
        keys = {key for contact in job.contacts for key in contact}
        columns: dict[str, Any] = {"phone": PHONE_KEY}
        columns.update({key: key for key in TEXT_KEYS if key in keys})
        columns.update(data.get("columns") or {})
        data["columns"] = columns
    config = config_from_mapping(data, f"job {job.job_id!r} config", base_dir=root)
    for path in config.batch.suppress:  # a job may only make us read files under the root
        if root is None or not path.is_relative_to(root):
            raise InputError(f"job {job.job_id!r} config: batch.suppress file {path} is "
                             "outside LAAFFIC_INTAKE_ROOT; refused")
    return config


def safe_file_name(job_id: str) -> str:
    """A file name for the job: readable part of the id plus a hash (ids differing only
    in unsafe characters must not share a file)."""
    readable = _UNSAFE_NAME.sub("_", job_id)[:80].strip("._") or "job"
    return f"{readable}-{hashlib.sha256(job_id.encode()).hexdigest()[:12]}"


def write_inline_contacts(job: Job) -> Path:
    """The contacts as JSON lines, every line with every key (readers learn the keys from
    the first lines). Same contacts, same bytes: so the same campaign id."""
    assert job.contacts is not None
    keys: dict[str, None] = {}
    for contact in job.contacts:
        keys.update(dict.fromkeys(contact))
    folder = data_dir() / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_file_name(job.job_id)}.jsonl"
    tmp = folder / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with tmp.open("wb") as out:
            for contact in job.contacts:
                out.write(orjson.dumps({key: contact.get(key) for key in keys}) + b"\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- the consumer ------------------------------------------------------------------------


class Intake:
    def __init__(self, client: redis.Redis, stream: str, group: str, consumer: str,
                 settings: IntakeSettings, log: Any) -> None:
        self.client = client
        self.stream, self.group, self.consumer = stream, group, consumer
        self.dead_stream = f"{stream}:dead"
        self.settings = settings
        self.log = log
        self._release = client.register_script(_RELEASE)
        self._take_over = client.register_script(_TAKE_OVER)
        self.left_pending = 0

    def ensure_group(self) -> None:
        try:
            # from 0: jobs pushed before the group existed are consumed too
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, stop: threading.Event, once: bool) -> int:
        self.log.info("intake.started", stream=self.stream, group=self.group,
                      consumer=self.consumer)
        group_ready = own_history_done = False
        failures = 0
        while not stop.is_set():
            try:
                if not group_ready:  # again after errors: the stream may have been deleted
                    self.ensure_group()
                    group_ready = True
                if not own_history_done:  # ours from before a restart under the same name
                    self._drain_own_history(stop)
                    own_history_done = True
                reclaimed = self._reclaim(stop)
                fresh = self._read_new(stop, block=not once)
                failures = 0
            except redis.RedisError as exc:
                group_ready = False
                if once:
                    raise LaafficError(f"intake: Redis failed: {one_line(exc)}; "
                                       "check REDIS_URL and that the server is up") from exc
                delay = REDIS_BACKOFF_S[min(failures, len(REDIS_BACKOFF_S) - 1)]
                failures += 1
                self.log.warning("intake.redis_error", error=one_line(exc),
                                 retry_in=delay)
                stop.wait(delay)
                continue
            if once and not reclaimed and not fresh:
                break
        self.log.info("intake.stopped", consumer=self.consumer)
        return 1 if once and self.left_pending else 0

    def _drain_own_history(self, stop: threading.Event) -> None:
        last = "0"
        while not stop.is_set():
            reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: last},
                                           count=READ_COUNT)
            entries = reply[0][1] if reply else []
            if not entries:
                return
            for entry_id, fields in entries:
                self.handle(entry_id, fields)
                last = entry_id

    def _reclaim(self, stop: threading.Event) -> int:
        """Entries idle longer than the threshold in any consumer (a dead one, or ours
        after a transient error) come to us."""
        start, count = "0-0", 0
        while not stop.is_set():
            reply = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                           self.settings.claim_idle_ms, start_id=start,
                                           count=READ_COUNT)
            start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if stop.is_set():
                    return count
                if fields is None:  # deleted from the stream (Redis 6.2): nothing to do
                    self.client.xack(self.stream, self.group, entry_id)
                    continue
                count += 1
                if not self._delivered_too_often(entry_id, fields):
                    self.handle(entry_id, fields)
            if start in (b"0-0", "0-0"):
                break
        return count

    def _read_new(self, stop: threading.Event, block: bool) -> int:
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                       count=READ_COUNT, block=BLOCK_MS if block else None)
        entries = reply[0][1] if reply else []
        for entry_id, fields in entries:
            if stop.is_set():
                break  # the rest stays pending for the next consumer
            self.handle(entry_id, fields)
        return len(entries)

    def _delivered_too_often(self, entry_id: bytes, fields: dict[bytes, bytes]) -> bool:
        info = self.client.xpending_range(self.stream, self.group, min=entry_id, max=entry_id,
                                          count=1)
        deliveries = int(info[0]["times_delivered"]) if info else 0
        if deliveries <= self.settings.max_deliveries:
            return False
        raw = fields.get(b"job", b"")
        self._dead(entry_id, raw, _job_id_of(raw),
                   f"delivered {deliveries} times without finishing (crash or persistent "
                   "error); see the intake logs")
        return True

    # -- one entry -----------------------------------------------------------------------

    def handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        """Submit one entry's job, dead-letter it, or leave it pending for a retry."""
        raw = fields.get(b"job")
        if raw is None:
            names = ", ".join(sorted(k.decode(errors="replace") for k in fields))
            self._dead(entry_id, orjson.dumps({k.decode(errors="replace"):
                                               v.decode(errors="replace")
                                               for k, v in fields.items()}),
                       None, f"the entry has no `job` field (fields: {names})")
            return
        job: Job | None = None
        try:
            job = parse_job(raw, self.settings.max_inline_contacts)
            config = job_config(job, self.settings.intake_root)
            source = (resolve_job_file(f"job {job.job_id!r}", job.file,
                                       self.settings.intake_root)
                      if job.file is not None else None)
        except LaafficError as exc:
            self._dead(entry_id, raw, job.job_id if job else None, one_line(exc))
            return
        if self._reserve(entry_id, job):
            self._submit(entry_id, raw, job, config, source)

    def _reserve(self, entry_id: bytes, job: Job) -> bool:
        """True when this entry may plan the job; otherwise it was acknowledged as a
        duplicate or left pending behind the entry already working on that job_id."""
        key = JOB_KEY_PREFIX + job.job_id
        mine = PENDING_PREFIX + entry_id.decode()
        self.client.set(key, mine, nx=True)
        current = (self.client.get(key) or b"").decode()
        if current == mine:
            return True
        if not current.startswith(PENDING_PREFIX):
            self.client.xack(self.stream, self.group, entry_id)
            self.log.info("job.duplicate", job_id=job.job_id, campaign=current)
            return False
        other = current.removeprefix(PENDING_PREFIX)
        if self.client.xpending_range(self.stream, self.group, min=other, max=other, count=1):
            self.left_pending += 1
            self.log.info("job.deferred", job_id=job.job_id)
            return False
        # The entry that reserved it is gone without a campaign: this one takes over.
        return bool(self._take_over(keys=[key], args=[current, mine]))

    def _submit(self, entry_id: bytes, raw: bytes, job: Job, config: CampaignConfig,
                source: Path | None) -> None:
        inline: Path | None = None
        try:
            if source is None:
                source = inline = write_inline_contacts(job)
            plan, outcome = submit_file(source, config, run_id=job.job_id, at=job.at,
                                        job_id=job.job_id)
        except LaafficError as exc:
            self._dead(entry_id, raw, job.job_id, one_line(exc))
            return
        except Exception as exc:  # not the job's fault: it stays pending
            self.left_pending += 1
            self.log.warning("job.retry", job_id=job.job_id,
                             error=f"{type(exc).__name__}: {one_line(exc)}")
            return
        finally:
            if inline is not None:
                inline.unlink(missing_ok=True)  # the numbers now live in the chunk store
        pipe = self.client.pipeline(transaction=True)
        pipe.set(JOB_KEY_PREFIX + job.job_id, outcome.campaign)
        pipe.xack(self.stream, self.group, entry_id)
        pipe.execute()
        self.log.info("job.accepted", job_id=job.job_id, campaign=outcome.campaign,
                      created=outcome.created, rows=plan.rows, accepted=plan.accepted,
                      rejected=plan.rejected, duplicates=plan.duplicates,
                      chunks=len(plan.chunks))

    def _dead(self, entry_id: bytes, raw: bytes, job_id: str | None, error: str) -> None:
        """Dead-letter and acknowledge in one transaction (and free the job_id if this
        entry had reserved it), so a crash cannot dead-letter an entry twice."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.dead_stream, {"job": raw, "error": error})
        pipe.xack(self.stream, self.group, entry_id)
        if job_id is not None:
            self._release(keys=[JOB_KEY_PREFIX + job_id],
                          args=[PENDING_PREFIX + entry_id.decode()], client=pipe)
        pipe.execute()
        self.log.warning("job.dead", job_id=job_id, error=error)


def run_intake(*, stream: str, group: str, consumer: str | None, once: bool) -> int:
    """Consume jobs until SIGTERM/SIGINT (or, with once, until nothing is left to read or
    reclaim). 0 when stopped cleanly; 1 when --once left entries pending for a retry."""
    settings = IntakeSettings.from_env()
    name = consumer or f"{socket.gethostname()}-{os.getpid()}"
    with stop_on_signals() as stop:
        intake = Intake(redis_client(), stream, group, name, settings, get_logger())
        return intake.run(stop, once)
