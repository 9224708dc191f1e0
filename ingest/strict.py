"""Strict validation: phonenumbers' rules applied to whole columns.

phonenumbers.is_valid_number costs ~25-30 us a number, far too slow for millions of rows.
Its verdict is only a function of the metadata of the number's region, so the same checks
are run here on groups of rows with one RE2 pass per pattern (pyarrow): rows are grouped by
country code and national-number length, the metadata's descriptions are turned into
anchored regexes (lengths decided per group, not per row) and applied as
phonenumbers' `_number_type_helper` and `_region_code_for_number_from_list` would.
The reference is phonenumbers itself on PhoneNumber(country_code, national_number) built
from the same digits - never parse(), which may strip a national prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
)

from ingest.numbers import (
    arrow_array,
    arrow_strings,
    flag_rows,
    numpy_bools,
    reason_code,
    reason_names,
    utf8_bytes,
)

# Verdicts are reason codes as planning counts them (ingest.numbers.REASON_CODES).
_OK, _INVALID, _NOT_MOBILE = 0, reason_code("invalid_number"), reason_code("not_mobile")

# Types that _number_type_helper checks before fixed line and mobile, in its order.
_SPECIAL_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_MAX_NATIONAL_LENGTH = 31  # phonenumbers allows 17; anything longer is simply invalid


def _country_code_length_table() -> np.ndarray:
    """For every 3-digit prefix 000..999: the length of the country code it starts with
    (0: none). Calling codes are prefix-free, so at most one length fits."""
    table = np.zeros(1000, dtype=np.int64)
    for prefix in range(100, 1000):
        text = str(prefix)
        for length in (1, 2, 3):
            if int(text[:length]) in COUNTRY_CODE_TO_REGION_CODE:
                table[prefix] = length
                break
    return table


_CC_LENGTH = _country_code_length_table()


class _Pattern:
    """A metadata regex, anchored: whole-string match (fullmatch) or prefix match (match).
    Runs as RE2 inside pyarrow; a pattern RE2 cannot compile falls back to Python's re
    for that pattern only (slower, same answer)."""

    def __init__(self, pattern: str, whole: bool) -> None:
        self.source = f"^(?:{pattern})$" if whole else f"^(?:{pattern})"
        self.whole = whole
        self.python: re.Pattern[str] | None = None
        try:
            pc.match_substring_regex(arrow_strings(["0"]), self.source)
        except pa.ArrowInvalid:
            self.python = re.compile(pattern)

    def matches(self, values: pa.Array) -> np.ndarray:
        if self.python is None:
            return numpy_bools(pc.match_substring_regex(values, self.source))
        match = self.python.fullmatch if self.whole else self.python.match
        return np.array([match(value) is not None for value in values.to_pylist()], dtype=bool)


def _alternatives(patterns: list[str]) -> _Pattern | None:
    if not patterns:
        return None
    return _Pattern("|".join(f"(?:{pattern})" for pattern in patterns), whole=True)


def _applies(desc: object, length: int) -> str | None:
    """The desc's pattern when a national number of this length can match it (as
    phonenumbers' _is_number_matching_desc: no listed lengths means any length)."""
    if desc is None:
        return None
    pattern = getattr(desc, "national_number_pattern", None)
    lengths = getattr(desc, "possible_length", ())
    if not pattern or (len(lengths) > 0 and length not in lengths):
        return None
    return pattern


@dataclass(frozen=True)
class _TypeRules:
    """One region's metadata for national numbers of one length."""

    general: _Pattern | None  # None: no number of this length is valid
    any_type: _Pattern | None  # some type matches => type != UNKNOWN
    special: _Pattern | None  # premium ... voicemail: not mobile whatever else matches
    mobile: _Pattern | None  # only when mobile and fixed line patterns differ
    same_mobile_and_fixed: bool

    def classify(self, national: pa.Array, mobile_only: bool) -> np.ndarray:
        """OK / invalid / not mobile per number, as _number_type_helper would decide."""
        codes = np.full(len(national), _INVALID, dtype=np.int8)
        if self.general is None or self.any_type is None:
            return codes
        valid = self.general.matches(national) & self.any_type.matches(national)
        codes[valid] = _OK
        if mobile_only and valid.any():
            mobile = valid.copy()
            if self.special is not None:
                mobile &= ~self.special.matches(national)
            if not self.same_mobile_and_fixed:
                # Not special and valid: fixed line, mobile or both; mobile must match.
                mobile &= self.mobile.matches(national) if self.mobile else False
            codes[valid & ~mobile] = _NOT_MOBILE
        return codes


def _type_rules(metadata: PhoneMetadata, length: int) -> _TypeRules:
    general = _applies(metadata.general_desc, length)
    special = [p for t in _SPECIAL_TYPES if (p := _applies(getattr(metadata, t), length))]
    fixed = _applies(metadata.fixed_line, length)
    mobile = _applies(metadata.mobile, length)
    same = bool(metadata.same_mobile_and_fixed_line_pattern)
    # With equal patterns phonenumbers never looks at the mobile desc (its lengths may differ).
    types = special + ([fixed] if fixed else []) + ([mobile] if mobile and not same else [])
    return _TypeRules(
        general=_Pattern(general, whole=True) if general else None,
        any_type=_alternatives(types),
        special=_alternatives(special),
        mobile=_Pattern(mobile, whole=True) if mobile and not same else None,
        same_mobile_and_fixed=same,
    )


@dataclass(frozen=True)
class _Region:
    leading_digits: _Pattern | None
    rules: _TypeRules


@cache
def _regions(country_code: int, length: int) -> tuple[_Region, ...]:
    """The candidate regions of a calling code, in phonenumbers' order, with their rules for
    national numbers of this length. Built on first use, then cached."""
    regions = []
    for region_code in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        if region_code == REGION_CODE_FOR_NON_GEO_ENTITY:
            metadata = PhoneMetadata.metadata_for_nongeo_region(country_code, None)
        else:
            metadata = PhoneMetadata.metadata_for_region(region_code, None)
        if metadata is None:
            continue
        leading = metadata.leading_digits
        regions.append(
            _Region(
                leading_digits=_Pattern(leading, whole=False) if leading else None,
                rules=_type_rules(metadata, length),
            )
        )
    return tuple(regions)


def _classify_group(
    country_code: int, length: int, national: pa.Array, mobile_only: bool
) -> np.ndarray:
    """Codes for national numbers (all of this length) under one calling code."""
    regions = _regions(country_code, length)
    if len(regions) == 1 and len(COUNTRY_CODE_TO_REGION_CODE[country_code]) == 1:
        return regions[0].rules.classify(national, mobile_only)
    # Shared calling code: the first region whose leading digits match, else the first
    # region (without leading digits) where the number has a type, decides.
    codes = np.full(len(national), _INVALID, dtype=np.int8)
    pending = np.arange(len(national))
    for region in regions:
        if pending.size == 0:
            break
        candidates = national.take(arrow_array(pending))
        if region.leading_digits is not None:
            chosen = region.leading_digits.matches(candidates)
            if chosen.any():
                codes[pending[chosen]] = region.rules.classify(
                    candidates.filter(arrow_array(chosen)), mobile_only
                )
        else:
            region_codes = region.rules.classify(candidates, mobile_only)
            chosen = region_codes != _INVALID
            codes[pending[chosen]] = region_codes[chosen]
        pending = pending[~chosen]
    return codes


class StrictValidator:
    """Checks normalised numbers (digits, country code first) against phonenumbers' rules:
    valid for their country, and with mobile_only a MOBILE or FIXED_LINE_OR_MOBILE type."""

    def __init__(self, mobile_only: bool = False) -> None:
        self.mobile_only = mobile_only

    def check(self, digits: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Per number: null when it passes, else "invalid_number" or "not_mobile"."""
        return reason_names(self.reason_codes(digits))

    def reason_codes(self, digits: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """check() as int8 codes numbered as ingest.numbers.REASON_CODES (0: passes)."""
        values = digits.combine_chunks() if isinstance(digits, pa.ChunkedArray) else digits
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.string())
        codes = np.full(len(values), _INVALID, dtype=np.int8)
        if len(values) == 0:
            return codes
        offsets, data = utf8_bytes(values)
        country_code, national_length = _split(offsets, data)
        usable = (national_length > 0) & (national_length <= _MAX_NATIONAL_LENGTH)
        usable &= numpy_bools(values.is_valid())
        rows = np.flatnonzero(usable)
        key = country_code[rows] * 64 + national_length[rows]
        order = np.argsort(key, kind="stable")
        rows, key = rows[order], key[order]
        bounds = np.flatnonzero(np.diff(key)) + 1
        for group in np.split(rows, bounds):
            if group.size == 0:
                continue
            code = int(country_code[group[0]])
            length = int(national_length[group[0]])
            starts = offsets[group] + (offsets[group + 1] - offsets[group] - length)
            national = _fixed_width_strings(data, starts, length)
            codes[group] = _classify_group(code, length, national, self.mobile_only)
        return codes


def _split(offsets: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: calling code and national number length (-1 where the row is not all digits
    or starts with no known calling code)."""
    lengths = np.diff(offsets)
    n = len(lengths)
    digit_value = data - ord("0")  # uint8: anything below '0' wraps past 9
    bad = flag_rows(np.flatnonzero(digit_value > 9), offsets)
    first3 = np.zeros(n, dtype=np.int64)
    for k in range(3):
        present = lengths > k
        place = np.where(present, offsets[:-1] + k, 0)
        digit = np.where(present, digit_value[place] if data.size else 0, 0)
        first3 = first3 * 10 + np.minimum(digit, 9)
    cc_length = _CC_LENGTH[first3]
    country_code = first3 // np.array([1000, 100, 10, 1])[cc_length]
    national_length = lengths - cc_length
    national_length[bad | (cc_length == 0) | (lengths < 3)] = -1
    return country_code, national_length


def _fixed_width_strings(data: np.ndarray, starts: np.ndarray, width: int) -> pa.Array:
    """Arrow strings of `width` bytes starting at each start (one gather, no Python loop)."""
    body = data[starts[:, None] + np.arange(width)].ravel()
    offsets = np.arange(len(starts) + 1, dtype=np.int32) * width
    return pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(body))
