"""Strict validation (ingest.strict) must agree with phonenumbers on the same digits."""

from __future__ import annotations

import random

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumber, PhoneNumberType
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    SUPPORTED_REGIONS,
)

import ingest.strict as strict
from ingest.numbers import REASON_CODES, REASONS
from ingest.strict import StrictValidator

MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
ALL_TYPES = [
    value for name, value in vars(PhoneNumberType).items() if name.isupper() and name != "UNKNOWN"
]


def reference(digits: str, mobile_only: bool) -> str | None:
    """phonenumbers' verdict on exactly these digits: country code first, the rest is the
    national significant number (leading zeros kept), no parse() and no prefix stripping."""
    for length in (1, 2, 3):
        code = int(digits[:length])
        if digits[0] != "0" and len(digits) > length and code in COUNTRY_CODE_TO_REGION_CODE:
            national = digits[length:]
            break
    else:
        return "invalid_number"
    zeros = len(national) - len(national.lstrip("0"))
    zeros = min(zeros, len(national) - 1)
    number = PhoneNumber(
        country_code=code,
        national_number=int(national),
        italian_leading_zero=national.startswith("0") and len(national) > 1,
        number_of_leading_zeros=zeros if zeros > 0 else None,
    )
    assert phonenumbers.national_significant_number(number) == national
    if not phonenumbers.is_valid_number(number):
        return "invalid_number"
    if mobile_only and phonenumbers.number_type(number) not in MOBILE_TYPES:
        return "not_mobile"
    return None


def assert_agrees(numbers: list[str]) -> None:
    for mobile_only in (False, True):
        got = StrictValidator(mobile_only=mobile_only).check(pa.array(numbers, pa.string()))
        assert got.type == pa.string() and len(got) == len(numbers)
        expected = [reference(number, mobile_only) for number in numbers]
        wrong = [
            (number, answer, truth)
            for number, answer, truth in zip(numbers, got.to_pylist(), expected, strict=True)
            if answer != truth
        ]
        assert not wrong, f"mobile_only={mobile_only}: {wrong[:10]}"


def as_digits(number: PhoneNumber) -> str:
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def example_numbers() -> list[str]:
    found = []
    for region in sorted(SUPPORTED_REGIONS):
        for kind in ALL_TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.append(as_digits(example))
    for code in sorted(COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.append(as_digits(example))
    return found


def test_every_example_number_of_every_region_and_type_agrees() -> None:
    examples = example_numbers()
    assert len(examples) > 1000
    assert_agrees(examples)
    # phonenumbers' own examples are valid, so nearly all must pass.
    results = StrictValidator().check(pa.array(examples)).to_pylist()
    assert results.count(None) > 0.95 * len(examples)


def test_mutated_example_numbers_agree() -> None:
    """One digit changed, one added or one removed: near misses around every pattern."""
    rng = random.Random(5)
    mutated = []
    for number in example_numbers():
        for _ in range(4):
            digits = list(number)
            digits[rng.randrange(1, len(digits))] = str(rng.randrange(10))
            if rng.random() < 0.3:
                digits.append(str(rng.randrange(10)))
            elif rng.random() < 0.3 and len(digits) > 6:
                digits.pop()
            mutated.append("".join(digits))
    assert_agrees(mutated)


# Several countries' real leading digits (taken from their example numbers), completed
# with random digits to each length a number of that country could plausibly have.
# SE 46, US/CA 1, GB 44, IT 39, DE 49, CN 86, IN 91, BR 55, RU/KZ 7 (+ non-geo 800, 882)
REGIONS = ("SE", "US", "CA", "GB", "IT", "DE", "CN", "IN", "BR", "RU", "KZ")


def numbers_from_real_prefixes(rng: random.Random) -> list[str]:
    made = []
    examples = [
        as_digits(example)
        for region in REGIONS
        for kind in ALL_TYPES
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    ]
    examples += [
        as_digits(example)
        for code in (800, 882)
        if (example := phonenumbers.example_number_for_non_geo_entity(code)) is not None
    ]
    for example in examples:
        for keep in range(2, 7):
            for total in range(len(example) - 3, len(example) + 3):
                for _ in range(3):
                    tail = "".join(str(rng.randrange(10)) for _ in range(max(0, total - keep)))
                    made.append(example[:keep] + tail)
    return [number for number in made if 6 <= len(number) <= 18]


def test_random_numbers_with_real_prefixes_agree() -> None:
    numbers = numbers_from_real_prefixes(random.Random(11))
    assert len(numbers) > 3000
    assert_agrees(numbers)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.from_regex(r"[1-9][0-9]{5,17}", fullmatch=True), min_size=1, max_size=60))
def test_any_digit_string_agrees(numbers: list[str]) -> None:
    assert_agrees(numbers)


@pytest.mark.parametrize(
    ("digits", "plain", "mobile_only"),
    [
        ("46701234567", None, None),  # SE mobile
        ("46812345678", None, "not_mobile"),  # SE fixed line (Stockholm)
        ("46123456", "invalid_number", "invalid_number"),
        ("4690012345", None, "not_mobile"),  # SE premium rate
        ("12015550123", None, None),  # US: fixed line or mobile
        ("447400123456", None, None),  # GB mobile
        ("442079460958", None, "not_mobile"),  # GB fixed line
        ("447624123456", None, None),  # IM (leading digits of the shared code 44)
        ("79123456789", None, None),  # RU mobile
        ("77012345678", None, None),  # KZ mobile (leading digit 7 of code 7)
        ("390669812345", None, "not_mobile"),  # VA fixed line (leading 06698 of code 39)
        ("80012345678", None, "not_mobile"),  # international freephone (non-geographic 800)
        ("999123456", "invalid_number", "invalid_number"),  # no such calling code
    ],
)
def test_known_numbers(digits: str, plain: str | None, mobile_only: str | None) -> None:
    assert reference(digits, False) == plain and reference(digits, True) == mobile_only
    assert StrictValidator().check(pa.array([digits])).to_pylist() == [plain]
    assert StrictValidator(mobile_only=True).check(pa.array([digits])).to_pylist() == [mobile_only]


def test_odd_input_is_invalid_not_an_error() -> None:
    values = pa.chunked_array(
        [["46701234567", None, ""], pa.array(["46 70", "0046701234567", "4"], pa.string())]
    )
    assert StrictValidator().check(values).to_pylist() == [
        None,
        "invalid_number",
        "invalid_number",
        "invalid_number",
        "invalid_number",
        "invalid_number",
    ]
    large = pa.array(["x", "46701234567"], pa.large_string()).slice(1)
    assert StrictValidator().check(large).to_pylist() == [None]
    assert len(StrictValidator().check(pa.array([], pa.string()))) == 0


def test_emitted_codes_are_described() -> None:
    """Every verdict strict gives, as a code for planning and as a name, is a known reason."""
    digits = pa.array(["46701234567", "46812345678", "4600"])  # mobile, fixed line, invalid
    validator = StrictValidator(mobile_only=True)
    codes = validator.reason_codes(digits)
    names = validator.check(digits).to_pylist()
    assert names == [None, "not_mobile", "invalid_number"]
    assert [REASON_CODES[code] for code in codes] == names
    assert set(names) - {None} <= REASONS.keys()


def test_pattern_re2_cannot_compile_falls_back_to_python_re() -> None:
    backreference = strict._Pattern(r"(\d)\1\d*", whole=True)
    assert backreference.python is not None
    found = backreference.matches(pa.array(["1123", "1234", "11"]))
    assert found.tolist() == [True, False, True]
    prefix = strict._Pattern(r"(\d)\1", whole=False)
    assert prefix.matches(pa.array(["1123", "1234"])).tolist() == [True, False]


def test_shipped_metadata_needs_no_fallback() -> None:
    """Every pattern of every calling code compiles as RE2 (so all of it runs vectorised)."""
    for code in COUNTRY_CODE_TO_REGION_CODE:
        for length in range(4, 18):
            for region in strict._regions(code, length):
                rules = region.rules
                for pattern in (
                    region.leading_digits,
                    rules.general,
                    rules.any_type,
                    rules.special,
                    rules.mobile,
                ):
                    assert pattern is None or pattern.python is None, (code, length)
