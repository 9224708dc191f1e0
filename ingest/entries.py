"""Accepted entries between planning and storing: an Arrow IPC file on disk in file order,
so memory never holds the whole list, and the numberInfoList JSON for one chunk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ingest.numbers import EMPTY_TEXT, arrow_array, arrow_strings, flag_rows, utf8_bytes

# Bytes JSON strings must escape: control characters, the quote and the backslash.
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


def entries_schema(text_keys: list[str]) -> pa.Schema:
    # Texts are nullable: null means "omit from the entry", never "" or "nan".
    return pa.schema([("calleeNumber", pa.string())] + [(k, pa.string()) for k in text_keys])


def read_entries(path: Path, start: int, count: int) -> pa.Table:
    """The accepted entries [start, start+count) from an entries file (memory-mapped)."""
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return table.slice(start, count)


def entries_json(table: pa.Table) -> bytes:
    """The JSON array for numberInfoList: one object per entry, empty texts left out.

    Byte for byte what orjson.dumps gives for the list of dicts, built column-wise with
    Arrow string kernels (a Python dict per entry cost most of a chunk's submit time)."""
    if table.num_rows == 0:
        return b"[]"
    number = _json_string(table.column("calleeNumber").combine_chunks())
    parts: list[pa.Array | pa.Scalar] = [_text('{"calleeNumber":"'), number, _QUOTE_TEXT]
    for name in table.column_names:
        if name == "calleeNumber":
            continue
        text = table.column(name).combine_chunks()
        present = pc.fill_null(pc.greater(pc.binary_length(text), _ZERO), _FALSE)
        member = pc.binary_join_element_wise(_text(f',"{_json_key(name)}":"'),
                                             _json_string(text), _QUOTE_TEXT, EMPTY_TEXT)
        parts.append(pc.if_else(present, member, EMPTY_TEXT))
    parts.append(_text("},"))
    # Each object with a comma after it.
    objects = pc.binary_join_element_wise(*parts, EMPTY_TEXT)
    offsets, body = utf8_bytes(objects)
    return b"[" + body[: offsets[-1] - 1].tobytes() + b"]"


def _text(value: str) -> pa.Scalar:
    # (Not pa.scalar(value): pyarrow would import pandas to check the value's type, a fifth
    # of a second and 30 MB in every worker process for nothing.)
    return arrow_strings([value])[0]


_QUOTE_TEXT = _text('"')
_ZERO = arrow_array(np.zeros(1, dtype=np.int32))[0]
_FALSE = arrow_array(np.zeros(1, dtype=bool))[0]


def _json_key(name: str) -> str:
    return orjson.dumps(name).decode()[1:-1]


def _json_string(values: pa.Array) -> pa.Array:
    """Each value as the inside of a JSON string (orjson's escaping); null stays null.
    Only values with a byte that needs escaping go through orjson, one by one."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    offsets, data = utf8_bytes(values)
    special = np.flatnonzero((data < 0x20) | (data == _QUOTE) | (data == _BACKSLASH))
    if not special.size:
        return values
    mask = arrow_array(flag_rows(special, offsets))
    escaped = [orjson.dumps(value).decode()[1:-1] for value in values.filter(mask).to_pylist()]
    return pc.replace_with_mask(values, mask, arrow_strings(escaped).cast(values.type))
