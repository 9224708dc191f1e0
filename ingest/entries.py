"""Accepted entries between planning and storing: an Arrow IPC file on disk in file order,
so memory never holds the whole list, and the numberInfoList JSON for one chunk."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa

TEXT_KEYS = tuple(f"text{i}" for i in range(1, 11))


def entries_schema(text_keys: list[str]) -> pa.Schema:
    # Texts are nullable: null means "omit from the entry", never "" or "nan".
    return pa.schema([("calleeNumber", pa.string())] + [(k, pa.string()) for k in text_keys])


def read_entries(path: Path, start: int, count: int) -> pa.Table:
    """The accepted entries [start, start+count) from an entries file (memory-mapped)."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return table.slice(start, count)


def entries_json(table: pa.Table) -> bytes:
    """The JSON array for numberInfoList: one object per entry, empty texts left out."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    numbers = columns.pop("calleeNumber")
    if not columns:
        return orjson.dumps([{"calleeNumber": n} for n in numbers])
    names = list(columns)
    values = [columns[name] for name in names]
    entries = []
    for i, number in enumerate(numbers):
        entry = {"calleeNumber": number}
        for name, column in zip(names, values, strict=True):
            text = column[i]
            if text:
                entry[name] = text
        entries.append(entry)
    return orjson.dumps(entries)
