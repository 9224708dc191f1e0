"""Basic normalisation of raw phone values into digits, country code first.

Every value ends as exactly one of: digits (6..18, no leading 0) or a reason code from
REASONS. A compiled kernel (numbers_kernel.normalise_rows, Cython) walks each row's UTF-8
bytes once, keeping the digits as an int64 and noting what the other bytes say about the
row; pyarrow's kernels only see the few rows that need a second look (non-ASCII, "E+",
".0"). Planning keeps numbers as int64 and reasons as int8 codes (normalise_to_int64);
digit strings are made only where shown.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.config import country_code_digits
from ingest.numbers_kernel import REASONS_GIVEN, normalise_rows

REASONS: dict[str, str] = {
    "empty": "no phone number in this row",
    "invalid_characters": (
        "contains characters that are not part of a phone number (letters, a + that is not "
        "first, ...); fix the value in the file"
    ),
    "precision_lost": (
        "digits were lost to a float (scientific notation like 4.67E+10); export the phone "
        "column as text"
    ),
    "float_artifact": (
        "looks like a number stored as a float (ends in .0); export the phone column as text"
    ),
    "national_without_country_code": (
        "national number (leading 0) but no country code to add; set batch.default_country_code"
    ),
    "invalid_country_code": "country code starts with 0; write the number as +<country code>...",
    "too_short": "fewer than 6 digits with the country code",
    "too_long": "more than 18 digits with the country code (or not a phone number at all)",
    # Codes emitted by other steps; described here so every reject has one source of text.
    "suppressed": "number is on a do-not-call list (batch.suppress)",
    "missing_text": "a required template variable is empty (batch.required_texts)",
    "invalid_number": "not a valid number for its country (strict validation)",
    "not_mobile": "not a mobile number (batch.mobile_only)",
}

# Reason codes as small ints while computing; 0 = accepted (null reason). Index = code.
REASON_CODES: tuple[str | None, ...] = (None, *REASONS)
_CODES = REASON_CODES
_CODE = {name: i for i, name in enumerate(_CODES)}

# Rows are processed in slices of this many, shared among threads (the kernel drops the GIL).
_SLICE_ROWS = 1 << 18
_THREADS = min(4, os.cpu_count() or 1)
# The codes of the reasons the kernel gives, in its order.
_KERNEL_CODES = np.array([_CODE[name] for name in REASONS_GIVEN], dtype=np.int8)

# Non-ASCII rows only: NFKC turns full-width digits, '+' and brackets into ASCII; then any
# Unicode space, dash, invisible format character (zero-width space, BOM, LRM) or minus goes.
# Non-ASCII spaces and dashes become an ASCII space, so a row is judged exactly like its
# ASCII spelling; invisible format characters (zero-width space, BOM) vanish.
_UNICODE_SEPARATORS = r"[\s\p{Z}\p{Pd}\x{2212}]"
_INVISIBLE = r"\p{Cf}"
_SCIENTIFIC = r"^\s*[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+\s*$"
_FLOAT_ARTIFACT = r"^\s*\+?[0-9]+\.0+\s*$"


@dataclass(frozen=True)
class NormalisedNumbers:
    """Per input row: digits ("" where rejected) and a reason code (null where accepted)."""

    digits: pa.Array
    reason: pa.Array


@dataclass(frozen=True)
class NumberCodes:
    """Per input row: the number as int64 (0 where rejected) and a reason code as int8
    (0 where accepted, else an index into REASON_CODES). Digits and number are one-to-one:
    accepted digits never start with 0, so str(number) gives them back."""

    numbers: np.ndarray
    codes: np.ndarray


def normalise_numbers(
    raw: pa.Array | pa.ChunkedArray, default_country_code: str | None
) -> NormalisedNumbers:
    """Normalise a column of raw phone values (text) under the basic rules."""
    result = normalise_to_int64(raw, default_country_code)
    return NormalisedNumbers(numbers_as_digits(result.numbers, result.codes == 0),
                             reason_names(result.codes))


def normalise_to_int64(
    raw: pa.Array | pa.ChunkedArray, default_country_code: str | None
) -> NumberCodes:
    """normalise_numbers for callers that go on computing: numbers and codes as numpy."""
    country_code = _country_code_bytes(default_country_code)
    chunks = raw.chunks if isinstance(raw, pa.ChunkedArray) else [raw]
    slices = [
        text.slice(start, _SLICE_ROWS)
        for text in map(_as_text, chunks)
        for start in range(0, len(text), _SLICE_ROWS)
    ]
    if not slices:
        return NumberCodes(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8))

    def one_slice(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        return _normalise_slice(values, country_code)

    if len(slices) == 1:
        parts = [one_slice(slices[0])]
    else:  # the kernel and Arrow release the GIL, so slices run side by side
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            parts = list(pool.map(one_slice, slices))
    if len(parts) == 1:
        return NumberCodes(*parts[0])
    return NumberCodes(np.concatenate([numbers for numbers, _ in parts]),
                       np.concatenate([codes for _, codes in parts]))


def reason_names(codes: np.ndarray) -> pa.Array:
    """Reason codes (int8, 0 = accepted) as their names, null where accepted."""
    return _REASON_TABLE.take(arrow_array(codes))


def reason_code(name: str) -> int:
    return _CODE[name]


def numbers_as_digits(numbers: np.ndarray, accepted: np.ndarray | None = None) -> pa.Array:
    """int64 numbers as digit strings; "" where not accepted (when a mask is given)."""
    digits = pc.cast(arrow_array(numbers.astype(np.int64, copy=False)), pa.string())
    if accepted is None or accepted.all():
        return digits
    return pc.if_else(arrow_array(accepted), digits, EMPTY_TEXT)


def normalise_number(
    raw: str | None, default_country_code: str | None
) -> tuple[str | None, str | None]:
    """One value: (digits, None) when accepted, (None, reason) when rejected."""
    result = normalise_numbers(arrow_strings([raw]), default_country_code)
    reason = result.reason[0].as_py()
    return (None, reason) if reason is not None else (result.digits[0].as_py(), None)


def _country_code_bytes(default_country_code: str | None) -> bytes | None:
    if default_country_code is None:
        return None
    return country_code_digits(default_country_code).encode("ascii")


def _as_text(values: pa.Array) -> pa.Array:
    """A string (or large_string) array. Integers are lossless as text; floats are refused
    because their digits may already be gone - the reader must keep phone columns as text."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        raise TypeError(f"phone numbers must be read as text, not {kind}")
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return values
    if pa.types.is_integer(kind) or pa.types.is_null(kind) or pa.types.is_string_view(kind):
        return values.cast(pa.string())
    raise TypeError(f"phone numbers must be text, got {kind}")


def _fold_unicode(values: pa.Array) -> pa.Array:
    """Rewrite the (rare) non-ASCII rows so the byte-level pass only sees ASCII separators."""
    offsets, data = utf8_bytes(values)
    non_ascii = flag_rows(np.flatnonzero(data >= 0x80), offsets)
    if not non_ascii.any():
        return values
    mask = arrow_array(non_ascii)
    folded = pc.utf8_normalize(values.filter(mask), "NFKC")
    folded = pc.replace_substring_regex(folded, _INVISIBLE, "")
    folded = pc.replace_substring_regex(folded, _UNICODE_SEPARATORS, " ")
    return pc.replace_with_mask(values, mask, folded.cast(values.type))


def utf8_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets rebased to 0 as int64, the UTF-8 bytes) of a string or large_string array;
    the bytes are a zero-copy view. Row i is bytes[offsets[i]:offsets[i + 1]]."""
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[
        values.offset : values.offset + len(values) + 1
    ].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, "u1")
    return offsets - offsets[0], data[offsets[0] : offsets[-1]]


# --- numpy <-> Arrow ----------------------------------------------------------------------
# pyarrow checks each pa.array(), pa.scalar() and to_numpy() call for pandas objects, which
# imports pandas: a fifth of a second and 30 MB, several percent of a 10M-row dry run, for
# nothing. The planning path converts through buffers instead.


def arrow_array(values: np.ndarray) -> pa.Array:
    """A 1-D numpy array of numbers or bools as an Arrow array (numbers without a copy)."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.BooleanArray.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [None, pa.py_buffer(values)])


def numpy_bools(mask: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, null as False."""
    length, offset = len(mask), mask.offset
    validity, bits = mask.buffers()

    def unpack(buffer: pa.Buffer) -> np.ndarray:
        packed = np.frombuffer(buffer, dtype=np.uint8)
        return np.unpackbits(packed, count=offset + length, bitorder="little")[offset:]

    values = unpack(bits).view(bool)
    if validity is not None and mask.null_count:
        values = values & unpack(validity).view(bool)
    return values


def arrow_strings(values: list[str | None]) -> pa.Array:
    """A (small) list of Python strings as an Arrow string array."""
    encoded = [value.encode() if value is not None else b"" for value in values]
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum([len(value) for value in encoded], out=offsets[1:])
    valid = np.array([value is not None for value in values], dtype=bool)
    return pa.StringArray.from_buffers(
        len(values), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded)),
        pa.py_buffer(np.packbits(valid, bitorder="little")),
    )


NULL_TEXT = pa.nulls(1, pa.string())[0]
EMPTY_TEXT = arrow_strings([""])[0]
_REASON_TABLE = arrow_strings(list(_CODES))


def rows_of(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The row holding each byte position; offsets: each row's start, then the end."""
    return np.searchsorted(offsets, positions, side="right") - 1


def flag_rows(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per row: does it hold any of these byte positions."""
    flagged = np.zeros(len(offsets) - 1, dtype=bool)
    if positions.size:
        flagged[rows_of(positions, offsets)] = True
    return flagged


def _matches(values: pa.Array, rows: np.ndarray, pattern: str) -> np.ndarray:
    """Per row: rows[i] and the value matches pattern (the regex runs on those rows only)."""
    found = np.zeros(len(values), dtype=bool)
    if rows.any():
        subset = values.filter(arrow_array(rows))
        found[rows] = numpy_bools(pc.match_substring_regex(subset, pattern))
    return found


def _normalise_slice(values: pa.Array,
                     country_code: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    """(numbers int64, codes int8) for one slice of text values."""
    offsets, data = utf8_bytes(values)
    if data.size and data.max() >= 0x80:
        values = _fold_unicode(values)
        offsets, data = utf8_bytes(values)
    n = len(values)
    numbers = np.empty(n, dtype=np.int64)
    codes = np.empty(n, dtype=np.int8)
    float_like = np.empty(n, dtype=bool)
    normalise_rows(offsets, data, int(country_code or 0), len(country_code or b""),
                   _KERNEL_CODES, numbers, codes, float_like.view(np.uint8))
    # What the byte rules cannot tell alone, on the few rows where it can matter: a
    # float's spelling ("4.67E+10" has a letter, "46701234567.0" only digits and a dot),
    # and null (a null's bytes may be anything).
    is_null = (numpy_bools(values.is_null()) if values.null_count
               else np.zeros(n, dtype=bool))
    scientific = _matches(values, (codes == _CODE["invalid_characters"]) & ~is_null,
                          _SCIENTIFIC)
    float_artifact = _matches(values, float_like & ~is_null, _FLOAT_ARTIFACT)
    codes[float_artifact] = _CODE["float_artifact"]
    codes[scientific] = _CODE["precision_lost"]
    codes[is_null] = _CODE["empty"]
    numbers[float_artifact | is_null] = 0
    return numbers, codes
