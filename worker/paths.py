"""Where laaffic-batch keeps its files (rejects, reports, the embedded Redis) and how it
replaces them. A module of its own so that a dry run finds the data dir without importing
Redis."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import orjson

DEFAULT_DATA_DIR = ".laaffic"


def data_dir() -> Path:
    """LAAFFIC_DATA_DIR, default ./.laaffic; created on demand."""
    directory = Path(os.environ.get("LAAFFIC_DATA_DIR") or DEFAULT_DATA_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def replace_file(path: Path, data: bytes) -> None:
    """Write path in one step: readers see the old or the new file, never half of one."""
    # A unique temporary name per writer: two writers never interleave in one file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_json_file(path: Path, obj: object) -> None:
    """obj as indented JSON (one trailing newline), written with replace_file."""
    replace_file(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
