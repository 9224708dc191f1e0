"""Helpers for tests that run the submission pipeline against a real Redis and the sandbox."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from laaffic_batch.sandbox import SandboxServer
from worker.shutdown import stop_group

API_KEY = "sandbox-key"
API_SECRET = "sandbox-secret-do-not-leak-7f3a"
CLI = [sys.executable, "-m", "laaffic_batch.cli"]
# The keys of a campaign's view (Ledger.view, `submit --json`) and of each chunk in it.
CONTRACT_KEYS = {"campaign", "rows", "accepted", "rejected", "duplicates", "rejects_file",
                 "chunks"}
CHUNK_KEYS = {"index", "task_name", "count", "state", "key_id", "attempts", "error"}


def write_config(path: Path, *, name: str = "test", chunk_size: int = 200_000,
                 extra_batch: str = "", columns: str = "") -> Path:
    path.write_text(textwrap.dedent(f"""\
        [task]
        appId = "2Xql9RBI"
        agentId = 41
        maxRingingTime = 60

        [batch]
        name = "{name}"
        chunk_size = {chunk_size}
        default_country_code = "46"
        {extra_batch}

        [columns]
        {columns}
        """))
    return path


def write_contacts(path: Path, count: int, start: int = 0) -> Path:
    lines = ["phone,first_name"]
    lines += [f"+46 70 {700000 + start + i:07d},Name{i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def pipeline_env(redis_url: str, sandbox: SandboxServer, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "REDIS_URL": redis_url,
        "LAAFFIC_BASE_URL": sandbox.url,
        "LAAFFIC_API_KEY": API_KEY,
        "LAAFFIC_API_SECRET": API_SECRET,
        "LAAFFIC_DATA_DIR": str(data_dir),
        # fast retries for tests; production defaults are seconds to minutes
        "LAAFFIC_RETRY_MIN_MS": "50",
        "LAAFFIC_RETRY_MAX_MS": "400",
        "LAAFFIC_BUSY_RETRY_MS": "200",
        "LAAFFIC_CAP_WAIT_MS": "50",
        "LAAFFIC_READ_TIMEOUT": "10",
    })
    return env


def run_cli(args: list[str], env: dict[str, str],
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def start_cli(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`laaffic-batch <args>` in its own session, so stop_group reaches every process it
    starts; stdout and stderr appended to log_path."""
    with log_path.open("ab") as log:
        return subprocess.Popen([*CLI, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


@contextmanager
def running_cli(args: list[str], env: dict[str, str],
                log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """start_cli(args, ...), stopped with stop_group on exit."""
    proc = start_cli(args, env, log_path)
    try:
        yield proc
    finally:
        stop_group(proc)


def running_worker(env: dict[str, str], log_path: Path, processes: int = 1,
                   threads: int = 2) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`laaffic-batch worker` in its own process group, logs to log_path; stopped on exit."""
    return running_cli(["worker", "--processes", str(processes), "--threads", str(threads)],
                       env, log_path)


def wait_for(predicate: Any, timeout: float = 60, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


class LogCapture:
    """A structlog-compatible logger that keeps the rendered events, run through the
    same redaction processor the real configuration uses."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.text = io.StringIO()

    def _log(self, level: str, event: str, **fields: Any) -> None:
        from laaffic_batch.logs import redact

        record = redact(None, level, {"event": event, "level": level, **fields})
        self.events.append(record)
        self.text.write(repr(record) + "\n")

    def info(self, event: str, **fields: Any) -> None:
        self._log("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log("error", event, **fields)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]


def log_events(text: str, name: str) -> list[dict[str, Any]]:
    """The structlog JSON events called `name` in a subprocess's output (other lines skipped)."""
    import json

    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def open_test_campaign(tmp_path: Path, client: Any, rows: int = 30, chunk_size: int = 10,
                       extra_batch: str = "", columns: str = "") -> str:
    """Plan `rows` generated contacts and open the campaign in the ledger (no queue)."""
    from ingest.config import load_config
    from ingest.plan import plan_file
    from worker.submission import open_campaign

    config = load_config(write_config(tmp_path / "c.toml", chunk_size=chunk_size,
                                      extra_batch=extra_batch, columns=columns))
    plan = plan_file(write_contacts(tmp_path / "contacts.csv", rows), config,
                     data_dir=tmp_path / "data", keep_entries=True)
    assert open_campaign(client, plan, config)
    return plan.campaign


def make_submitter(client: Any, sandbox: SandboxServer, log: LogCapture,
                   webhook: Any = None) -> Any:
    """A ChunkSubmitter talking to the sandbox, with fast retries."""
    from worker.chunk_submitter import ChunkSubmitter, ThreadLocalClients
    from worker.client import Credentials, LaafficClient
    from worker.policy import RetryPolicy

    credentials = Credentials(API_KEY, API_SECRET)
    clients = ThreadLocalClients(lambda: LaafficClient(sandbox.url, credentials,
                                                       read_timeout=10))
    policy = RetryPolicy(backoff_min_ms=10, backoff_max_ms=50, busy_ms=20, cap_wait_ms=10)
    return ChunkSubmitter(client, clients, policy, lease_seconds=30, log=log, webhook=webhook)
