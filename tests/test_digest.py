"""The file digest that names a campaign: content decides it, and a changed file is
never mistaken for the one hashed before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.digest import file_digest, start_digest
from ingest.errors import InputError


def test_same_content_same_digest_in_any_place(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes(b"phone\n0701234567\n")
    second.write_bytes(b"phone\n0701234567\n")
    assert file_digest(first) == file_digest(second)


def test_changed_file_is_hashed_again(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"phone\n0701234567\n")
    before = start_digest(path)  # started early, as the command line does
    assert start_digest(path) is before  # planning picks up the same running digest
    first = before.result()
    path.write_bytes(b"phone\n0701234568\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert file_digest(path) != first


def test_unreadable_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.csv: cannot be read"):
        file_digest(tmp_path / "missing.csv")
