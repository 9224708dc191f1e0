"""Where a dry run's CPU goes: `laaffic-batch submit FILE --config CONFIG --dry-run --json`
run in this process with each stage's functions timed in CPU seconds of the thread that
runs them (the plan runs on several threads at once, so wall-clock time per function
would count the other threads' work too).

Run by bench/run.py as its own process: `python bench/ingest_profile.py FILE CONFIG`.
Prints {"wall_s", "cpu_s", "stages": {stage: CPU seconds}}."""

from __future__ import annotations

import contextlib
import io
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

_spent: dict[str, float] = {}
_lock = threading.Lock()


def _add(stage: str, seconds: float) -> None:
    with _lock:
        _spent[stage] = _spent.get(stage, 0.0) + seconds


def _timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            _add(stage, time.thread_time() - started)
    return timed


def _timed_generator(stage: str, function: Callable[..., Iterator[Any]]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        items = function(*args, **kwargs)
        while True:
            started = time.thread_time()
            try:
                item = next(items)
            except StopIteration:
                return
            finally:
                _add(stage, time.thread_time() - started)
            yield item
    return timed


def _instrument() -> None:
    import ingest.digest as digest
    import ingest.memory as memory
    import ingest.plan as plan
    import ingest.readers as readers

    readers.ContactTable.batches = _timed_generator(  # type: ignore[method-assign]
        "parse (pyarrow CSV, UTF-8 check, rebatch)", readers.ContactTable.batches)
    plan._Planner.prepare = _timed(  # type: ignore[method-assign]
        "normalise numbers", plan._Planner.prepare)
    plan.SeenNumbers.add_batch = _timed(  # type: ignore[method-assign]
        "de-duplicate (hash table)", plan.SeenNumbers.add_batch)
    plan.RowLogWriter.write = _timed(  # type: ignore[method-assign]
        "rejects and duplicates files", plan.RowLogWriter.write)
    plan._Planner.add = _timed("per-batch total", plan._Planner.add)  # type: ignore[method-assign]
    digest.FileDigest._run = _timed(  # type: ignore[method-assign]
        "file digest (BLAKE3)", digest.FileDigest._run)
    memory._populate = _timed("dedupe table pages (populate)", memory._populate)


def main() -> int:
    path, config = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    from laaffic_batch.cli import configure_process
    from laaffic_batch.cli import main as cli_main

    configure_process()  # before _instrument imports pyarrow, as the command does
    _instrument()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli_main(["submit", path, "--config", config, "--dry-run", "--json"])
    wall = time.perf_counter() - started
    if code:
        return code
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stages = dict(_spent)
    nested = sum(stages.get(s, 0.0) for s in ("de-duplicate (hash table)",
                                              "rejects and duplicates files"))
    stages["other per-batch work (masks, takes, counts)"] = max(
        stages.pop("per-batch total", 0.0) - nested, 0.0)
    sys.stdout.write(orjson.dumps({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                                   "stages": stages}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
