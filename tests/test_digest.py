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
    # Changed while that digest is still on record (not yet taken by result()): the
    # changed file must not be mistaken for it.
    path.write_bytes(b"phone\n0701234568\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    after = start_digest(path)
    assert after is not before
    assert after.result() != before.result()


def test_a_failed_plan_leaves_no_digest_behind(tmp_path: Path) -> None:
    # A long-running watcher or intake must not keep one running digest per failed file.
    from ingest.config import load_config
    from ingest.digest import _running
    from ingest.plan import plan_file

    path = tmp_path / "a.csv"  # a ragged row past the first block read: fails mid-stream
    path.write_bytes(b"phone,name\n" + b"46701234567,A\n" * 150_000 + b"46701234567,A,B\n")
    config = tmp_path / "c.toml"
    config.write_text('[task]\nappId = "a"\nagentId = 1\n[batch]\nname = "t"\n')
    with pytest.raises(InputError, match="fields"):
        plan_file(path, load_config(config), data_dir=tmp_path / "data")
    assert not [key for key in _running if key[0] == str(path.resolve())]
