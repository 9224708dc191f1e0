"""Basic normalisation of raw phone values into digits, country code first (vectorised).

Every value ends as exactly one of: digits (6..18, no leading 0) or a reason code from
REASONS. The work is done on whole Arrow columns: the UTF-8 bytes of a batch of rows are
classified and compacted with numpy (one pass per step over the bytes, no per-row Python),
because a regex replace over 10M messy values alone costs seconds. pyarrow's RE2 kernels
only look at the few rows that need a second look (non-ASCII, "E+", ".0").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.errors import ConfigError

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

# Reason codes as small ints while computing; 0 = accepted (null reason).
_CODES: tuple[str | None, ...] = (
    None,
    "empty",
    "invalid_characters",
    "precision_lost",
    "float_artifact",
    "national_without_country_code",
    "invalid_country_code",
    "too_short",
    "too_long",
)
_CODE = {name: i for i, name in enumerate(_CODES)}
_REASON_TABLE = pa.array(_CODES, pa.string())

# Rows are processed in slices of this many, so per-byte scratch arrays stay small.
_SLICE_ROWS = 1 << 18
# Longer values cannot be a phone number; they are replaced by a stand-in that is too_long,
# which also keeps the 8-bit per-row counters below from overflowing.
_MAX_VALUE_BYTES = 255
_TOO_LONG_STAND_IN = "9" * (MAX_DIGITS + 1)

_PLUS, _ZERO, _OPEN_ROUND, _OPEN_SQUARE = ord("+"), ord("0"), ord("("), ord("[")
_CLOSERS = (ord(")"), ord("]"))

# Per byte: does it stay (digits and '+'), and what it adds to its row's packed counters:
# bits 0-7 '+' count, 8-15 dropped separators, 16-23 dots, 24-31 other characters.
_KEEP = np.zeros(256, dtype=bool)
_KEEP[ord("0") : ord("9") + 1] = True
_KEEP[_PLUS] = True
_WEIGHT = np.full(256, 1 << 24, dtype=np.uint32)  # anything unlisted (incl. non-ASCII bytes)
_WEIGHT[ord("0") : ord("9") + 1] = 0
_WEIGHT[_PLUS] = 1
for _sep in " \t\n\r\v\f-/()[]":
    _WEIGHT[ord(_sep)] = 1 << 8
_WEIGHT[ord(".")] = (1 << 8) | (1 << 16)

# Non-ASCII rows only: NFKC turns full-width digits, '+' and brackets into ASCII; then any
# Unicode space, dash, invisible format character (zero-width space, BOM, LRM) or minus goes.
_UNICODE_SEPARATORS = r"[\s\p{Z}\p{Pd}\p{Cf}\x{2212}]"
_SCIENTIFIC = r"^\s*[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+\s*$"
_FLOAT_ARTIFACT = r"^\s*\+?[0-9]+\.0+\s*$"


@dataclass(frozen=True)
class NormalisedNumbers:
    """Per input row: digits ("" where rejected) and a reason code (null where accepted)."""

    digits: pa.Array
    reason: pa.Array


def normalise_numbers(
    raw: pa.Array | pa.ChunkedArray, default_country_code: str | None
) -> NormalisedNumbers:
    """Normalise a column of raw phone values (text) under the basic rules."""
    country_code = _country_code_bytes(default_country_code)
    values = _as_text(raw)
    digit_parts: list[pa.Array] = []
    code_parts: list[np.ndarray] = []
    for start in range(0, len(values), _SLICE_ROWS):
        digits, codes = _normalise_slice(values.slice(start, _SLICE_ROWS), country_code)
        digit_parts.append(digits)
        code_parts.append(codes)
    if not digit_parts:
        return NormalisedNumbers(pa.array([], pa.string()), pa.array([], pa.string()))
    all_digits = digit_parts[0] if len(digit_parts) == 1 else pa.concat_arrays(digit_parts)
    reason = _REASON_TABLE.take(pa.array(np.concatenate(code_parts)))
    return NormalisedNumbers(all_digits, reason)


def normalise_number(
    raw: str | None, default_country_code: str | None
) -> tuple[str | None, str | None]:
    """One value: (digits, None) when accepted, (None, reason) when rejected."""
    result = normalise_numbers(pa.array([raw], pa.string()), default_country_code)
    reason = result.reason[0].as_py()
    return (None, reason) if reason is not None else (result.digits[0].as_py(), None)


def _country_code_bytes(default_country_code: str | None) -> bytes | None:
    if default_country_code is None:
        return None
    text = str(default_country_code).strip().removeprefix("+")
    if not re.fullmatch(r"[1-9][0-9]{0,2}", text):
        raise ConfigError(
            f"batch.default_country_code = {default_country_code!r} must be 1-3 digits not "
            'starting with 0, e.g. "46"'
        )
    return text.encode("ascii")


def _as_text(raw: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous string array. Integers are lossless as text; floats are refused
    because their digits may already be gone - the reader must keep phone columns as text."""
    values = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
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
    non_ascii = pc.invert(pc.string_is_ascii(values)).fill_null(False)
    if not pc.any(non_ascii).as_py():
        return values
    folded = pc.utf8_normalize(values.filter(non_ascii), "NFKC")
    folded = pc.replace_substring_regex(folded, _UNICODE_SEPARATORS, "")
    return pc.replace_with_mask(values, non_ascii, folded.cast(values.type))


def _cap_length(values: pa.Array) -> pa.Array:
    too_long = pc.greater(pc.binary_length(values), _MAX_VALUE_BYTES).fill_null(False)
    count = pc.sum(too_long).as_py() or 0
    if count == 0:
        return values
    stand_ins = pa.array([_TOO_LONG_STAND_IN] * count, values.type)
    return pc.replace_with_mask(values, too_long, stand_ins)


def _bytes_of(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets rebased to 0 as int64, the UTF-8 bytes) of a string array, zero-copy."""
    offset_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type)[
        values.offset : values.offset + len(values) + 1
    ].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, "u1")
    data = data[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _row_sums(weights: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum of per-byte weights for each row (reduceat mishandles empty rows: skip them)."""
    lengths = np.diff(offsets)
    sums = np.zeros(len(lengths), dtype=weights.dtype)
    filled = lengths > 0
    if weights.size:
        sums[filled] = np.add.reduceat(weights, offsets[:-1][filled])
    return sums


def _at(data: np.ndarray, positions: np.ndarray, present: np.ndarray) -> np.ndarray:
    """data[positions] where present, else 0 (positions may be out of range there)."""
    safe = np.where(present, positions, 0)
    return np.where(present, data[safe] if data.size else 0, 0).astype(np.uint8)


def _matches(values: pa.Array, rows: np.ndarray, pattern: str) -> np.ndarray:
    """Boolean per row: rows[i] and the value matches pattern (regex run on those rows only)."""
    found = np.zeros(len(values), dtype=bool)
    if rows.any():
        subset = values.filter(pa.array(rows))
        found[rows] = pc.match_substring_regex(subset, pattern).to_numpy(zero_copy_only=False)
    return found


def _trunk_zeros(
    data: np.ndarray, offsets: np.ndarray, international: np.ndarray
) -> np.ndarray:
    """Byte positions of the 0 in "(0)" / "[0]" inside international rows: the written-out
    trunk prefix of "+44 (0)20 ..." that is never dialled after a country code."""
    opens = np.flatnonzero((data == _OPEN_ROUND) | (data == _OPEN_SQUARE))
    if opens.size == 0:
        return opens
    opens = opens[opens + 2 < data.size]
    zeros = opens[(data[opens + 1] == _ZERO) & np.isin(data[opens + 2], _CLOSERS)] + 1
    rows = np.searchsorted(offsets, zeros, side="right") - 1
    inside = (zeros - 1 >= offsets[rows]) & (zeros + 1 < offsets[rows + 1])
    return zeros[inside & international[rows]]


def _normalise_slice(
    values: pa.Array, country_code: bytes | None
) -> tuple[pa.Array, np.ndarray]:
    n = len(values)
    is_null = values.is_null().to_numpy(zero_copy_only=False)
    values = _cap_length(_fold_unicode(values))
    offsets, data = _bytes_of(values)
    lengths = np.diff(offsets)

    counters = _row_sums(_WEIGHT[data], offsets)
    plus_count = counters & 0xFF
    dropped_count = (counters >> 8) & 0xFF
    has_dot = ((counters >> 16) & 0xFF) > 0
    has_other = (counters >> 24) > 0
    scientific = _matches(values, has_other & ~is_null, _SCIENTIFIC)
    float_artifact = _matches(values, has_dot & ~has_other & ~is_null, _FLOAT_ARTIFACT)

    # Step 1: keep digits and '+' only.
    keep = _KEEP[data]
    kept_len = lengths - dropped_count.astype(np.int64) - (counters >> 24).astype(np.int64)
    compact = data if keep.all() else data[keep]
    kept_off = np.concatenate(([0], np.cumsum(kept_len)))
    first = _at(compact, kept_off[:-1], kept_len > 0)
    second = _at(compact, kept_off[:-1] + 1, kept_len > 1)

    starts_plus = first == _PLUS
    starts_00 = (first == _ZERO) & (second == _ZERO)
    national = (first == _ZERO) & ~starts_00
    international = starts_plus | starts_00
    strip = np.where(starts_plus | national, 1, np.where(starts_00, 2, 0))

    # Step 2: drop the international/national prefix and any "(0)" trunk zero.
    trunk = _trunk_zeros(data, offsets, international)
    drop = [kept_off[:-1][strip >= 1], kept_off[:-1][strip == 2] + 1]
    trunk_per_row = np.zeros(n, dtype=np.int64)
    if trunk.size:
        trunk_rows = np.searchsorted(offsets, trunk, side="right") - 1
        in_compact = np.cumsum(keep)[trunk] - 1  # the zero's position in `compact`
        after_prefix = in_compact >= kept_off[trunk_rows] + strip[trunk_rows]
        drop.append(in_compact[after_prefix])
        trunk_per_row = np.bincount(trunk_rows[after_prefix], minlength=n)
    dropped = np.concatenate(drop)
    if dropped.size:
        keep2 = np.ones(compact.size, dtype=bool)
        keep2[dropped] = False
        digits = compact[keep2]
    else:
        digits = compact
    digit_len = kept_len - strip - trunk_per_row
    digit_off = np.concatenate(([0], np.cumsum(digit_len)))
    leading = _at(digits, digit_off[:-1], digit_len > 0)

    prefix_len = len(country_code) if country_code else 0
    final_len = digit_len + np.where(national, prefix_len, 0)
    has_digit = (kept_len - plus_count) > 0
    conditions = [
        is_null,
        scientific,
        has_other,
        float_artifact,
        (plus_count > 1) | ((plus_count == 1) & ~starts_plus),
        ~has_digit,
        national & (country_code is None),
        (leading == _ZERO) & ~national,
        final_len < MIN_DIGITS,
        final_len > MAX_DIGITS,
    ]
    names = [
        "empty",
        "precision_lost",
        "invalid_characters",
        "float_artifact",
        "invalid_characters",
        "empty",
        "national_without_country_code",
        "invalid_country_code",
        "too_short",
        "too_long",
    ]
    codes = np.select(conditions, [_CODE[name] for name in names], 0).astype(np.int8)
    accepted = codes == 0
    out = _assemble(digits, digit_len, digit_off, accepted, national, country_code)
    return out, codes


def _assemble(
    digits: np.ndarray,
    digit_len: np.ndarray,
    digit_off: np.ndarray,
    accepted: np.ndarray,
    national: np.ndarray,
    country_code: bytes | None,
) -> pa.Array:
    """The output string array: accepted rows' digits (national ones behind the country
    code), "" for rejected rows."""
    n = len(digit_len)
    prefixed = national & accepted if country_code else np.zeros(n, dtype=bool)
    prefix_len = len(country_code) if country_code else 0
    out_len = np.where(accepted, digit_len + np.where(prefixed, prefix_len, 0), 0)
    out_off = np.concatenate(([0], np.cumsum(out_len))).astype(np.int32)
    taken = np.repeat(accepted, digit_len)
    if not prefixed.any():
        body = digits if taken.all() else digits[taken]
    else:
        # Each digit moves by its row's shift: output start + prefix - input start.
        shift = out_off[:-1] + np.where(prefixed, prefix_len, 0) - digit_off[:-1]
        target = np.arange(digits.size, dtype=np.int64) + np.repeat(shift, digit_len)
        body = np.empty(int(out_off[-1]), dtype=np.uint8)
        body[target[taken]] = digits[taken]
        starts = out_off[:-1][prefixed]
        for k, byte in enumerate(country_code or b""):
            body[starts + k] = byte
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(out_off), pa.py_buffer(np.ascontiguousarray(body))
    )
