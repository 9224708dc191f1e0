"""Sample contact lists with the messy mix a CRM export has, for the demo and `make bench`:
formatting noise (spaces, dashes, brackets, +46 / 0046 / national 0 forms), about 2%
invalid values, about 3% duplicates written differently, two text columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

FIRST_NAMES = ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Sara", "Anders", "Eva",
               "Mohammed", "Li", "Björn", "Åsa", "Zoë", "Nils", "Ingrid"]
CITIES = ["Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås", "Örebro", "Linköping",
          "Helsingborg", "Jönköping", "Norrköping"]
INVALID = ["", "n/a", "123", "call later", "4.67012E+10", "+46 70", "0", "46-70-ABC-12"]
BATCH_ROWS = 1_000_000


def _formatted(nsn: pa.Array, style: np.ndarray) -> pa.Array:
    """Write 9-digit Swedish mobile numbers (7XXXXXXXX) in one of five styles each."""
    def part(a: int, b: int | None = None) -> pa.Array:
        return pc.utf8_slice_codeunits(nsn, a, b if b is not None else 9)

    join = pc.binary_join_element_wise
    styles = [
        join("46", nsn, ""),
        join("+46 ", part(0, 2), " ", part(2, 5), " ", part(5), ""),
        join("0", part(0, 2), "-", part(2, 5), " ", part(5), ""),
        join("0046", nsn, ""),
        join("(0", part(0, 2), ") ", part(2), ""),
    ]
    out = styles[0]
    for i, values in enumerate(styles[1:], start=1):
        out = pc.if_else(pa.array(style == i), values, out)
    return out


def _batch(rng: np.random.Generator, start: int, rows: int) -> pa.Table:
    nsn_int = rng.integers(700_000_000, 799_999_999, size=rows, dtype=np.int64)
    # ~3% of rows repeat an earlier row's number (in another style, usually).
    positions = np.flatnonzero(rng.random(rows) < 0.03)
    nsn_int[positions] = nsn_int[(rng.random(len(positions)) * positions).astype(np.int64)]
    nsn = pc.cast(pa.array(nsn_int), pa.string())
    phone = _formatted(nsn, rng.integers(0, 5, size=rows))
    invalid = rng.random(rows) < 0.02
    bad = pa.array(INVALID).take(pa.array(rng.integers(0, len(INVALID), size=rows)))
    phone = pc.if_else(pa.array(invalid), bad, phone)
    names = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), size=rows)))
    cities = pa.array(CITIES).take(pa.array(rng.integers(0, len(CITIES), size=rows)))
    ids = pa.array(np.arange(start + 1, start + rows + 1))
    return pa.table({"customer_id": ids, "phone": phone, "first_name": names, "city": cities})


def write_sample_contacts(path: Path, rows: int, seed: int = 7) -> Path:
    """A CSV of `rows` contacts; the same seed gives the same file."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("customer_id", pa.int64()), ("phone", pa.string()),
                        ("first_name", pa.string()), ("city", pa.string())])
    options = pacsv.WriteOptions(quoting_style="none")
    with pacsv.CSVWriter(str(path), schema, write_options=options) as writer:
        for start in range(0, rows, BATCH_ROWS):
            writer.write_table(_batch(rng, start, min(BATCH_ROWS, rows - start)))
    return path
