"""Where laaffic-batch keeps its files (rejects, reports, the embedded Redis). A module of
its own so that a dry run finds the data dir without importing Redis."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = ".laaffic"


def data_dir() -> Path:
    """LAAFFIC_DATA_DIR, default ./.laaffic; created on demand."""
    directory = Path(os.environ.get("LAAFFIC_DATA_DIR") or DEFAULT_DATA_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory
