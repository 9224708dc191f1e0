"""What every bench section needs: paths, generated inputs, timed subprocesses with their
own peak RSS, a Redis database the bench owns, and a sandbox API process."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# Starting a redis-server and stopping process groups: the tests' pytest-free helpers.
sys.path.append(str(ROOT / "tests"))
from pipeline_support import stop_group  # noqa: E402  (needs the path above)
from redis_support import answers, free_port, start_redis_server  # noqa: E402

DATA_DIR = BENCH_DIR / "data"
PYTHON = sys.executable
CLI = [PYTHON, "-m", "laaffic_batch.cli"]
CONSOLE_SCRIPT = Path(PYTHON).with_name("laaffic-batch")
SEED = 7
API_KEY = "bench-key"
API_SECRET = "bench-secret"
# The same owner key the test fixtures claim databases with, so a bench and a test run
# at the same time never flush each other's database.
REDIS_OWNER_KEY = "laaffic-test:owner"
PREFERRED_DBS = (14, 15, 13, 12, 11, 10, 9, 8)

BENCH_CONFIG = """\
[task]
appId = "bench"
agentId = 41

[batch]
name = "{name}"
default_country_code = "46"
{extra}

[columns]
phone = "phone"
text1 = "first_name"
text2 = "city"
"""


def write_config(path: Path, name: str = "bench", extra: str = "") -> Path:
    path.write_text(BENCH_CONFIG.format(name=name, extra=extra))
    return path


def sample_file(rows: int, seed: int = SEED) -> Path:
    """The messy sample CSV for rows+seed under bench/data/, generated once and reused."""
    from laaffic_batch.sample import write_sample_contacts

    path = DATA_DIR / f"contacts-{rows}-seed{seed}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        write_sample_contacts(partial, rows, seed)
        partial.replace(path)  # a killed bench never leaves a half file to be reused
    return path


def clean_chunk_file(count: int = 200_000) -> Path:
    """A CSV of exactly `count` distinct valid numbers with two texts: one full chunk."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = DATA_DIR / f"chunk-{count}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(SEED)
        numbers = 46_700_000_000 + rng.choice(99_999_999, size=count, replace=False)
        names = pa.array(["Anna", "Erik", "Björn", "Åsa"]).take(
            pa.array(rng.integers(0, 4, size=count)))
        cities = pa.array(["Stockholm", "Göteborg", "Malmö"]).take(
            pa.array(rng.integers(0, 3, size=count)))
        table = pa.table({"phone": pa.array(numbers.astype(str)), "first_name": names,
                          "city": cities})
        partial = path.with_suffix(".partial")
        pacsv.write_csv(table, str(partial))
        partial.replace(path)
    return path


@dataclass(frozen=True)
class Timed:
    wall: float  # seconds from spawn to exit
    max_rss: int  # bytes, this child's own peak
    returncode: int
    stdout: str
    stderr: str
    cpu: float = 0.0  # user + system seconds of this child

    def check(self, what: str) -> Timed:
        if self.returncode != 0:
            tail = self.stderr.strip().splitlines()[-3:]
            raise RuntimeError(f"{what} exited {self.returncode}: {' | '.join(tail)}")
        return self


def run_timed(argv: list[str], env: dict[str, str] | None = None,
              cwd: Path | None = None, timeout: float = 1800) -> Timed:
    """Run argv to completion; its wall time and its own peak RSS (wait4 reports the
    rusage of exactly this child, unlike RUSAGE_CHILDREN, which keeps the maximum over
    every child ever waited for)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Timed(wall, usage.ru_maxrss * 1024, proc.returncode,
                     out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                     usage.ru_utime + usage.ru_stime)


def best_of(times: int, measure: Callable[[], Timed]) -> tuple[Timed, list[Timed]]:
    """The fastest of `times` runs (the machine is shared and noisy) and all of them."""
    runs = [measure() for _ in range(times)]
    return min(runs, key=lambda t: t.wall), runs


@contextlib.contextmanager
def owned_redis(work: Path) -> Iterator[str]:
    """A URL of a Redis database this bench owns, empty, flushed again at the end. Uses the
    server on 127.0.0.1:6379, or starts redis-server on a free port when that is silent."""
    server = "redis://127.0.0.1:6379"
    proc: subprocess.Popen[bytes] | None = None
    if not answers(server):
        port = free_port()
        proc = start_redis_server(work, port, "--appendonly", "no")
        server = f"redis://127.0.0.1:{port}"
    client: redis.Redis | None = None
    try:
        for db in PREFERRED_DBS:
            candidate = redis.Redis.from_url(f"{server}/{db}")
            if candidate.set(REDIS_OWNER_KEY, f"bench-{os.getpid()}", nx=True, ex=3600):
                client = candidate
                break
            candidate.close()
        if client is None:
            raise RuntimeError(f"no free Redis database among {PREFERRED_DBS} on {server}")
        client.flushdb()
        client.set(REDIS_OWNER_KEY, f"bench-{os.getpid()}", ex=3600)
        yield f"{server}/{client.connection_pool.connection_kwargs['db']}"
    finally:
        if client is not None:
            client.flushdb()
            client.close()
        if proc is not None:
            proc.terminate()
            proc.wait(10)


_SEND_LINE = re.compile(r"POST /v3/voice/group/call/send/agent -> \S+ .*?task=(\S+).* (\d+)ms$")


class SandboxProcess:
    """`laaffic-batch sandbox` in its own process (so its JSON parsing never shares a GIL
    with what is measured), its log kept for the per-send handling times."""

    def __init__(self, work: Path) -> None:
        self.log_path = work / "sandbox.log"
        self.out_path = work / "sandbox.out"
        with self.log_path.open("wb") as log, self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [*CLI, "sandbox", "--port", str(free_port()), "--api-key", API_KEY,
                 "--api-secret", API_SECRET], stdout=out, stderr=log, start_new_session=True)
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://\S+)", self.out_path.read_text())
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError(f"the sandbox exited: {self.log_path.read_text()[-500:]}")
            time.sleep(0.05)
        raise RuntimeError("the sandbox did not start within 30 s")

    def admin(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         data=b"{}" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=60) as answer:
            return orjson.loads(answer.read())

    def stats(self) -> dict[str, Any]:
        return self.admin("GET", "/_sandbox/stats")

    def reset(self) -> None:
        self.admin("POST", "/_sandbox/reset")

    def send_handling_ms(self) -> dict[str, int]:
        """Per task name: milliseconds the sandbox spent on its send (read, parse, check)."""
        handled: dict[str, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            found = _SEND_LINE.search(line)
            if found:
                handled[found.group(1)] = int(found.group(2))
        return handled

    def handling_s(self, task_name: str, timeout: float = 5.0) -> float | None:
        """Seconds the sandbox spent on the send of task_name; its log line is written
        just after the answer, so wait a moment for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            handled = self.send_handling_ms().get(task_name)
            if handled is not None:
                return handled / 1000
            time.sleep(0.02)
        return None

    def stop(self) -> None:
        stop_group(self.proc)


def base_env(work: Path, redis_url: str | None = None, sandbox_url: str | None = None,
             ) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"LAAFFIC_DATA_DIR": str(work / "laaffic-data"),
                "LAAFFIC_API_KEY": API_KEY, "LAAFFIC_API_SECRET": API_SECRET})
    if redis_url:
        env["REDIS_URL"] = redis_url
    if sandbox_url:
        env["LAAFFIC_BASE_URL"] = sandbox_url
    return env


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:.0f} MiB"
