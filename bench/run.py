"""`make bench`: how fast laaffic-batch ingests and submits, against the issue's targets.

    .venv/bin/python bench/run.py [--rows N] [--repeats 2] [--only ingest,strict,pipeline]

Generates the sample contact lists under bench/data/ (reused for the same rows and seed),
runs every measurement `--repeats` times keeping the best (the machine is shared), prints
a table and writes bench/results.json. Everything it starts (sandbox, workers, a
redis-server when 6379 is silent) it stops; its Redis database is flushed before and after."""

from __future__ import annotations

import argparse
import platform
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from bench_util import BENCH_DIR, clean_chunk_file, gib, owned_redis, sample_file
from ingest_bench import ingest_section, strict_section
from pipeline_bench import pipeline_section

SECTIONS = ("ingest", "strict", "pipeline")
PIPELINE_ROWS = 1_000_000
STRICT_NUMBERS_ROWS = 1_000_000
TARGET_ROWS = 10_000_000  # the ingest ratio target is stated for a 10M-row file
RSS_LIMIT = 1.5 * 2**30
RSS_GROWTH_SLACK = 64 * 2**20  # allocator noise allowed on top of the dedupe table's growth


@dataclass
class Row:
    what: str
    value: str
    target: str = ""
    verdict: str = ""  # "ok", "MISSED ..." or "" when there is no target


def _verdict(met: bool, miss: str) -> str:
    return "ok" if met else f"MISSED {miss}"


def _ingest_rows(r: dict[str, Any], rows: int) -> list[Row]:
    dry, arrow, growth = r["dry_run"], r["pyarrow"], r["growth"]
    ratio = r["ratio_to_pyarrow"]
    ratio_target = "<= 3.0" + ("" if rows >= TARGET_ROWS else " at 10M rows")
    ratio_verdict = _verdict(ratio <= 3.0, f"by {ratio - 3.0:.2f}x ({ratio / 3.0 - 1:.0%} over)")
    if rows < TARGET_ROWS and ratio > 3.0:
        ratio_verdict = "see make bench ROWS=10000000"  # startup weighs more on small files
    grew, dedupe = growth["rss_growth_bytes"], growth["dedupe_growth_bytes"]
    return [
        Row(f"dry run {dry['rows']:,} rows ({gib(dry['file_bytes'])}): wall",
            f"{dry['wall_s']:.2f} s ({dry['rows_per_s'] / 1e6:.2f} M rows/s)"),
        Row(f"pyarrow alone ({arrow['mode']}, parse only)", f"{arrow['parse_s']:.2f} s"),
        Row("dry run / pyarrow", f"{ratio:.2f}x", ratio_target, ratio_verdict),
        Row("  the same, round by round (interleaved)",
            " ".join(f"{x:.2f}x" for x in r["paired_ratios"])
            + f" (median {statistics.median(r['paired_ratios']):.2f}x)"),
        *(Row(f"  pyarrow {mode} alone: {m['parse_s']:.2f} s", f"dry run / it: "
              f"{dry['wall_s'] / m['parse_s']:.2f}x")
          for mode, m in arrow["modes"].items() if mode != arrow["mode"]),
        Row("dry run CPU (user + system, all threads)", f"{dry['cpu_s']:.2f} s"),
        Row("polars doing the job (bench/polars_job.py)",
            f"{arrow['polars_job_s']:.2f} s (dry run / it: "
            f"{dry['wall_s'] / arrow['polars_job_s']:.2f}x)" if arrow["polars_job_s"]
            else "skipped: polars is not installed (make bench installs it)"),
        Row("dry run peak RSS", gib(dry["peak_rss_bytes"]), "< 1.5 GiB",
            _verdict(dry["peak_rss_bytes"] < RSS_LIMIT,
                     f"by {gib(dry['peak_rss_bytes'] - RSS_LIMIT)}")),
        Row(f"peak RSS {growth['small']['rows']:,} -> {growth['large']['rows']:,} rows",
            f"{gib(growth['small']['peak_rss_bytes'])} -> "
            f"{gib(growth['large']['peak_rss_bytes'])}: +{gib(grew)} "
            f"(dedupe table +{gib(dedupe)})", f"<= dedupe table's + {gib(RSS_GROWTH_SLACK)}",
            _verdict(grew <= dedupe + RSS_GROWTH_SLACK,
                     f"by {gib(grew - dedupe - RSS_GROWTH_SLACK)}")),
        Row("`laaffic-batch --help` startup", f"{r['help']['wall_s'] * 1000:.0f} ms"),
        *_profile_rows(r["profile"]),
    ]


def _profile_rows(profile: dict[str, Any]) -> list[Row]:
    """The dry run's CPU by stage (one instrumented run; shares of its CPU seconds)."""
    stages, total = profile["stages_cpu_s"], profile["cpu_s"]
    ordered = sorted(stages.items(), key=lambda item: -item[1])
    return [Row(f"  {'CPU by stage: ' if i == 0 else ''}{stage}",
                f"{seconds:.2f} s ({seconds / total:.0%})")
            for i, (stage, seconds) in enumerate(ordered)]


def _strict_rows(r: dict[str, Any]) -> list[Row]:
    check, dry = r["check"], r["dry_run"]
    rows: list[Row] = []
    own = (r.get("strict_bench_py") or {}).get("check_rows_per_s")
    if own:
        rows.append(Row("StrictValidator.check, 1M mixed-country (strict_bench.py)",
                        f"{own / 1000:.0f}k rows/s", ">= 300k rows/s",
                        _verdict(own >= 300_000, f"by {(300_000 - own) / 1000:.0f}k rows/s")))
    rate = check["rows_per_s"]
    rows += [
        Row(f"StrictValidator.check, {check['numbers']:,} sample numbers",
            f"{rate / 1000:.0f}k rows/s (best {check['check_s']:.2f} s, first call "
            f"{check['checks_s'][0]:.2f} s)", ">= 300k rows/s",
            _verdict(rate >= 300_000, f"by {(300_000 - rate) / 1000:.0f}k rows/s")),
        Row(f"dry run {dry['file']}: basic vs strict",
            f"{dry['basic_wall_s']:.2f} s vs {dry['strict_wall_s']:.2f} s "
            f"(+{dry['strict_wall_s'] - dry['basic_wall_s']:.2f} s)"),
    ]
    return rows


def _pipeline_rows(r: dict[str, Any]) -> list[Row]:
    over, pipe, plain = r["chunk_overhead"], r["pipeline"], r["plain_script"]
    parts = over["breakdown"]
    ratio = r["ratio_to_plain"]
    verified = pipe["all_runs_verified"] and plain["all_runs_verified"]
    return [
        Row("one 200k chunk: ChunkSubmitter.submit", f"{over['submit_s']:.2f} s", "< 1.5 s",
            _verdict(over["submit_s"] < 1.5, f"by {over['submit_s'] - 1.5:.2f} s")),
        Row("  pieces: Redis get+unzip / body / POST",
            f"{parts['redis_get_and_unzip_s']:.2f} / {parts['build_body_s']:.2f} / "
            f"{parts['post_s']:.2f} s (sandbox's own share of the submit: "
            f"{over['sandbox_handling_s'] or 0:.2f} s)"),
        Row(f"pipeline {pipe['accepted']:,} numbers, {pipe['chunks']} chunks",
            f"{pipe['total_s']:.2f} s (submit {pipe['submit_s']:.2f} s + workers "
            f"{pipe['workers_after_submit_s']:.2f} s)"),
        Row("plain script (pandas + requests)", f"{plain['total_s']:.2f} s"),
        Row("pipeline / plain script", f"{ratio:.2f}x", "< 3x",
            _verdict(ratio < 3.0, f"by {ratio - 3.0:.2f}x")),
        Row("all chunks submitted, each number once", "yes" if verified else "NO",
            "yes", _verdict(verified, "see results.json")),
    ]


def _print_table(rows: list[Row], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("measurement", "value", "target", "verdict"):
        table.add_column(column)
    for row in rows:
        style = "red" if row.verdict.startswith("MISSED") else None
        table.add_row(row.what, row.value, row.target, row.verdict, style=style)
    Console(width=150).print(table)


def _timed_section(name: str, run: Callable[[], dict[str, Any]],
                   results: dict[str, Any]) -> None:
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        results[name] = run()
    except Exception as exc:  # one broken section must not hide the others' figures
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr,
          flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the ingest file")
    parser.add_argument("--repeats", type=int, default=2, help="runs per measurement (best kept)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections of {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.rows < 1:
        parser.error("--rows and --repeats must be at least 1")
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}")

    # A SIGTERM (make killed, CI timeout) unwinds like Ctrl-C, so the sandbox, the workers
    # and the Redis database are cleaned up by the same finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    print(f"[bench] preparing inputs under {BENCH_DIR / 'data'}", file=sys.stderr, flush=True)
    main_file = sample_file(args.rows)
    results: dict[str, Any] = {
        "rows": args.rows, "repeats": args.repeats, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": _cpus(), "python": platform.python_version(),
                    "platform": platform.platform()},
    }
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="laaffic-bench-") as tmp:
        work = Path(tmp)
        if "ingest" in sections:
            _timed_section("ingest", lambda: ingest_section(args.rows, work, args.repeats),
                           results)
        if "strict" in sections:
            _timed_section("strict", lambda: strict_section(
                sample_file(STRICT_NUMBERS_ROWS), main_file, work, args.repeats), results)
        if "pipeline" in sections:
            pipeline_file = sample_file(PIPELINE_ROWS)
            chunk_file = clean_chunk_file()
            with owned_redis(work) as redis_url:
                _timed_section("pipeline", lambda: pipeline_section(
                    chunk_file, pipeline_file, work, redis_url, args.repeats), results)
    results["bench_wall_s"] = time.monotonic() - started

    errors = []
    for name, render in (("ingest", lambda r: _ingest_rows(r, args.rows)),
                         ("strict", _strict_rows), ("pipeline", _pipeline_rows)):
        if name not in results:
            continue
        if "error" in results[name]:
            errors.append(name)
            rows.append(Row(name, f"ERROR {results[name]['error']}", "", "n/a"))
        else:
            rows.append(Row(name.upper(), ""))
            rows.extend(render(results[name]))
    results["table"] = [row.__dict__ for row in rows]
    out = BENCH_DIR / "results.json"
    out.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    _print_table(rows, f"laaffic-batch bench: {args.rows:,} rows, best of {args.repeats}, "
                       f"{_cpus()} cores, {results['bench_wall_s']:.0f} s")
    print(f"results written to {out}")
    return 1 if errors else 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
