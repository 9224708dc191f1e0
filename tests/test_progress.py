"""Progress on stderr: bars for reading the file and storing its chunks on a terminal,
nothing at all when stderr is a pipe or a log."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from pipeline_support import CLI, run_cli, write_config, write_contacts


def _submit_args(tmp_path: Path) -> list[str]:
    contacts = write_contacts(tmp_path / "contacts.csv", 5_000)
    config = write_config(tmp_path / "campaign.toml", chunk_size=1_000)
    return ["submit", str(contacts), "--config", str(config)]


def _env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    # Shown from the start (the default waits a second, longer than this small file takes).
    return {**os.environ, "REDIS_URL": redis_url, "LAAFFIC_DATA_DIR": str(tmp_path / "data"),
            "LAAFFIC_PROGRESS_AFTER_S": "0", "COLUMNS": "120"}


def _stderr_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*CLI, *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the command has closed the terminal
            break
        if not data:
            break
        seen.append(data)
    os.close(leader)
    return proc.wait(timeout=120), b"".join(seen).decode(errors="replace")


def test_a_terminal_sees_reading_and_storing_bars(tmp_path: Path, redis_url: str) -> None:
    code, stderr = _stderr_on_a_terminal(_submit_args(tmp_path), _env(tmp_path, redis_url))
    assert code == 0, stderr
    assert "reading contacts.csv" in stderr
    assert "storing chunks" in stderr and "5/5 chunks" in stderr
    assert "5 chunk(s) queued" in stderr


def test_a_pipe_sees_only_the_outcome(tmp_path: Path, redis_url: str) -> None:
    result = run_cli(_submit_args(tmp_path), _env(tmp_path, redis_url))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("5 chunk(s) queued"), result.stderr
