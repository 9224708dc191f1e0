"""The issue's reference point: polars doing the ingest job on the same file (read every
column as text, strip separators, handle +, 00 and national 0 prefixes, parse to an
integer, keep first occurrences). Fewer rules than ingest/ applies, so a generous
reference. Optional: `make bench` installs polars (the `bench` extra).

Run by bench/run.py as its own process: `python bench/polars_job.py FILE COUNTRY_CODE`.
Prints {"seconds", "rows", "accepted"}; seconds cover the job, not the import."""

from __future__ import annotations

import sys
import time

import orjson
import polars as pl


def job(path: str, country_code: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    table = pl.read_csv(path, infer_schema=False)  # every column as text
    digits = pl.col("phone").str.replace_all(r"[\s\-./()\[\]]", "")
    number = (
        pl.when(digits.str.starts_with("+")).then(digits.str.slice(1))
        .when(digits.str.starts_with("00")).then(digits.str.slice(2))
        .when(digits.str.starts_with("0")).then(pl.lit(country_code) + digits.str.slice(1))
        .otherwise(digits)
        .str.to_integer(strict=False)
    )
    valid = pl.col("number").is_between(10**5, 10**18 - 1)  # 6..18 digits; null fails
    result = (table.lazy().with_columns(number=number).filter(valid)
              .filter(pl.col("number").is_first_distinct()).collect())
    return time.perf_counter() - started, table.height, result.height


def main() -> int:
    seconds, rows, accepted = job(sys.argv[1], sys.argv[2])
    sys.stdout.write(orjson.dumps({"seconds": seconds, "rows": rows,
                                   "accepted": accepted}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
