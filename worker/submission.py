"""From a plan to queued work: store every chunk's entries, open the campaign in the
ledger, enqueue one message per chunk.

The campaign appears in the ledger in one atomic step only after all its chunks are
stored, so a crash or a bad file never leaves half a campaign. Submitting the same
campaign again enqueues nothing new (unless the earlier submit died before its
messages were all queued, which the ledger's `enqueued` mark tells)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from ingest.config import CampaignConfig
from ingest.entries import entries_json, read_entries
from ingest.errors import LaafficError
from ingest.memory import bulk_mode
from ingest.plan import ChunkSpec, Plan, ProgressCallback, plan_file
from worker.chunk_store import ChunkStore
from worker.connection import data_dir, redis_client
from worker.ledger import CampaignMeta, ChunkPlan, Ledger

# The batch settings the worker reads from the campaign's meta (worker/chunk_submitter.py,
# worker/outcomes.py); the rest of [batch] is used up by planning.
WORKER_SETTINGS = ("max_attempts", "max_age", "max_in_flight", "provider_timezone",
                   "webhook_url")
# Chunks are encoded (JSON, zlib) and stored on a thread per core (at most 4): both release
# the GIL, and a 200,000-entry chunk is ~0.1 s of it.
STORE_THREADS = min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class SubmitOutcome:
    campaign: str
    created: bool
    enqueued: int
    message: str


def parse_at(value: str) -> float:
    """An ISO 8601 time with an offset or Z, as epoch seconds."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise LaafficError(f"--at {value!r} is not an ISO time such as "
                           "2026-11-24T01:30:00+01:00") from None
    if moment.tzinfo is None:
        raise LaafficError(f"--at {value!r} has no UTC offset; write it like "
                           "2026-11-24T01:30:00+01:00 so the start time is unambiguous")
    return moment.timestamp()


def _settings(config: CampaignConfig) -> dict[str, Any]:
    return {key: getattr(config.batch, key) for key in WORKER_SETTINGS}


def _enqueue(campaign: str, indices: list[int], not_before: float | None) -> int:
    from worker.actors import submit_chunk  # creates the broker: only when sending

    delay_ms = None
    if not_before is not None:
        delay_ms = max(int((not_before - time.time()) * 1000), 0) or None
    for index in indices:
        submit_chunk.send_with_options(args=(campaign, index), delay=delay_ms)
    return len(indices)


def open_campaign(client: redis.Redis, plan: Plan, config: CampaignConfig,
                  not_before: float | None = None, job_id: str | None = None,
                  on_progress: ProgressCallback | None = None) -> bool:
    """Store every chunk's entries, then create the campaign in the ledger in one atomic
    step. False when the campaign already existed (nothing changed). on_progress(done,
    total) after each chunk stored."""
    ledger = Ledger(client)
    if ledger.exists(plan.campaign):
        return False
    _store_chunks(ChunkStore(client), plan, float(config.batch.chunk_ttl), on_progress)
    meta = CampaignMeta(
        campaign=plan.campaign, rows=plan.rows, accepted=plan.accepted,
        rejected=plan.rejected, duplicates=plan.duplicates,
        rejects_file=str(plan.rejects_file), task=dict(config.task),
        settings=_settings(config), created_at=time.time(), not_before=not_before,
        job_id=job_id,
    )
    chunks = [ChunkPlan(c.index, c.task_name, c.count) for c in plan.chunks]
    return ledger.create_campaign(meta, chunks)


def _store_chunks(store: ChunkStore, plan: Plan, ttl: float,
                  on_progress: ProgressCallback | None) -> None:
    """Every chunk's entries into the store, STORE_THREADS at a time; the first error
    stops the rest and is raised."""
    if not plan.chunks:
        return
    entries_file = plan.entries_file
    assert entries_file is not None, "plan without entries: was it a dry run?"

    def store_one(chunk: ChunkSpec) -> None:
        entries = read_entries(entries_file, chunk.start, chunk.count)
        store.put(plan.campaign, chunk.index, entries_json(entries), ttl)

    # bulk_mode: each chunk's tens of MB of JSON and Arrow scratch reuse the memory the
    # previous chunk freed, instead of fresh pages that fault in one by one.
    with bulk_mode(), ThreadPoolExecutor(max_workers=STORE_THREADS,
                                         thread_name_prefix="store-chunk") as pool:
        futures = [pool.submit(store_one, chunk) for chunk in plan.chunks]
        try:
            for done, future in enumerate(futures, start=1):
                future.result()
                if on_progress is not None:
                    on_progress(done, len(futures))
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def submit_plan(plan: Plan, config: CampaignConfig, at: str | None = None,
                job_id: str | None = None,
                on_progress: ProgressCallback | None = None) -> SubmitOutcome:
    """Store the plan's chunks, open the campaign and queue its messages. on_progress:
    chunks stored so far, of all."""
    not_before = parse_at(at) if at else None
    client = redis_client()
    ledger = Ledger(client)
    try:
        if not open_campaign(client, plan, config, not_before, job_id, on_progress):
            return _resume(ledger, plan)
        enqueued = _enqueue(plan.campaign, [c.index for c in plan.chunks], not_before)
        ledger.mark_enqueued(plan.campaign)
    finally:
        # The numbers now live in the chunk store (or nowhere, if nothing was accepted).
        if plan.entries_file is not None:
            plan.entries_file.unlink(missing_ok=True)
    when = (f", starting at {datetime.fromtimestamp(not_before, tz=UTC).isoformat()}"
            if not_before else "")
    return SubmitOutcome(plan.campaign, True, enqueued,
                         f"{plan.campaign}: {enqueued} chunk(s) queued{when}")


def _resume(ledger: Ledger, plan: Plan) -> SubmitOutcome:
    if ledger.is_enqueued(plan.campaign):
        return SubmitOutcome(plan.campaign, False, 0,
                             f"{plan.campaign}: already submitted; nothing new queued")
    meta = ledger.meta(plan.campaign)
    pending = [c.index for c in ledger.chunks(plan.campaign) if c.state == "pending"]
    enqueued = _enqueue(plan.campaign, pending, meta.not_before if meta else None)
    ledger.mark_enqueued(plan.campaign)
    return SubmitOutcome(plan.campaign, False, enqueued,
                         f"{plan.campaign}: an earlier submit stopped before queueing; "
                         f"{enqueued} chunk(s) queued now")


def submit_file(path: Path, config: CampaignConfig, *, run_id: str = "",
                sheet: str | int | None = None, at: str | None = None,
                job_id: str | None = None,
                on_progress: ProgressCallback | None = None,
                on_store_progress: ProgressCallback | None = None,
                ) -> tuple[Plan, SubmitOutcome]:
    """Plan a contact file and submit it: the one path every intake (CLI, folder watcher,
    pushed job) takes. on_progress: bytes read of the file's; on_store_progress: chunks
    stored of all."""
    if at:
        parse_at(at)  # refuse a bad --at before reading a large file
    plan = plan_file(path, config, data_dir=data_dir(), run_id=run_id, sheet=sheet,
                     keep_entries=True, on_progress=on_progress)
    return plan, submit_plan(plan, config, at=at, job_id=job_id,
                             on_progress=on_store_progress)


def retry_failed(campaign: str) -> list[int]:
    ledger = Ledger(redis_client())
    if not ledger.exists(campaign):
        raise LaafficError(f"campaign {campaign!r} not found; `laaffic-batch retry` needs "
                           "the id printed by submit (and the same REDIS_URL)")
    reset = ledger.reset_failed(campaign)
    if reset:
        _enqueue(campaign, reset, None)
    return reset
