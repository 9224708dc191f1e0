"""Bad input through the real CLI: one clear line on stderr, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOOD_CONFIG = '[task]\nappId = "app"\nagentId = 41\n[batch]\nname = "t"\n'


def _dry_run(tmp_path: Path, contacts: Path, config_text: str = GOOD_CONFIG
             ) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "campaign.toml"
    config.write_text(config_text)
    env = {**os.environ, "LAAFFIC_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "laaffic_batch.cli", "submit", str(contacts),
                           "--config", str(config), "--dry-run"],
                          capture_output=True, text=True, env=env, timeout=60)


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
