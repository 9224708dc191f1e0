"""Throughput of the phone-number steps: the vectorised basic normaliser on 1M messy raw
values and StrictValidator.check on 1M realistic normalised numbers.

Run: .venv/bin/python bench/strict_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import phonenumbers
import pyarrow as pa
from phonenumbers import PhoneNumberType

from ingest.numbers import normalise_numbers
from ingest.strict import StrictValidator

# Where a Swedish campaign's numbers come from, roughly: mostly home, some abroad.
COUNTRY_MIX = {
    "SE": 60,
    "NO": 5,
    "DK": 5,
    "FI": 5,
    "DE": 4,
    "GB": 4,
    "US": 4,
    "PL": 2,
    "IT": 2,
    "ES": 2,
    "FR": 2,
    "IN": 1,
    "CN": 1,
    "BR": 1,
    "RU": 1,
    "IQ": 1,
}
TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)


def realistic_numbers(rows: int, seed: int = 7) -> list[str]:
    """Example numbers of each country with their last 4 digits randomised (so some are
    invalid, as in real lists), 80% mobile."""
    rng = random.Random(seed)
    examples: dict[str, list[str]] = {}
    for region in COUNTRY_MIX:
        examples[region] = []
        for kind in TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            examples[region].append(
                f"{number.country_code}{phonenumbers.national_significant_number(number)}"
            )
    regions = rng.choices(list(COUNTRY_MIX), weights=list(COUNTRY_MIX.values()), k=rows)
    out = []
    for region in regions:
        mobile, fixed = examples[region]
        base = mobile if rng.random() < 0.8 else fixed
        out.append(base[:-4] + f"{rng.randrange(10_000):04d}")
    return out


def messy_values(numbers: list[str], seed: int = 8) -> list[str]:
    """The same numbers as people write them: +46 70-123 45 67, 0046..., 070 ..., (0) ..."""
    rng = random.Random(seed)
    out = []
    for number in numbers:
        style = rng.randrange(6)
        if style == 0:
            out.append(f"+{number[:2]} {number[2:4]}-{number[4:7]} {number[7:]}")
        elif style == 1:
            out.append(f"00{number}")
        elif style == 2 and number.startswith("46"):
            out.append(f"0{number[2:4]}-{number[4:7]} {number[7:]}")
        elif style == 3:
            out.append(f" +{number[:2]} (0){number[2:]} ")
        elif style == 4:
            out.append(f"{number[:2]}.{number[2:5]}.{number[5:]}")
        else:
            out.append(number)
    return out


def rate(label: str, rows: int, run: Callable[[], object], repeats: int = 3) -> None:
    best = min(_timed(run) for _ in range(repeats))
    print(f"{label:44s} {rows / best:>12,.0f} rows/s  ({best:.3f} s for {rows:,})")


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    numbers = realistic_numbers(rows)
    raw = pa.array(messy_values(numbers))
    digits = pa.array(numbers)
    rate("normalise_numbers (messy raw values)", rows, lambda: normalise_numbers(raw, "46"))
    rate("normalise_numbers (clean digits)", rows, lambda: normalise_numbers(digits, "46"))
    StrictValidator().check(digits[:1000])  # warm the per-country rule cache once
    rate("StrictValidator.check", rows, lambda: StrictValidator().check(digits))
    rate(
        "StrictValidator(mobile_only=True).check",
        rows,
        lambda: StrictValidator(mobile_only=True).check(digits),
    )


if __name__ == "__main__":
    main()
