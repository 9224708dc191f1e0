"""Finding and connecting to Redis: REDIS_URL, the embedded default, clients, redaction."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from conftest import start_redis_server

from worker import connection
from worker.connection import data_dir, redact_url, redis_client, resolve_redis_url
from worker.embedded import ensure_embedded_redis, stop_embedded_redis

ROOT = Path(__file__).resolve().parent.parent
START_IN_CHILD = (
    "import sys; from pathlib import Path; from worker.embedded import ensure_embedded_redis;"
    "print(ensure_embedded_redis(Path(sys.argv[1])))"
)


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_redis_client_authenticates_with_password_from_url(tmp_path: Path) -> None:
    port = _free_port()
    server = start_redis_server(tmp_path, port)  # a server this test owns, then locked
    try:
        redis.Redis(port=port).config_set("requirepass", "s3cret")
        assert redis_client(f"redis://:s3cret@127.0.0.1:{port}/0").ping()
        with pytest.raises(redis.AuthenticationError) as refused:
            redis_client(f"redis://:wrong@127.0.0.1:{port}/0").ping()
        assert "wrong" not in str(refused.value)
    finally:
        server.terminate()
        server.wait(10)


def test_redis_client_survives_a_dropped_connection(redis_url: str) -> None:
    client = redis_client(redis_url)
    client.set("k", "v")
    redis.Redis.from_url(redis_url).client_kill_filter(_id=client.client_id())
    assert client.get("k") == b"v"


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
