"""Do-not-call lists (`batch.suppress`): numbers normalised by the same rules as the
contact file, kept as one sorted int64 array for vectorised look-ups."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ingest.columns import map_columns
from ingest.numbers import normalise_to_int64
from ingest.readers import open_contacts


def load_suppression(paths: Iterable[Path], default_country_code: str | None) -> np.ndarray:
    parts: list[np.ndarray] = []
    for path in paths:
        table = open_contacts(path)
        phone = map_columns(table.columns, {}, source=str(path), sample=table.sample(),
                            has_header=table.has_header).phone
        for batch in table.batches(columns=[phone]):
            result = normalise_to_int64(batch.column(phone), default_country_code)
            parts.append(result.numbers[result.codes == 0])
    if not parts:
        return np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(parts))
