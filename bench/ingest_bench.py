"""Section 1 and 2: `submit --dry-run` as a user runs it (a subprocess, startup included)
against pyarrow alone parsing the same file, peak memory, `--help` startup, and strict
validation's throughput and cost."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import orjson
from bench_util import (
    BENCH_DIR,
    CLI,
    CONSOLE_SCRIPT,
    PYTHON,
    Timed,
    base_env,
    best_of,
    run_timed,
    sample_file,
    write_config,
)

from ingest.dedupe import table_bytes
from ingest.plan import expected_numbers
from ingest.readers import open_contacts

# Below this, a dry run's memory has not reached its steady state: the reader's read-ahead
# and the batches in flight between the pipeline's threads are about 1M rows.
GROWTH_SMALL_MIN_ROWS = 3_000_000


def dry_run_argv(path: Path, config: Path) -> list[str]:
    return [*CLI, "submit", str(path), "--config", str(config), "--dry-run", "--json"]


def dry_run(path: Path, config: Path, work: Path, repeats: int) -> dict[str, Any]:
    env = base_env(work)
    argv = dry_run_argv(path, config)
    runs = [run_timed(argv, env=env, cwd=work).check("dry run") for _ in range(repeats)]
    return dry_run_figures(path, runs)


def dry_run_figures(path: Path, runs: list[Timed]) -> dict[str, Any]:
    best = min(runs, key=lambda t: t.wall)
    plan = orjson.loads(best.stdout)
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "rows": plan["rows"],
        "accepted": plan["accepted"],
        "rejected": plan["rejected"],
        "duplicates": plan["duplicates"],
        "chunks": len(plan["chunks"]),
        "wall_s": best.wall,
        "walls_s": [r.wall for r in runs],
        "cpu_s": min(r.cpu for r in runs),
        "rows_per_s": plan["rows"] / best.wall,
        "peak_rss_bytes": max(r.max_rss for r in runs),
        "dedupe_set_bytes": dedupe_table_bytes(path),
    }


def dedupe_table_bytes(path: Path) -> int:
    """The de-duplication table a plan of `path` allocates: sized, as plan_file does, from
    the rows estimated from the file's size and first rows."""
    return table_bytes(expected_numbers(open_contacts(path)))


PYARROW_MODES = ("read_csv", "open_csv")
COUNTRY_CODE = "46"  # batch.default_country_code of bench_util.BENCH_CONFIG


def paired_runs(path: Path, config: Path, work: Path,
                repeats: int) -> tuple[dict[str, Any], dict[str, Any], list[float]]:
    """The dry run and pyarrow's parses of the same file, interleaved round by round: the
    machine's speed drifts over minutes, and pyarrow's multi-threaded parse feels it more
    than the dry run, so measuring one side after the other skews their ratio.
    Returns the dry run's figures, the baseline (the faster pyarrow mode, parse seconds
    without interpreter start-up) and each round's ratio."""
    env = base_env(work)
    dry_runs: list[Timed] = []
    arrow_runs: dict[str, list[Timed]] = {mode: [] for mode in PYARROW_MODES}
    parse_seconds: dict[str, list[float]] = {mode: [] for mode in PYARROW_MODES}
    polars_seconds: list[float] = []
    ratios = []
    for _ in range(repeats):
        if polars_available():
            argv = [PYTHON, str(BENCH_DIR / "polars_job.py"), str(path), COUNTRY_CODE]
            polars_seconds.append(orjson.loads(run_timed(argv).check("polars job").stdout)
                                  ["seconds"])
        parsed = {}
        for mode in PYARROW_MODES:
            argv = [PYTHON, str(BENCH_DIR / "pyarrow_parse.py"), str(path), mode]
            arrow_runs[mode].append(run_timed(argv).check(f"pyarrow {mode}"))
            parsed[mode] = orjson.loads(arrow_runs[mode][-1].stdout)["seconds"]
            parse_seconds[mode].append(parsed[mode])
        dry_runs.append(run_timed(dry_run_argv(path, config), env=env, cwd=work)
                        .check("dry run"))
        ratios.append(dry_runs[-1].wall / min(parsed.values()))
    modes: dict[str, dict[str, Any]] = {}
    for mode, runs in arrow_runs.items():
        modes[mode] = {"parse_s": min(parse_seconds[mode]),
                       "process_wall_s": min(r.wall for r in runs),
                       "peak_rss_bytes": max(r.max_rss for r in runs)}
    faster = min(modes, key=lambda m: modes[m]["parse_s"])
    baseline = {"mode": faster, "parse_s": modes[faster]["parse_s"], "modes": modes,
                "polars_job_s": min(polars_seconds) if polars_seconds else None}
    return dry_run_figures(path, dry_runs), baseline, ratios


def polars_available() -> bool:
    return importlib.util.find_spec("polars") is not None


def help_startup(repeats: int = 3) -> dict[str, Any]:
    argv = [str(CONSOLE_SCRIPT), "--help"]
    best, runs = best_of(repeats, lambda: run_timed(argv).check("--help"))
    return {"wall_s": best.wall, "walls_s": [r.wall for r in runs],
            "peak_rss_bytes": best.max_rss}


def growth_sizes(rows: int) -> tuple[int, int]:
    """Two file sizes to see what memory grows with: the main file and a tenth of it (at
    least 3M rows, past the pipeline's warm-up; the main file itself when that is
    smaller), or 3x the smaller one."""
    small = min(max(rows // 10, GROWTH_SMALL_MIN_ROWS), rows)
    return small, max(rows, 3 * small)


def ingest_section(rows: int, work: Path, repeats: int) -> dict[str, Any]:
    config = write_config(work / "basic.toml")
    main, baseline, ratios = paired_runs(sample_file(rows), config, work, repeats)
    small_rows, large_rows = growth_sizes(rows)
    measured = {rows: main}
    for size in (small_rows, large_rows):
        if size not in measured:
            measured[size] = dry_run(sample_file(size), config, work, repeats)
    small, large = measured[small_rows], measured[large_rows]
    return {
        "profile": profile(sample_file(rows), config),
        "dry_run": main,
        "pyarrow": baseline,
        "ratio_to_pyarrow": main["wall_s"] / baseline["parse_s"],
        "paired_ratios": ratios,
        "growth": {"small": small, "large": large,
                   "rss_growth_bytes": large["peak_rss_bytes"] - small["peak_rss_bytes"],
                   "dedupe_growth_bytes": large["dedupe_set_bytes"] - small["dedupe_set_bytes"]},
        "help": help_startup(),
    }


def profile(path: Path, config: Path) -> dict[str, Any]:
    """One dry run in its own process with each stage's CPU seconds (all threads)."""
    done = run_timed([PYTHON, str(BENCH_DIR / "ingest_profile.py"), str(path), str(config)]
                     ).check("ingest profile")
    found = orjson.loads(done.stdout)
    stages = found["stages"]
    stages["start-up, imports and the rest"] = max(found["cpu_s"] - sum(stages.values()), 0.0)
    return {"stages_cpu_s": stages, "cpu_s": found["cpu_s"], "wall_s": found["wall_s"]}


def strict_section(numbers_file: Path, main_file: Path, work: Path,
                   repeats: int) -> dict[str, Any]:
    """StrictValidator.check on 1M realistic normalised numbers, and what strict costs a
    dry run of the main file."""
    result: dict[str, Any] = {"check": _strict_check(numbers_file, repeats)}
    strict_config = write_config(work / "strict.toml", extra='validation = "strict"')
    basic_config = write_config(work / "basic.toml")
    env = base_env(work)
    walls: dict[str, Timed] = {}
    for label, config in (("basic", basic_config), ("strict", strict_config)):
        argv = dry_run_argv(main_file, config)
        walls[label], _ = best_of(repeats,
                                  lambda a=argv: run_timed(a, env=env, cwd=work).check("dry run"))
    strict_plan = orjson.loads(walls["strict"].stdout)
    result["dry_run"] = {
        "file": main_file.name,
        "basic_wall_s": walls["basic"].wall,
        "strict_wall_s": walls["strict"].wall,
        "strict_peak_rss_bytes": walls["strict"].max_rss,
        "strict_rejected": strict_plan["rejected"],
        "basic_rejected": orjson.loads(walls["basic"].stdout)["rejected"],
    }
    result["strict_bench_py"] = _run_strict_bench()
    return result


def _strict_check(numbers_file: Path, repeats: int) -> dict[str, Any]:
    import time

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from ingest.numbers import normalise_numbers
    from ingest.strict import StrictValidator

    wanted = 1_000_000
    phones = pacsv.read_csv(str(numbers_file), convert_options=pacsv.ConvertOptions(
        include_columns=["phone"], column_types={"phone": pa.string()})).column("phone")
    norm = normalise_numbers(phones, "46")
    digits = pc.filter(norm.digits, pc.is_null(norm.reason))
    while len(digits) < wanted:  # the sample keeps ~98 % of its rows; top up from the start
        digits = pa.concat_arrays([digits, digits.slice(0, wanted - len(digits))])
    digits = digits.slice(0, wanted)
    started = time.perf_counter()
    validator = StrictValidator(mobile_only=False)
    setup_s = time.perf_counter() - started
    timings = []
    verdicts = None
    for _ in range(repeats):
        started = time.perf_counter()
        verdicts = validator.check(digits)
        timings.append(time.perf_counter() - started)
    rejected = len(digits) - pc.sum(pc.is_null(verdicts)).as_py() if verdicts is not None else 0
    best = min(timings)
    return {"numbers": len(digits), "setup_s": setup_s, "check_s": best, "checks_s": timings,
            "rows_per_s": len(digits) / best, "rejected": rejected}


def _run_strict_bench() -> dict[str, Any]:
    """bench/strict_bench.py (its own realistic multi-country numbers), as it prints itself;
    its `StrictValidator.check ... N rows/s` line is picked out."""
    done = run_timed([PYTHON, str(BENCH_DIR / "strict_bench.py")], timeout=300)
    lines = done.stdout.strip().splitlines()
    rates = {}
    for line in lines:
        found = re.match(r"(\S.*?)\s+([\d,]+) rows/s", line)
        if found:
            rates[found.group(1)] = int(found.group(2).replace(",", ""))
    return {"returncode": done.returncode, "wall_s": done.wall, "output": lines[-10:],
            "rows_per_s": rates, "check_rows_per_s": rates.get("StrictValidator.check")}
