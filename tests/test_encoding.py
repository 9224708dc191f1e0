"""The UTF-8 check of text read without pyarrow's own check: the same verdict as decoding
each value on its own."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from ingest.encoding import is_valid_utf8

# Bytes that make UTF-8 interesting: ASCII, continuation bytes, leads of 2-4 byte
# characters, overlong and surrogate leads, and bytes never valid.
_BYTES = st.sampled_from([0x41, 0x20, 0x80, 0xA9, 0xBF, 0xC3, 0xC0, 0xE0, 0xED, 0xE2,
                          0x82, 0xAC, 0xF0, 0x9F, 0x98, 0xF4, 0x90, 0xF5, 0xFF])
_VALUES = st.lists(st.one_of(st.binary(max_size=6), st.lists(_BYTES, max_size=6).map(bytes),
                             st.text(max_size=4).map(str.encode)), max_size=12)


def _unchecked(values: list[bytes], offset: int = 0) -> pa.Array:
    return pa.array(values, pa.binary()).view(pa.string()).slice(offset)


def _each_decodes(values: list[bytes]) -> bool:
    try:
        for value in values:
            value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(_VALUES, st.integers(0, 3))
def test_agrees_with_decoding_each_value(values: list[bytes], offset: int) -> None:
    assert is_valid_utf8(_unchecked(values, offset)) == _each_decodes(values[offset:])


def test_a_character_cut_between_two_values_is_invalid() -> None:
    # Together the bytes spell "é"; apart, neither value is text.
    assert not is_valid_utf8(_unchecked([b"Zo\xc3", b"\xa9y"]))
    assert is_valid_utf8(_unchecked([b"Zo\xc3\xa9", b"y"]))


def test_ascii_and_empty_columns_are_valid() -> None:
    assert is_valid_utf8(_unchecked([]))
    assert is_valid_utf8(_unchecked([b"", b""]))
    assert is_valid_utf8(_unchecked([b"46701234567", b"+46 70-123 45 67"]))
