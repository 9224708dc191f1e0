"""The ingest baseline: pyarrow alone parsing a CSV with every column as text, nothing else.

Run as its own process by bench/run.py: `python bench/pyarrow_parse.py FILE MODE`, MODE
`read_csv` (whole table, multi-threaded) or `open_csv` (streamed batches, as a bounded-memory
reader would). Prints {"mode", "seconds", "rows"}; seconds cover the parse only."""

from __future__ import annotations

import csv
import sys
import time

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv


def parse(path: str, mode: str) -> tuple[float, int]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f))
    convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header})
    started = time.perf_counter()
    if mode == "read_csv":
        rows = pacsv.read_csv(path, convert_options=convert).num_rows
    elif mode == "open_csv":
        rows = 0
        with pacsv.open_csv(path, convert_options=convert) as reader:
            for batch in reader:
                rows += batch.num_rows
    else:
        raise SystemExit(f"unknown mode {mode!r}: read_csv or open_csv")
    return time.perf_counter() - started, rows


def main() -> int:
    path, mode = sys.argv[1], sys.argv[2]
    seconds, rows = parse(path, mode)
    sys.stdout.write(orjson.dumps({"mode": mode, "seconds": seconds, "rows": rows}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
