"""Bad input through the real CLI: one clear line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pipeline_support import run_cli

from laaffic_batch import cli

GOOD_CONFIG = '[task]\nappId = "app"\nagentId = 41\n[batch]\nname = "t"\n'


def _dry_run(tmp_path: Path, contacts: Path, config_text: str = GOOD_CONFIG
             ) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "campaign.toml"
    config.write_text(config_text)
    env = {**os.environ, "LAAFFIC_DATA_DIR": str(tmp_path / "data")}
    return run_cli(["submit", str(contacts), "--config", str(config), "--dry-run"], env,
                   timeout=60)


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("laaffic-batch: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("empty.csv", b"", "empty.csv"),
    ("header.csv", b"phone,name\n", "header.csv"),
    ("nophone.csv", b"name,city\nAnna,Lund\n", "[columns].phone"),
    ("garbage.csv", bytes(range(256)) * 40, "garbage.csv"),
    ("contacts.pdf", b"%PDF-1.4", "contacts.pdf"),
    ("ambiguous.csv", b"phone,mobile\n46701234567,46701234568\n", "mobile"),
    ("ragged.csv", b"phone,name\n46701234567\n46701234568,a,b,c\n46701234569\n",
     "do not split consistently"),
])
def test_bad_contact_files(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    _assert_one_line_error(_dry_run(tmp_path, path), needle)


def test_missing_contact_file(tmp_path: Path) -> None:
    _assert_one_line_error(_dry_run(tmp_path, tmp_path / "nowhere.csv"), "nowhere.csv")


@pytest.mark.parametrize(("config", "needle"), [
    (GOOD_CONFIG.replace("agentId = 41", "agentId = 41\nmaxRingingTime = 5"),
     "task.maxRingingTime"),
    (GOOD_CONFIG + "chunk_size = 250000\n", "batch.chunk_size"),
    (GOOD_CONFIG + "chunk_sise = 1000\n", "chunk_size"),
    (GOOD_CONFIG.replace('appId = "app"\n', ""), "task.appId"),
    ("[task\nappId=", "campaign.toml"),
])
def test_bad_configs_are_refused_before_reading(tmp_path: Path, config: str,
                                                needle: str) -> None:
    contacts = tmp_path / "in.csv"
    contacts.write_text("phone\n46701234567\n")
    _assert_one_line_error(_dry_run(tmp_path, contacts, config), needle)


@pytest.fixture
def refusing_redis() -> Iterator[int]:
    """A port whose server answers every Redis command with an error reply: a Redis failure
    the client does not retry (a closed port would be retried for ~20 s)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):  # the client may reset it
            while data := connection.recv(65536):
                # one RESP array (a command) per line that starts with '*'
                commands = sum(line.startswith(b"*") for line in data.split(b"\r\n"))
                connection.sendall(b"-ERR this server refuses everything\r\n" * commands)

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_redis_failure_is_one_line_naming_the_redacted_url(
        tmp_path: Path, refusing_redis: int) -> None:
    env = {**os.environ, "LAAFFIC_DATA_DIR": str(tmp_path / "data"),
           "REDIS_URL": f"redis://:hunter2@127.0.0.1:{refusing_redis}/0"}
    result = run_cli(["status", "some-campaign"], env, timeout=60)
    assert result.returncode == 2
    _assert_one_line_error(result, f"Redis at redis://:****@127.0.0.1:{refusing_redis}/0",
                           "refuses everything", "check REDIS_URL")
    assert "hunter2" not in result.stderr


def test_a_redis_failure_without_redis_url_names_the_embedded_one_and_starts_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(args: object) -> int:
        raise redis.ConnectionError("simulated")

    def no_embedded(directory: Path) -> str:
        raise AssertionError("the error handler must not start the embedded Redis")

    import worker.connection

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("LAAFFIC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cli, "configure_process", lambda: None)  # keep this process's env
    monkeypatch.setattr(cli, "cmd_status", failing)
    monkeypatch.setattr(worker.connection, "ensure_embedded_redis", no_embedded)
    assert cli.main(["status", "some-campaign"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"laaffic-batch: error: the embedded Redis in {tmp_path / 'data'} failed: "
                     "simulated; check REDIS_URL (host, password, TLS) and that the server "
                     "is running"]
