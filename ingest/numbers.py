"""Basic normalisation of raw phone values into digits, country code first (vectorised).

Every value ends as exactly one of: digits (6..18, no leading 0) or a reason code from
REASONS. The work is done on whole Arrow columns: the UTF-8 bytes of a batch of rows are
checked with numpy compares (only the few non-digit bytes are classified one by one) and
compacted to digits, which one Arrow cast turns into int64 numbers, because a regex
replace over 10M messy values alone costs seconds. pyarrow's RE2 kernels only look at the
few rows that need a second look (non-ASCII, "E+", ".0"). Planning keeps numbers as int64
and reasons as int8 codes (normalise_to_int64); digit strings are made only where shown.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.config import country_code_digits

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

MIN_DIGITS = 6  # the API's rule for calleeNumber
MAX_DIGITS = 18

# Reason codes as small ints while computing; 0 = accepted (null reason). Index = code.
REASON_CODES: tuple[str | None, ...] = (None, *REASONS)
_CODES = REASON_CODES
_CODE = {name: i for i, name in enumerate(_CODES)}

# Rows are processed in slices of this many, so per-byte scratch arrays stay small.
_SLICE_ROWS = 1 << 18
_THREADS = min(4, os.cpu_count() or 1)
# Longer values cannot be a phone number; they are replaced by a stand-in that is too_long,
# which also bounds a slice's bytes (scratch memory, int32 positions).
_MAX_VALUE_BYTES = 255
_TOO_LONG_STAND_IN = "9" * (MAX_DIGITS + 1)

_PLUS, _ZERO = ord("+"), ord("0")
_POWERS_OF_TEN = 10 ** np.arange(MAX_DIGITS + 1, dtype=np.int64)

# Byte classes; digits and '+' are kept, separators dropped, anything else rejects the row.
_CLASS_NAMES = ("digit", "plus", "separator", "open", "close", "dot", "other")
_DIGIT, _PLUS_SIGN, _SEPARATOR, _OPEN, _CLOSE, _DOT, _OTHER = range(len(_CLASS_NAMES))
_CLASS = np.full(256, _OTHER, dtype=np.uint8)  # incl. every non-ASCII byte
_CLASS[ord("0") : ord("9") + 1] = _DIGIT
_CLASS[_PLUS] = _PLUS_SIGN
for _byte in b" \t\n\r\v\f-/":
    _CLASS[_byte] = _SEPARATOR
for _byte in b"([":
    _CLASS[_byte] = _OPEN
for _byte in b")]":
    _CLASS[_byte] = _CLOSE
_CLASS[ord(".")] = _DOT

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
    else:  # numpy and Arrow kernels release the GIL, so slices run side by side
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


def _cap_length(values: pa.Array) -> pa.Array:
    offsets, _ = utf8_bytes(values)
    too_long = np.diff(offsets) > _MAX_VALUE_BYTES
    count = int(np.count_nonzero(too_long))
    if count == 0:
        return values
    stand_ins = arrow_strings([_TOO_LONG_STAND_IN] * count).cast(values.type)
    return pc.replace_with_mask(values, arrow_array(too_long), stand_ins)


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


@dataclass
class _Digits:
    """The digits of each row, everything else gone (a '+' is remembered per row instead):
    digit bytes and per-row int32 offsets, plus what the dropped bytes said about the row."""

    compact: np.ndarray
    offsets: np.ndarray
    starts_plus: np.ndarray  # the row's first kept character is '+'
    misplaced_plus: np.ndarray  # a '+' anywhere else
    has_other: np.ndarray  # the row has a character that is not digit, '+' or separator
    dot_then_zero: np.ndarray  # the row has ".0" somewhere (a float artefact candidate)
    trunk_zeros: np.ndarray  # positions in `compact` of the 0 of "(0)" / "[0]"


def _keep_digits(offsets: np.ndarray, data: np.ndarray) -> _Digits:
    n = len(offsets) - 1
    no_rows = np.zeros(n, dtype=bool)
    is_digit = (data - _ZERO) < 10  # uint8 arithmetic wraps below '0'
    if is_digit.all():  # already clean: nothing to drop, nothing to flag
        return _Digits(data, offsets.astype(np.int32), no_rows, no_rows, no_rows, no_rows,
                       np.empty(0, dtype=np.int64))
    # Only the few non-digit bytes are classified (a lookup per byte costs more than the
    # compares over all of them).
    positions = np.flatnonzero(~is_digit)
    classes = np.take(_CLASS, data[positions])
    # digits_before[i]: digits among the bytes before byte i (a row's offset in `compact`).
    # (np.empty, not zeros: calloc may hand out fresh pages that fault in one by one.)
    digits_before = np.empty(len(data) + 1, dtype=np.int32)
    digits_before[0] = 0
    np.cumsum(is_digit, dtype=np.int32, out=digits_before[1:])
    digit_offsets = digits_before[offsets]

    def where(class_: int) -> np.ndarray:
        return np.compress(classes == class_, positions)

    # row_start[i]: byte i begins a row; tells a row's first byte without a row search.
    row_start = np.empty(len(data) + 3, dtype=bool)
    row_start.fill(False)
    row_start[offsets] = True
    starts_plus, misplaced_plus = _plus_signs(where(_PLUS_SIGN), data, offsets, row_start,
                                              digits_before, digit_offsets)
    has_other = flag_rows(where(_OTHER), offsets)
    dots = where(_DOT)
    dot_then_zero = flag_rows(dots[data[np.minimum(dots + 1, len(data) - 1)] == _ZERO],
                              offsets)
    trunk_zeros = _trunk_zeros(where(_OPEN), data, row_start)
    return _Digits(
        compact=_compress_bytes(data, is_digit),
        offsets=digit_offsets,
        starts_plus=starts_plus,
        misplaced_plus=misplaced_plus,
        has_other=has_other,
        dot_then_zero=dot_then_zero,
        trunk_zeros=digits_before[trunk_zeros].astype(np.int64),
    )


def _compress_bytes(data: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """data[keep] for bytes: Arrow's filter works a bitmap word at a time, a third
    faster than numpy's compress on a mask that is mostly, not all, true."""
    kept = pc.filter(arrow_array(data), arrow_array(keep))
    return np.frombuffer(kept.buffers()[1], dtype=np.uint8)[kept.offset:kept.offset + len(kept)]


def _trunk_zeros(opening: np.ndarray, data: np.ndarray, row_start: np.ndarray) -> np.ndarray:
    """Byte positions of the 0 in "(0)" / "[0]", brackets and zero within one row."""
    zeros = opening + 1
    zeros = zeros[(zeros + 1 < len(data)) & ~row_start[zeros] & ~row_start[zeros + 1]]
    return zeros[(data[zeros] == _ZERO) & (_CLASS[data[zeros + 1]] == _CLOSE)]


def _plus_signs(positions: np.ndarray, data: np.ndarray, offsets: np.ndarray,
                row_start: np.ndarray, digits_before: np.ndarray,
                digit_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: (starts with '+', has a '+' elsewhere). A '+' leads when it is the row's
    first '+' and no digit comes before it; separators before it do not count."""
    n = len(offsets) - 1
    # The usual case, a '+' as a row's first byte, needs no row search.
    first_byte = data.take(np.minimum(offsets[:-1], len(data) - 1))
    starts_plus = (first_byte == _PLUS) & (offsets[1:] > offsets[:-1])
    misplaced = np.zeros(n, dtype=bool)
    later = np.compress(~row_start[positions], positions)
    if later.size:
        rows = rows_of(later, offsets)
        first_in_row = np.ones(len(rows), dtype=bool)
        first_in_row[1:] = rows[1:] != rows[:-1]
        leads = (first_in_row & ~starts_plus[rows]
                 & (digits_before[later] == digit_offsets[rows]))
        misplaced[rows[~leads]] = True
        starts_plus[rows[leads]] = True
    return starts_plus, misplaced


def _normalise_slice(values: pa.Array,
                     country_code: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    """(numbers int64, codes int8) for one slice of text values."""
    is_null = (numpy_bools(values.is_null()) if values.null_count
               else np.zeros(len(values), dtype=bool))
    offsets, data = utf8_bytes(values)
    if data.size and data.max() >= 0x80:
        values = _fold_unicode(values)
        offsets, data = utf8_bytes(values)
    if len(values) and np.diff(offsets).max() > _MAX_VALUE_BYTES:
        values = _cap_length(values)
        offsets, data = utf8_bytes(values)
    kept = _keep_digits(offsets, data)
    compact, digit_off = kept.compact, kept.offsets
    scientific = _matches(values, kept.has_other & ~is_null, _SCIENTIFIC)
    float_artifact = _matches(
        values, kept.dot_then_zero & ~kept.has_other & ~is_null, _FLOAT_ARTIFACT
    )

    kept_len = np.diff(digit_off)
    padded = np.concatenate((compact, np.zeros(3, dtype=np.uint8)))  # reads past the end
    starts = digit_off[:-1]
    # "+0..." is neither "00" nor national (a leading '+' is not in `compact`).
    first_zero = (padded[starts] == _ZERO) & (kept_len > 0) & ~kept.starts_plus
    starts_00 = first_zero & (padded[starts + 1] == _ZERO) & (kept_len > 1)
    national = first_zero & ~starts_00
    strip = national.astype(np.int32) + 2 * starts_00

    if kept.trunk_zeros.size:
        compact, digit_off = _drop_trunk_zeros(
            compact, digit_off, kept.trunk_zeros, (kept.starts_plus | starts_00), strip
        )
        kept_len = np.diff(digit_off)
        padded = np.concatenate((compact, np.zeros(3, dtype=np.uint8)))
        starts = digit_off[:-1]

    digit_len = kept_len - strip
    leading_zero = (padded[starts + strip] == _ZERO) & (digit_len > 0)
    prefix_len = len(country_code) if country_code else 0
    final_len = digit_len + national * prefix_len
    rules = [  # first match wins
        (is_null, "empty"),
        (scientific, "precision_lost"),
        (kept.has_other, "invalid_characters"),
        (float_artifact, "float_artifact"),
        (kept.misplaced_plus, "invalid_characters"),
        (kept_len == 0, "empty"),
        (national & (country_code is None), "national_without_country_code"),
        (leading_zero & ~national, "invalid_country_code"),
        (final_len < MIN_DIGITS, "too_short"),
        (final_len > MAX_DIGITS, "too_long"),
    ]
    codes = np.select(
        [condition for condition, _ in rules], [_CODE[name] for _, name in rules], 0
    ).astype(np.int8)
    numbers = _to_int64(compact, digit_off, codes == 0, national, digit_len, country_code)
    return numbers, codes


def _drop_trunk_zeros(
    compact: np.ndarray,
    digit_off: np.ndarray,
    trunk_zeros: np.ndarray,
    international: np.ndarray,
    strip: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Drop the written-out trunk prefix of "+44 (0)20 ...": never dialled after a country
    code. Only in international rows, and only after the first digit of the country code."""
    rows = rows_of(trunk_zeros, digit_off)
    dropped = international[rows] & (trunk_zeros > digit_off[rows] + strip[rows])
    kept_len = np.diff(digit_off) - np.bincount(rows[dropped], minlength=len(digit_off) - 1)
    offsets = np.zeros(len(digit_off), dtype=np.int32)
    np.cumsum(kept_len, out=offsets[1:])
    return np.delete(compact, trunk_zeros[dropped]), offsets


def _to_int64(
    compact: np.ndarray,
    digit_off: np.ndarray,
    accepted: np.ndarray,
    national: np.ndarray,
    digit_len: np.ndarray,
    country_code: bytes | None,
) -> np.ndarray:
    """Each accepted row's digits as an int64 (leading zeros of "00"/"0" fall away by
    themselves; national numbers get the country code in front), 0 elsewhere."""
    n = len(accepted)
    if not accepted.any():
        return np.zeros(n, dtype=np.int64)
    # Rejected rows are null, so the cast skips them instead of failing on them.
    text = pa.StringArray.from_buffers(
        n, pa.py_buffer(digit_off), pa.py_buffer(np.ascontiguousarray(compact)),
        null_bitmap=pa.py_buffer(np.packbits(accepted, bitorder="little")),
    )
    parsed = pc.cast(text, pa.int64())
    values = np.frombuffer(parsed.buffers()[1], dtype=np.int64)[parsed.offset:][:n]
    numbers = np.where(accepted, values, 0)
    if country_code:
        national = national & accepted
        prefix = np.int64(int(country_code)) * _POWERS_OF_TEN[np.minimum(digit_len, MAX_DIGITS)]
        numbers += np.where(national, prefix, 0)
    return numbers
