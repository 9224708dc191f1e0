"""Finding and connecting to Redis: REDIS_URL, the embedded default, clients, redaction."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from redis_support import answers, free_port, start_redis_server

from worker import connection
from worker.connection import data_dir, redact_url, redis_client, resolve_redis_url
from worker.embedded import ensure_embedded_redis, stop_embedded_redis

ROOT = Path(__file__).resolve().parent.parent
# Longer than plain redis-py rides out (Redis.from_url: no retries; Redis(): 10 retries, at
# most 5.3 s of backoff), well inside redis_client's (about 16 s on average, < 7.5 s once
# in 10^5).
REDIS_DOWN_S = 7.0
START_IN_CHILD = (
    "import sys; from pathlib import Path; from worker.embedded import ensure_embedded_redis;"
    "print(ensure_embedded_redis(Path(sys.argv[1])))"
)


@pytest.fixture
def embedded_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose embedded Redis, if any test starts one, is stopped afterwards.
    Deep enough that a unix socket path there would exceed the 107-byte limit."""
    directory = tmp_path / ("deep-" + "d" * 60) / ("data-" + "e" * 60)
    yield directory
    stop_embedded_redis(directory)


def test_embedded_redis_starts_and_is_reused(embedded_dir: Path) -> None:
    url = ensure_embedded_redis(embedded_dir)
    assert url.startswith("redis://127.0.0.1:")
    assert answers(url)
    assert (embedded_dir / "redis.url").read_text().strip() == url
    assert ensure_embedded_redis(embedded_dir) == url
    config = redis.Redis.from_url(url, decode_responses=True).config_get("*")
    assert config["appendonly"] == "yes" and config["appendfsync"] == "everysec"
    assert Path(config["dir"]) == embedded_dir.resolve()


def test_processes_racing_to_start_share_one_server(embedded_dir: Path) -> None:
    children = [
        subprocess.Popen([sys.executable, "-c", START_IN_CHILD, str(embedded_dir)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    urls = set()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        urls.add(out.strip())
    assert len(urls) == 1
    [url] = urls
    # The server outlives the processes that started it; this one finds and reuses it.
    assert answers(url)
    assert ensure_embedded_redis(embedded_dir) == url


def test_embedded_data_survives_stop_and_start(embedded_dir: Path) -> None:
    url = ensure_embedded_redis(embedded_dir)
    redis.Redis.from_url(url).set("kept", "yes")
    assert stop_embedded_redis(embedded_dir)
    assert not answers(url)
    assert not stop_embedded_redis(embedded_dir)
    restarted = ensure_embedded_redis(embedded_dir)
    assert redis.Redis.from_url(restarted).get("kept") == b"yes"


def test_a_port_taken_by_another_server_is_not_mistaken_for_ours(
    embedded_dir: Path, redis_url: str
) -> None:
    embedded_dir.mkdir(parents=True)
    (embedded_dir / "redis.url").write_text(redis_url.rsplit("/", 1)[0] + "\n")
    url = ensure_embedded_redis(embedded_dir)
    assert url != redis_url.rsplit("/", 1)[0]
    assert answers(url)


def test_resolve_redis_url_honours_redis_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:secret@cache.example:6380/2")
    monkeypatch.setenv("LAAFFIC_DATA_DIR", str(tmp_path / "data"))
    assert resolve_redis_url() == "redis://:secret@cache.example:6380/2"
    assert not (tmp_path / "data" / "redis.url").exists()
    assert capsys.readouterr().err == ""


def test_resolve_redis_url_without_redis_url_uses_embedded_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, embedded_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("LAAFFIC_DATA_DIR", str(embedded_dir))
    monkeypatch.setattr(connection, "_announced_urls", set())
    url = resolve_redis_url()
    assert resolve_redis_url() == url
    assert answers(url)
    assert capsys.readouterr().err == (
        f"laaffic-batch: REDIS_URL is unset; using the embedded Redis at {url} "
        f"(data in {embedded_dir})\n"
    )


def test_data_dir_defaults_to_dot_laaffic_and_is_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LAAFFIC_DATA_DIR", raising=False)
    assert data_dir() == Path(".laaffic") and (tmp_path / ".laaffic").is_dir()
    monkeypatch.setenv("LAAFFIC_DATA_DIR", str(tmp_path / "x" / "y"))
    assert data_dir() == tmp_path / "x" / "y" and (tmp_path / "x" / "y").is_dir()


def test_redis_client_authenticates_with_password_from_url(tmp_path: Path) -> None:
    port = free_port()
    server = start_redis_server(tmp_path, port, password="s3cret")
    try:
        assert redis_client(f"redis://:s3cret@127.0.0.1:{port}/0").ping()
        started = time.monotonic()
        with pytest.raises(redis.AuthenticationError) as refused:
            redis_client(f"redis://:wrong@127.0.0.1:{port}/0").ping()
        assert "wrong" not in str(refused.value)
        # Refused at once, not after the ~20 s of backoff that connection errors get.
        assert time.monotonic() - started < 5
    finally:
        server.terminate()
        server.wait(10)


def test_redis_client_rides_out_a_redis_restart(tmp_path: Path) -> None:
    """A call made while Redis is down is retried until Redis is back; a plain redis.Redis
    fails the same call (connection refused) before then."""
    port = free_port()
    persist = ("--appendonly", "yes", "--appendfsync", "always")  # the key outlives the restart
    server = start_redis_server(tmp_path, port, *persist)
    client = redis_client(f"redis://127.0.0.1:{port}/0")
    try:
        client.set("k", "v")
        server.terminate()
        server.wait(10)
        with ThreadPoolExecutor(1) as pool:
            read = pool.submit(client.get, "k")
            time.sleep(REDIS_DOWN_S)
            assert not read.done()  # still retrying, not failed
            server = start_redis_server(tmp_path, port, *persist)
            assert read.result(timeout=30) == b"v"
    finally:
        client.close()
        server.terminate()
        server.wait(10)


def test_redis_client_uses_resolved_url_when_none_given(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    client = redis_client()
    client.set("through-env", "1")
    assert redis.Redis.from_url(redis_url).get("through-env") == b"1"


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:s3cret@host:6379/0", "redis://:****@host:6379/0"),
    ("rediss://user:p%40ss@cache.example.com:6380/2", "rediss://user:****@cache.example.com:6380/2"),
    ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
    ("redis://host/1?password=s3cret&db=1", "redis://host/1?password=****&db=1"),
])
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown
