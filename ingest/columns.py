"""Which source column holds the phone number, and which feed the API's text1..text10.

Column names come from the file's header or, without one, are generated as column1, column2, ...
The phone column is the configured one ([columns].phone) or is detected by header name, or,
without a header, by which column's values look like phone numbers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa

from ingest.config import TEXT_KEYS
from ingest.errors import ConfigError, InputError

# Header names (after header_key) that mean "the number to call".
PHONE_HEADER_KEYS = frozenset({
    "phone", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobilephone", "mobileno",
    "msisdn", "number", "tel", "telephone", "telno", "cell", "cellphone", "calleenumber",
})
# Share of a no-header column's non-empty sample values that must look like phone numbers.
PHONE_SHARE = 0.8
DELIMITERS = (",", ";", "\t", "|")  # the ones text files are split on, most usual first
_LISTED_NAMES = 20

_PHONE_PUNCTUATION = re.compile(r"[\s+\-./()\[\]]")
_HEADER_NOISE = re.compile(r"[\s_\-.]")


@dataclass(frozen=True)
class ColumnMap:
    """Source columns to read: the phone number and the API's text1..text10 fields."""

    phone: str
    texts: dict[str, str]  # "text1".."text10" -> source column name


def looks_like_phone(value: str) -> bool:
    """Mostly digits, with at least 6 of them, once phone punctuation is removed."""
    compact = _PHONE_PUNCTUATION.sub("", value)
    digits = sum(ch.isdecimal() for ch in compact)
    return digits >= 6 and digits >= PHONE_SHARE * len(compact)


def header_key(name: str) -> str:
    """A header name compared loosely: width-folded (NFKC), case-folded, no spaces/_/-/."""
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", name).casefold())


def generated_names(count: int) -> list[str]:
    """The names given to the columns of a file without a header row."""
    return [f"column{i}" for i in range(1, count + 1)]


def unique_column_names(raw: Sequence[str]) -> list[str]:
    """Header cells made usable as names: stripped; a blank one becomes "column<position>";
    a repeated one gets "_2", "_3", ... (never colliding with another name in the header)."""
    stripped = [cell.strip() for cell in raw]
    taken = set(stripped)  # real header names keep their spelling; made-up ones step aside
    names: list[str] = []
    used: set[str] = set()
    for position, cell in enumerate(stripped, start=1):
        base = cell or f"column{position}"
        unique, suffix = base, 1
        while unique in used or (unique in taken and unique != cell):
            suffix += 1
            unique = f"{base}_{suffix}"
        used.add(unique)
        names.append(unique)
    return names


def map_columns(columns: list[str], configured: Mapping[str, str], source: str,
                sample: pa.RecordBatch | None = None, *,
                has_header: bool | None = None) -> ColumnMap:
    """Resolve the configured ([columns] table) or detected source columns.

    `has_header` defaults to "the names are not exactly column1..columnN". Raises ConfigError
    for a configured column the file lacks, InputError when no single phone column is found."""
    if has_header is None:
        has_header = columns != generated_names(len(columns))
    wanted_phone = configured.get("phone")
    if wanted_phone:
        phone = _resolve("phone", wanted_phone, columns, source)
    else:
        phone = _detect_phone(columns, source, sample, has_header)
    texts = {key: _resolve(key, configured[key], columns, source)
             for key in TEXT_KEYS if configured.get(key)}
    return ColumnMap(phone=phone, texts=texts)


def _resolve(key: str, wanted: str, columns: list[str], source: str) -> str:
    """The column a configured name means: exact, else the one loose (header_key) match."""
    if wanted in columns:
        return wanted
    loose = [name for name in columns if header_key(name) == header_key(wanted)]
    if len(loose) == 1:
        return loose[0]
    _refuse_unsplit_header(columns, source)
    raise ConfigError(f"columns.{key} = {wanted!r}: {source} has no such column; "
                      f"columns found: {_listing(columns)}")


def _refuse_unsplit_header(columns: list[str], source: str) -> None:
    """One column whose name holds a delimiter: the rows did not split consistently, which
    is the real problem to name (not a missing column)."""
    split = [d for d in DELIMITERS if d in columns[0]] if len(columns) == 1 else []
    if split:
        raise InputError(f"{source}: the header {columns[0]!r} looks like several columns, "
                         f"but the rows do not split consistently on {split[0]!r}; make "
                         "every row have as many fields as the header (quote values that "
                         "contain the delimiter)")


def _detect_phone(columns: list[str], source: str, sample: pa.RecordBatch | None,
                  has_header: bool) -> str:
    if has_header:
        candidates = [name for name in columns if header_key(name) in PHONE_HEADER_KEYS]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise InputError(f"{source}: several columns could hold the phone number "
                             f"({_listing(candidates)}); set [columns].phone to the one to call")
        _refuse_unsplit_header(columns, source)
        raise InputError(f"{source}: no phone column found among the columns "
                         f"{_listing(columns)}; set [columns].phone to the column holding "
                         "the numbers")
    if len(columns) == 1:
        return columns[0]
    if sample is None:
        raise InputError(f"{source}: no header row and {len(columns)} columns; set "
                         f"[columns].phone to the one holding the numbers ({_listing(columns)})")
    phone_like = [name for name in columns
                  if name in sample.schema.names and _mostly_phones(sample.column(name))]
    if len(phone_like) == 1:
        return phone_like[0]
    if phone_like:
        raise InputError(f"{source}: no header row and several columns look like phone numbers "
                         f"({_listing(phone_like)}); set [columns].phone to the one to call")
    raise InputError(f"{source}: no header row and no column looks like phone numbers; add a "
                     f"header row or set [columns].phone to one of {_listing(columns)}")


def _mostly_phones(values: pa.Array | pa.ChunkedArray) -> bool:
    texts = [text for text in values.to_pylist() if text and text.strip()]
    if not texts:
        return False
    return sum(looks_like_phone(text) for text in texts) >= PHONE_SHARE * len(texts)


def _listing(names: Sequence[str]) -> str:
    """Names quoted and comma-separated; a long list is cut short."""
    shown = ", ".join(repr(name) for name in names[:_LISTED_NAMES])
    if len(names) > _LISTED_NAMES:
        shown += f" and {len(names) - _LISTED_NAMES} more"
    return shown
