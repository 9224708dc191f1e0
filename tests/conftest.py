"""Shared fixtures. Tests that touch Redis use a real server: the one at
TEST_REDIS_URL (default redis://127.0.0.1:6379) when it answers, otherwise a
redis-server this session starts on a free port. Each test owns one database
(claimed with SET NX, so parallel test runs never share one) and flushes only it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from hypothesis import settings
from redis_support import answers, free_port, start_redis_server

# Timings on the shared 2-core machine are noisy: no per-example deadlines.
settings.register_profile("laaffic", deadline=None, print_blob=True)
settings.load_profile("laaffic")

OWNER_KEY = "laaffic-test:owner"


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    if answers(url):
        yield url
        return
    port = free_port()
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
