"""Basic normalisation of raw phone values into digits, country code first (vectorised).

Every value ends as exactly one of: digits (6..18, no leading 0) or a reason code from
REASONS. The work is done on whole Arrow columns: the UTF-8 bytes of a batch of rows are
classified and compacted with numpy (one pass per step over the bytes, no per-row Python),
because a regex replace over 10M messy values alone costs seconds. pyarrow's RE2 kernels
only look at the few rows that need a second look (non-ASCII, "E+", ".0").
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
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
_THREADS = min(4, os.cpu_count() or 1)
# Longer values cannot be a phone number; they are replaced by a stand-in that is too_long,
# which also bounds a slice's bytes (scratch memory, int32 positions).
_MAX_VALUE_BYTES = 255
_TOO_LONG_STAND_IN = "9" * (MAX_DIGITS + 1)

_PLUS, _ZERO = ord("+"), ord("0")

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
    chunks = raw.chunks if isinstance(raw, pa.ChunkedArray) else [raw]
    slices = [
        text.slice(start, _SLICE_ROWS)
        for text in map(_as_text, chunks)
        for start in range(0, len(text), _SLICE_ROWS)
    ]
    if not slices:
        return NormalisedNumbers(pa.array([], pa.string()), pa.array([], pa.string()))

    def one_slice(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
        return _normalise_slice(values, country_code)

    if len(slices) == 1:
        parts = [one_slice(slices[0])]
    else:  # numpy and Arrow kernels release the GIL, so slices run side by side
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            parts = list(pool.map(one_slice, slices))
    digit_parts = [digits for digits, _ in parts]
    code_parts = [codes for _, codes in parts]
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


def _rows_of(positions: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The row holding each (sorted) byte position."""
    if positions.size * 8 < len(offsets):
        return np.searchsorted(offsets, positions, side="right") - 1
    row_of_byte = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(offsets))
    return row_of_byte[positions]


def _flag_rows(byte_flags: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per row: does any of its bytes have the flag."""
    flagged = np.zeros(len(offsets) - 1, dtype=bool)
    positions = np.flatnonzero(byte_flags)
    if positions.size:
        flagged[_rows_of(positions, offsets)] = True
    return flagged


def _at(data: np.ndarray, positions: np.ndarray, present: np.ndarray) -> np.ndarray:
    """data[positions] where present, else 0 (positions may be out of range elsewhere)."""
    if data.size == 0:
        return np.zeros(len(positions), dtype=np.uint8)
    return np.where(present, data[np.where(present, positions, 0)], 0).astype(np.uint8)


def _matches(values: pa.Array, rows: np.ndarray, pattern: str) -> np.ndarray:
    """Per row: rows[i] and the value matches pattern (the regex runs on those rows only)."""
    found = np.zeros(len(values), dtype=bool)
    if rows.any():
        subset = values.filter(pa.array(rows))
        found[rows] = pc.match_substring_regex(subset, pattern).to_numpy(zero_copy_only=False)
    return found


@dataclass
class _Kept:
    """The digits and '+' of each row, separators gone: bytes and per-row offsets."""

    compact: np.ndarray
    offsets: np.ndarray
    has_other: np.ndarray  # the row has a character that is not digit, '+' or separator
    dot_then_zero: np.ndarray  # the row has ".0" somewhere (a float artefact candidate)
    trunk_zeros: np.ndarray  # positions in `compact` of the 0 of "(0)" / "[0]"


def _keep_digits(offsets: np.ndarray, data: np.ndarray) -> _Kept:
    n = len(offsets) - 1
    no_rows = np.zeros(n, dtype=bool)
    keep = ((data - _ZERO) < 10) | (data == _PLUS)  # uint8 arithmetic wraps below '0'
    if keep.all():  # already clean: nothing to drop, nothing to flag
        return _Kept(data, offsets, no_rows, no_rows, np.empty(0, dtype=np.int64))
    classes = np.take(_CLASS, data)
    present = [bool((classes == c).any()) for c in range(len(_CLASS_NAMES))]
    kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int32)))
    trunk = np.empty(0, dtype=np.int64)
    if present[_OPEN] and present[_CLOSE]:
        trunk = np.flatnonzero(
            (classes[:-2] == _OPEN) & (data[1:-1] == _ZERO) & (classes[2:] == _CLOSE)
        )
        # The zero (at trunk + 1) and its brackets must sit in one row.
        trunk = trunk[trunk + 3 <= offsets[_rows_of(trunk, offsets) + 1]] + 1
    has_other = _flag_rows(classes == _OTHER, offsets) if present[_OTHER] else no_rows
    dot_then_zero = no_rows
    if present[_DOT]:
        dot_then_zero = _flag_rows((classes[:-1] == _DOT) & (data[1:] == _ZERO), offsets)
    return _Kept(
        compact=np.compress(keep, data),
        offsets=kept_before[offsets].astype(np.int64),
        has_other=has_other,
        dot_then_zero=dot_then_zero,
        trunk_zeros=kept_before[trunk].astype(np.int64),
    )


def _normalise_slice(values: pa.Array, country_code: bytes | None) -> tuple[pa.Array, np.ndarray]:
    is_null = values.is_null().to_numpy(zero_copy_only=False)
    values = _cap_length(_fold_unicode(values))
    kept = _keep_digits(*utf8_bytes(values))
    compact, kept_off = kept.compact, kept.offsets
    scientific = _matches(values, kept.has_other & ~is_null, _SCIENTIFIC)
    float_artifact = _matches(
        values, kept.dot_then_zero & ~kept.has_other & ~is_null, _FLOAT_ARTIFACT
    )

    kept_len = np.diff(kept_off)
    first = _at(compact, kept_off[:-1], kept_len > 0)
    second = _at(compact, kept_off[:-1] + 1, kept_len > 1)
    starts_plus = first == _PLUS
    starts_00 = (first == _ZERO) & (second == _ZERO)
    national = (first == _ZERO) & ~starts_00
    strip = np.where(starts_plus | national, 1, np.where(starts_00, 2, 0))

    if kept.trunk_zeros.size:
        compact, kept_off = _drop_trunk_zeros(
            compact, kept_off, kept.trunk_zeros, (starts_plus | starts_00), strip
        )
        kept_len = np.diff(kept_off)
    misplaced_plus = _misplaced_plus(compact, kept_off, starts_plus)

    digit_len = kept_len - strip
    leading = _at(compact, kept_off[:-1] + strip, digit_len > 0)
    prefix_len = len(country_code) if country_code else 0
    final_len = digit_len + np.where(national, prefix_len, 0)
    rules = [  # first match wins
        (is_null, "empty"),
        (scientific, "precision_lost"),
        (kept.has_other, "invalid_characters"),
        (float_artifact, "float_artifact"),
        (misplaced_plus, "invalid_characters"),
        (kept_len - starts_plus == 0, "empty"),
        (national & (country_code is None), "national_without_country_code"),
        ((leading == _ZERO) & ~national, "invalid_country_code"),
        (final_len < MIN_DIGITS, "too_short"),
        (final_len > MAX_DIGITS, "too_long"),
    ]
    codes = np.select(
        [condition for condition, _ in rules], [_CODE[name] for _, name in rules], 0
    ).astype(np.int8)
    digits = _assemble(compact, kept_off, strip, codes == 0, national, country_code)
    return digits, codes


def _drop_trunk_zeros(
    compact: np.ndarray,
    kept_off: np.ndarray,
    trunk_zeros: np.ndarray,
    international: np.ndarray,
    strip: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Drop the written-out trunk prefix of "+44 (0)20 ...": never dialled after a country
    code. Only in international rows, and only after the first digit of the country code."""
    rows = np.searchsorted(kept_off, trunk_zeros, side="right") - 1
    dropped = international[rows] & (trunk_zeros > kept_off[rows] + strip[rows])
    kept_len = np.diff(kept_off) - np.bincount(rows[dropped], minlength=len(kept_off) - 1)
    return np.delete(compact, trunk_zeros[dropped]), np.concatenate(([0], np.cumsum(kept_len)))


def _misplaced_plus(
    compact: np.ndarray, kept_off: np.ndarray, starts_plus: np.ndarray
) -> np.ndarray:
    """Per row: is there a '+' anywhere but in first place."""
    plus = compact == _PLUS
    misplaced = np.zeros(len(kept_off) - 1, dtype=bool)
    if np.count_nonzero(plus) != np.count_nonzero(starts_plus):
        plus[kept_off[:-1][starts_plus]] = False
        rows = np.searchsorted(kept_off, np.flatnonzero(plus), side="right") - 1
        misplaced[rows] = True
    return misplaced


def _assemble(
    compact: np.ndarray,
    kept_off: np.ndarray,
    strip: np.ndarray,
    accepted: np.ndarray,
    national: np.ndarray,
    country_code: bytes | None,
) -> pa.Array:
    """The output string array: accepted rows' digits without their prefix (national ones
    behind the country code), "" for rejected rows."""
    n = len(strip)
    prefix = country_code or b""
    prefixed = national & accepted if prefix else np.zeros(n, dtype=bool)
    digit_len = np.diff(kept_off) - strip
    if accepted.all() and not strip.any():
        out_off, body = kept_off, compact  # already digits only: no copy
    elif not prefixed.any():
        out_off = np.concatenate(([0], np.cumsum(np.where(accepted, digit_len, 0))))
        taken = np.repeat(accepted, np.diff(kept_off))
        taken[kept_off[:-1][strip >= 1]] = False
        taken[kept_off[:-1][strip == 2] + 1] = False
        body = np.compress(taken, compact)
    else:
        prefix_len = np.where(prefixed, len(prefix), 0)
        out_len = np.where(accepted, digit_len + prefix_len, 0)
        out_off = np.concatenate(([0], np.cumsum(out_len)))
        # Gather from source = prefix + compact: byte i of row r is source[i + shift[r]].
        shift = kept_off[:-1] + strip + len(prefix) - out_off[:-1] - prefix_len
        index = np.arange(out_off[-1], dtype=np.int64)
        index += np.repeat(shift, out_len)
        starts = out_off[:-1][prefixed]
        for k in range(len(prefix)):
            index[starts + k] = k
        source = np.concatenate((np.frombuffer(prefix, dtype=np.uint8), compact))
        body = source.take(index)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(out_off.astype(np.int32)), pa.py_buffer(np.ascontiguousarray(body))
    )
