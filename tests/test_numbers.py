"""Basic normalisation of raw phone values (ingest.numbers)."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ingest.numbers as numbers
from ingest.errors import ConfigError
from ingest.numbers import REASONS, normalise_number, normalise_numbers

ACCEPTED = re.compile(r"[1-9][0-9]{5,17}")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("46701234567", "46701234567"),
        ("+46701234567", "46701234567"),
        ("0046701234567", "46701234567"),
        ("070-123 45 67", "46701234567"),
        ("  +46 (70) 123.45/67  ", "46701234567"),
        ("+46 70 123 45 67", "46701234567"),
        ("[08] 123 45 67", "4681234567"),
        ("+46\u00a070\u3000123\u20114567", "46701234567"),  # NBSP, full-width space, dash
        ("+46\u200b70\u2013123\u201445\u221267", "46701234567"),  # zero-width, en/em, minus
        ("\ufeff070 123 45 67", "46701234567"),  # BOM from a copy-paste
        ("＋４６ ７０１２３４５６７", "46701234567"),  # full-width digits and plus
        ("\t46701234567\n", "46701234567"),
        ("+44 (0)20 7946 0958", "442079460958"),  # written-out trunk prefix is not dialled
        ("0044 (0) 20 7946 0958", "442079460958"),
        ("(0)70 123 45 67", "46701234567"),  # national: the bracketed 0 is the trunk 0
        ("123456", "123456"),
        ("123456789012345678", "123456789012345678"),
    ],
)
def test_accepted_values_become_digits_country_code_first(raw: str, expected: str) -> None:
    assert normalise_number(raw, "46") == (expected, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        (" - ( ) ", "empty"),
        ("+", "empty"),
        ("4.67012E+10", "precision_lost"),
        ("4.67012345678901e+17", "precision_lost"),
        ("4,67012E+10", "precision_lost"),
        ("46701234567.0", "float_artifact"),
        ("+46701234567.00", "float_artifact"),
        ("46701234567abc", "invalid_characters"),
        ("tel:+46701234567", "invalid_characters"),
        ("+46+701234567", "invalid_characters"),
        ("46701234567+", "invalid_characters"),
        ("++46701234567", "invalid_characters"),
        ("0701234567 ext. 12", "invalid_characters"),
        ("46 70 123 45 67 é", "invalid_characters"),
        ("+0701234567", "invalid_country_code"),
        ("000701234567", "invalid_country_code"),
        ("12345", "too_short"),
        ("+46 123", "too_short"),
        ("00", "too_short"),
        ("1234567890123456789", "too_long"),
        ("9" * 300, "too_long"),
    ],
)
def test_rejected_values_get_a_reason(raw: str | None, reason: str) -> None:
    assert normalise_number(raw, "46") == (None, reason)


def test_national_number_takes_the_default_country_code() -> None:
    assert normalise_number("070-123 45 67", "46") == ("46701234567", None)
    assert normalise_number("07911 123456", "44") == ("447911123456", None)
    assert normalise_number("0612345678", "+33") == ("33612345678", None)
    assert normalise_number("0", "46") == (None, "too_short")


def test_national_number_without_default_country_code_is_rejected() -> None:
    assert normalise_number("070-123 45 67", None) == (None, "national_without_country_code")
    assert "batch.default_country_code" in REASONS["national_without_country_code"]
    # International forms do not need the setting.
    assert normalise_number("+46 70 123 45 67", None) == ("46701234567", None)
    assert normalise_number("0046701234567", None) == ("46701234567", None)


@pytest.mark.parametrize("bad", ["046", "4600", "SE", "", "+"])
def test_bad_default_country_code_is_a_config_error_naming_the_key(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"batch\.default_country_code"):
        normalise_numbers(pa.array(["0701234567"]), bad)


def test_reason_texts_cover_every_code_and_say_what_to_do() -> None:
    for code in (*numbers._CODES[1:], "suppressed", "missing_text", "invalid_number"):
        assert code in REASONS
    assert "not_mobile" in REASONS
    assert all("\n" not in text and text for text in REASONS.values())
    assert "as text" in REASONS["precision_lost"]
    assert "batch.suppress" in REASONS["suppressed"]
    assert "batch.required_texts" in REASONS["missing_text"]
    assert "batch.mobile_only" in REASONS["not_mobile"]


def test_column_result_aligns_with_rows_and_types() -> None:
    raw = pa.array(["+46 70 123 45 67", None, "abc", "070 123 45 67", "12"])
    result = normalise_numbers(raw, "46")
    assert result.digits.type == pa.string() and result.reason.type == pa.string()
    assert result.digits.to_pylist() == ["46701234567", "", "", "46701234567", ""]
    assert result.reason.to_pylist() == [None, "empty", "invalid_characters", None, "too_short"]


def test_accepts_chunked_large_dictionary_and_integer_columns() -> None:
    chunked = pa.chunked_array([["+46701234567"], ["0701234567", "x"]])
    assert normalise_numbers(chunked, "46").digits.to_pylist() == [
        "46701234567",
        "46701234567",
        "",
    ]
    large = pa.array(["+46 70 123 45 67", "0046 70"], pa.large_string()).slice(0, 1)
    assert normalise_numbers(large, None).digits.to_pylist() == ["46701234567"]
    dictionary = pa.array(["0701234567", "0701234567"]).dictionary_encode()
    assert normalise_numbers(dictionary, "46").digits.to_pylist() == ["46701234567"] * 2
    integers = pa.array([46701234567, None], pa.int64())
    assert normalise_numbers(integers, None).reason.to_pylist() == [None, "empty"]
    assert len(normalise_numbers(pa.array([], pa.string()), None).digits) == 0


def test_a_float_column_is_refused_rather_than_guessed() -> None:
    with pytest.raises(TypeError, match="text"):
        normalise_numbers(pa.array([46701234567.0]), "46")


def test_sliced_input_and_many_slices_give_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = [f"070-{i:03d} 45 67" if i % 3 else f"+46 (0)70 {i:03d}" for i in range(50)]
    values += ["", None, "abc", "+44 (0)20 7946 0958", "4.6E+10", "46701234567.0"]
    expected = [normalise_number(value, "46") for value in values]
    monkeypatch.setattr(numbers, "_SLICE_ROWS", 7)  # force many slices (and threads)
    result = normalise_numbers(pa.array(["junk", *values]).slice(1), "46")
    got = [
        (None, reason) if reason is not None else (digits, None)
        for digits, reason in zip(result.digits.to_pylist(), result.reason.to_pylist(), strict=True)
    ]
    assert got == expected


# Raw values built from the characters that matter: digits, prefixes, separators of all
# kinds, letters, exponent and float markers.
RAW_ALPHABET = "0123456789" * 3 + "+ -./()[]eE,x\u00a0\u3000\u2011\u200b＋１"
raw_values = st.one_of(st.none(), st.text(alphabet=RAW_ALPHABET, max_size=30), st.text())
country_codes = st.sampled_from([None, "1", "46", "358"])


@settings(max_examples=300, deadline=None)
@given(st.lists(raw_values, max_size=40), country_codes)
def test_every_value_gets_exactly_one_of_digits_or_known_reason(
    raws: list[str | None], country_code: str | None
) -> None:
    result = normalise_numbers(pa.array(raws, pa.string()), country_code)
    for digits, reason in zip(result.digits.to_pylist(), result.reason.to_pylist(), strict=True):
        if reason is None:
            assert ACCEPTED.fullmatch(digits), digits
        else:
            assert reason in REASONS and digits == ""


@settings(max_examples=300, deadline=None)
@given(raw_values, country_codes)
def test_normalising_is_idempotent(raw: str | None, country_code: str | None) -> None:
    digits, _ = normalise_number(raw, country_code)
    if digits is not None:
        assert normalise_number(digits, country_code) == (digits, None)
        assert normalise_number(digits, None) == (digits, None)
        assert normalise_number("+" + digits, None) == (digits, None)


@settings(max_examples=200, deadline=None)
@given(st.lists(raw_values, min_size=1, max_size=30), country_codes)
def test_column_answers_equal_one_value_at_a_time(
    raws: list[str | None], country_code: str | None
) -> None:
    result = normalise_numbers(pa.array(raws, pa.string()), country_code)
    for i, raw in enumerate(raws):
        digits, reason = normalise_number(raw, country_code)
        assert result.reason[i].as_py() == reason
        assert result.digits[i].as_py() == (digits or "")


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(ACCEPTED, fullmatch=True),
    st.lists(st.sampled_from([" ", "-", ".", "/", "\u00a0", "\u2013"]), max_size=6),
    st.randoms(use_true_random=False),
    st.sampled_from(["", "+", "00"]),
)
def test_formatting_never_changes_the_number(
    digits: str, separators: list[str], rng: object, prefix: str
) -> None:
    written = list(digits)
    for separator in separators:
        written.insert(rng.randrange(1, len(written) + 1), separator)  # type: ignore[attr-defined]
    value = prefix + "".join(written)
    # "4670123.00" reads as a float on purpose, also with spaces around it (Unicode spaces
    # and dashes count as ASCII spaces).
    folded = value if value.isascii() else re.sub(r"[\s\u2013]", " ", value)
    assume(not re.fullmatch(r"\s*\+?[0-9]+\.0+\s*", folded))
    assert normalise_number(value, None) == (digits, None)


# The basic rules once more, written plainly one value at a time (ASCII values: non-ASCII
# ones are folded to ASCII first, covered above). The column code must agree with it.
_SPACE = "[ \t\n\f\r]"  # RE2's \s, as the column code's patterns use it
_SEPARATORS = set(" \t\n\r\v\f-/()[].")


def _reference(raw: str | None, country_code: str | None) -> tuple[str | None, str | None]:
    def reject(reason: str) -> tuple[None, str]:
        return None, reason

    if raw is None:
        return reject("empty")
    if re.fullmatch(rf"{_SPACE}*[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+{_SPACE}*", raw):
        return reject("precision_lost")
    if any(not (ch.isdigit() or ch == "+" or ch in _SEPARATORS) for ch in raw):
        return reject("invalid_characters")
    if re.fullmatch(rf"{_SPACE}*\+?[0-9]+\.0+{_SPACE}*", raw):
        return reject("float_artifact")
    pluses = [i for i, ch in enumerate(raw) if ch == "+"]
    first_digit = next((i for i, ch in enumerate(raw) if ch.isdigit()), len(raw))
    if len(pluses) > 1 or (pluses and pluses[0] > first_digit):
        return reject("invalid_characters")
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not digits:
        return reject("empty")
    plus, double_zero = bool(pluses), not pluses and digits.startswith("00")
    if plus or double_zero:  # drop "(0)" trunk zeros after the country code's first digit
        after = 1 if plus else 3
        for match in reversed(list(re.finditer(r"[(\[]0[)\]]", raw))):
            if sum(ch.isdigit() for ch in raw[: match.start()]) >= after:
                raw = raw[: match.start() + 1] + raw[match.start() + 2 :]
        digits = "".join(ch for ch in raw if ch.isdigit())
    if double_zero:
        body = digits[2:]
    elif not plus and digits.startswith("0"):
        if country_code is None:
            return reject("national_without_country_code")
        body = country_code.lstrip("+") + digits[1:]
    else:
        body = digits
    if body.startswith("0") and (plus or double_zero or not digits.startswith("0")):
        return reject("invalid_country_code")
    if len(body) < 6:
        return reject("too_short")
    if len(body) > 18:
        return reject("too_long")
    return body, None


# Values built from the pieces the rules look at, so that their combinations come up often.
_PIECES = ["0", "00", "1", "46", "70", "123", "4567", "+", "(0)", "[0]", "(0]", "()", "(",
           " ", "-", "/", ".", ".0", "\t"]
_JUNK = ["E+", "e", ",", "x"]
ascii_values = st.one_of(
    st.none(),
    st.lists(st.sampled_from(_PIECES), max_size=12).map("".join),
    st.lists(st.sampled_from(_PIECES + _JUNK), max_size=12).map("".join),
    st.text(alphabet="0123456789" * 3 + "00000+++ \t\v-./()[]eE,x", max_size=30),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(ascii_values, min_size=1, max_size=40), country_codes)
def test_column_agrees_with_the_rules_written_one_value_at_a_time(
    raws: list[str | None], country_code: str | None
) -> None:
    result = normalise_numbers(pa.array(raws, pa.string()), country_code)
    got = [(digits or None, reason) for digits, reason
           in zip(result.digits.to_pylist(), result.reason.to_pylist(), strict=True)]
    assert got == [_reference(raw, country_code) for raw in raws]


def test_the_compiled_kernel_refuses_arrays_it_would_overrun() -> None:
    import numpy as np
    from ingest.numbers_kernel import REASONS_GIVEN, normalise_rows

    codes = np.arange(1, len(REASONS_GIVEN) + 1, dtype=np.int8)
    data = np.frombuffer(b"46701234567", dtype=np.uint8)

    def run(offsets: list[int], rows: int, reason_codes: np.ndarray = codes) -> None:
        normalise_rows(np.array(offsets, dtype=np.int64), data, 0, 0, reason_codes,
                       np.empty(rows, np.int64), np.empty(rows, np.int8),
                       np.empty(rows, np.uint8))

    with pytest.raises(ValueError, match="past the data"):
        run([0, 12], 1)
    with pytest.raises(ValueError, match="shorter than the rows"):
        run([0, 5, 11], 1)
    with pytest.raises(ValueError, match="reason_codes"):
        run([0, 11], 1, codes[:2])
    run([0, 11], 1)  # the same arrays, consistent: fine
