"""Where a dry run's time goes: plan_file under cProfile, summed into the planning stages.

Run by bench/run.py as its own process: `python bench/ingest_profile.py FILE CONFIG`.
Prints {"total_s", "stages": {stage: seconds}}; the profiler adds a little to Python-heavy
stages, but the stages are mostly Arrow and numpy calls, which it does not slow down."""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import orjson

# (file name ending, function name) per stage; cumulative times, so nested stages are
# listed once, at their outermost function.
STAGES: dict[str, list[tuple[str, str]]] = {
    "read (pyarrow CSV, rebatch)": [("ingest/readers.py", "batches")],
    "normalise_numbers": [("ingest/numbers.py", "normalise_numbers")],
    "dedupe (SeenNumbers)": [("ingest/dedupe.py", "add_batch")],
    "strict validation": [("ingest/strict.py", "check")],
    "accepted entries": [("ingest/plan.py", "_accept")],
    "rejects/duplicates files": [("ingest/rejects.py", "write")],
}


def _cumulative(stats: pstats.Stats, where: list[tuple[str, str]]) -> float:
    total = 0.0
    for (filename, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if any(filename.endswith(end) and function == name for end, name in where):
            total += row[3]
    return total


def main() -> int:
    from ingest.config import load_config
    from ingest.plan import plan_file

    path, config_path = Path(sys.argv[1]), sys.argv[2]
    config = load_config(config_path)
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="laaffic-profile-") as tmp:
        started = time.perf_counter()
        profile.enable()
        plan_file(path, config, data_dir=Path(tmp))
        profile.disable()
        total = time.perf_counter() - started
    stats = pstats.Stats(profile)
    stages = {stage: _cumulative(stats, where) for stage, where in STAGES.items()}
    stages = {stage: seconds for stage, seconds in stages.items() if seconds > 0}
    stages["other (masks, texts, takes, digest wait)"] = max(total - sum(stages.values()), 0.0)
    sys.stdout.write(orjson.dumps({"total_s": total, "stages": stages}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
