"""Section 3: the submission pipeline against the sandbox on this machine.

a) one 200,000-number chunk through ChunkSubmitter.submit in this process (load from
   Redis, build and sign the body, post, record in the ledger), with a breakdown;
b) a 1,000,000-row file through `submit` + `worker --processes 2 --threads 2` until every
   chunk is submitted, against bench/plain_submit.py doing the same job with no queue."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import redis
from bench_util import (
    API_KEY,
    API_SECRET,
    BENCH_DIR,
    CLI,
    PYTHON,
    SandboxProcess,
    base_env,
    run_timed,
    stop_group,
    write_config,
)

WORKER_PROCESSES, WORKER_THREADS = 2, 2
POLL_S = 0.02
DRAIN_TIMEOUT_S = 600


class _QuietLog:
    """ChunkSubmitter's logger, silenced: log rendering is not what is measured here."""

    def info(self, event: str, **fields: Any) -> None:
        pass

    def warning(self, event: str, **fields: Any) -> None:
        pass

    def error(self, event: str, **fields: Any) -> None:
        pass


def chunk_overhead(chunk_file: Path, work: Path, redis_url: str, sandbox: SandboxProcess,
                   repeats: int) -> dict[str, Any]:
    from ingest.config import load_config
    from ingest.entries import entries_json, read_entries
    from ingest.plan import plan_file
    from worker.body import build_body
    from worker.chunk_store import ChunkStore
    from worker.chunk_submitter import ChunkSubmitter, Done, ThreadLocalClients
    from worker.client import Credentials, LaafficClient
    from worker.ledger import Ledger
    from worker.policy import RetryPolicy
    from worker.submission import open_campaign

    config = load_config(write_config(work / "chunk.toml", name="overhead"))
    client = redis.Redis.from_url(redis_url)
    credentials = Credentials(API_KEY, API_SECRET)
    runs: list[dict[str, Any]] = []
    for attempt in range(repeats):
        plan = plan_file(chunk_file, config, data_dir=work / "laaffic-data",
                         run_id=f"overhead-{os.getpid()}-{attempt}", keep_entries=True)
        assert len(plan.chunks) == 1 and plan.chunks[0].count == 200_000, plan.chunks
        started = time.perf_counter()
        assert open_campaign(client, plan, config)
        store_s = time.perf_counter() - started
        # A fresh API client per run: the first send of a worker thread opens its connection.
        clients = ThreadLocalClients(lambda: LaafficClient(sandbox.url, credentials,
                                                           read_timeout=120))
        submitter = ChunkSubmitter(client, clients, RetryPolicy(), lease_seconds=200,
                                   log=_QuietLog())
        started = time.perf_counter()
        outcome = submitter.submit(plan.campaign, 0)
        submit_s = time.perf_counter() - started
        record = Ledger(client).chunk(plan.campaign, 0)
        if outcome != Done("submitted") or record is None or record.state != "submitted":
            raise RuntimeError(f"the 200k chunk was not submitted: {outcome}, {record}")
        runs.append({"submit_s": submit_s, "store_s": store_s, "campaign": plan.campaign,
                     "task_name": record.task_name,
                     "sandbox_handling_s": sandbox.handling_s(record.task_name)})
        entries_file = plan.entries_file
    best = min(runs, key=lambda r: r["submit_s"])

    # Where the time goes, piece by piece, on the same entries (a probe key and task name).
    entries = entries_json(read_entries(entries_file, 0, 200_000))
    store = ChunkStore(client)
    store.put("bench-probe", 0, entries, ttl=60)
    started = time.perf_counter()
    loaded = store.get("bench-probe", 0)
    load_s = time.perf_counter() - started
    meta = Ledger(client).meta(best["campaign"])
    assert meta is not None
    started = time.perf_counter()
    body = build_body(meta.task, "bench-probe-task", loaded)
    body_s = time.perf_counter() - started
    with LaafficClient(sandbox.url, credentials, read_timeout=120) as api:
        started = time.perf_counter()
        api.send_group_call(body)
        post_s = time.perf_counter() - started
    probe_handling = sandbox.handling_s("bench-probe-task") or 0.0
    client.close()
    return {
        "submit_s": best["submit_s"],
        "submits_s": [r["submit_s"] for r in runs],
        "open_campaign_s": best["store_s"],
        "body_bytes": len(body),
        "sandbox_handling_s": best["sandbox_handling_s"],
        "breakdown": {"redis_get_and_unzip_s": load_s, "build_body_s": body_s,
                      "post_s": post_s, "of_which_sandbox_handling_s": probe_handling,
                      "rest_ledger_lease_s": max(best["submit_s"] - load_s - body_s - post_s,
                                                 0.0)},
    }


def _wait_for_workers(log_path: Path, proc: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if len(re.findall(r"Worker process is ready", text)) >= count:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the workers exited: {text[-800:]}")
        time.sleep(0.1)
    raise RuntimeError("the workers did not become ready within 60 s")


def _drain(client: redis.Redis, campaign: str, deadline: float) -> list[Any]:
    from worker.ledger import TERMINAL_STATES, Ledger

    ledger = Ledger(client)
    while True:
        chunks = ledger.chunks(campaign)
        if chunks and all(c.state in TERMINAL_STATES for c in chunks):
            return chunks
        if time.monotonic() > deadline:
            states = [c.state for c in chunks]
            raise RuntimeError(f"{campaign}: chunks not terminal in time: {states}")
        time.sleep(POLL_S)


def _sandbox_verdict(sandbox: SandboxProcess, chunks: int, accepted: int) -> dict[str, Any]:
    stats = sandbox.stats()
    ok = (stats["tasks"] == chunks and stats["numbers"] == accepted
          and stats["distinct_numbers"] == accepted)
    return {"ok": ok, "tasks": stats["tasks"], "numbers": stats["numbers"],
            "distinct_numbers": stats["distinct_numbers"], "expected_tasks": chunks,
            "expected_numbers": accepted, "sends": stats["sends"]}


def pipeline_run(file: Path, work: Path, redis_url: str, sandbox: SandboxProcess,
                 repeats: int) -> dict[str, Any]:
    env = base_env(work, redis_url, sandbox.url)
    config = write_config(work / "pipeline.toml", name="pipe")
    log_path = work / "workers.log"
    with log_path.open("wb") as log:
        workers = subprocess.Popen(
            [*CLI, "worker", "--processes", str(WORKER_PROCESSES),
             "--threads", str(WORKER_THREADS)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    client = redis.Redis.from_url(redis_url)
    runs: list[dict[str, Any]] = []
    try:
        _wait_for_workers(log_path, workers, WORKER_PROCESSES)
        for attempt in range(repeats):
            sandbox.reset()
            argv = [*CLI, "submit", str(file), "--config", str(config), "--json",
                    "--run-id", f"pipe-{os.getpid()}-{attempt}"]
            started = time.monotonic()
            submitted = run_timed(argv, env=env, cwd=work).check("submit")
            campaign = orjson.loads(submitted.stdout)["campaign"]
            chunks = _drain(client, campaign, started + DRAIN_TIMEOUT_S)
            total = time.monotonic() - started
            accepted = sum(c.count for c in chunks)
            states = sorted({c.state for c in chunks})
            runs.append({
                "total_s": total, "submit_s": submitted.wall,
                "submit_peak_rss_bytes": submitted.max_rss,
                "workers_after_submit_s": total - submitted.wall,
                "chunks": len(chunks), "accepted": accepted, "states": states,
                "all_submitted": states == ["submitted"],
                "sandbox": _sandbox_verdict(sandbox, len(chunks), accepted),
                "attempts": [c.attempts for c in chunks],
            })
    finally:
        client.close()
        stop_group(workers)
    best = min(runs, key=lambda r: r["total_s"])
    return {**best, "totals_s": [r["total_s"] for r in runs],
            "all_runs_verified": all(r["all_submitted"] and r["sandbox"]["ok"] for r in runs)}


def plain_run(file: Path, work: Path, sandbox: SandboxProcess, repeats: int) -> dict[str, Any]:
    env = base_env(work)
    runs: list[dict[str, Any]] = []
    for attempt in range(repeats):
        sandbox.reset()
        argv = [PYTHON, str(BENCH_DIR / "plain_submit.py"), str(file), sandbox.url,
                f"plain-{os.getpid()}-{attempt}"]
        done = run_timed(argv, env=env).check("plain script")
        result = orjson.loads(done.stdout)
        runs.append({"total_s": done.wall, "peak_rss_bytes": done.max_rss,
                     "chunks": result["chunks"], "accepted": result["numbers"],
                     "sandbox": _sandbox_verdict(sandbox, result["chunks"], result["numbers"])})
    best = min(runs, key=lambda r: r["total_s"])
    return {**best, "totals_s": [r["total_s"] for r in runs],
            "all_runs_verified": all(r["sandbox"]["ok"] for r in runs)}


def pipeline_section(chunk_file: Path, pipeline_file: Path, work: Path, redis_url: str,
                     repeats: int) -> dict[str, Any]:
    sandbox = SandboxProcess(work)
    try:
        overhead = chunk_overhead(chunk_file, work, redis_url, sandbox, repeats)
        pipeline = pipeline_run(pipeline_file, work, redis_url, sandbox, repeats)
        plain = plain_run(pipeline_file, work, sandbox, repeats)
    finally:
        sandbox.stop()
    return {"chunk_overhead": overhead, "pipeline": pipeline, "plain_script": plain,
            "ratio_to_plain": pipeline["total_s"] / plain["total_s"]}
