"""Do-not-call lists (`batch.suppress`): numbers normalised by the same rules as the
contact file, kept as one sorted int64 array for vectorised look-ups."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from ingest.columns import map_columns
from ingest.numbers import normalise_numbers
from ingest.readers import open_contacts


def load_suppression(paths: Iterable[Path], default_country_code: str | None) -> np.ndarray:
    parts: list[np.ndarray] = []
    for path in paths:
        table = open_contacts(path)
        phone = map_columns(table.columns, {}, source=str(path), sample=table.sample(),
                            has_header=table.has_header).phone
        for batch in table.batches():
            norm = normalise_numbers(batch.column(phone), default_country_code)
            valid = pc.filter(norm.digits, pc.is_null(norm.reason))
            parts.append(pc.cast(valid, "int64").to_numpy())
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(parts))
