"""The results stream: one entry per chunk reaching a terminal state and one per campaign
when all its chunks are terminal, for programs that pushed jobs (CONTRACT.md, Intake).

Entries carry ids, states and provider errors only, never phone numbers. The stream is
capped (approximately) so an always-on installation does not grow without bound."""

from __future__ import annotations

import os

import orjson
import redis

from worker.ledger import CampaignMeta, ChunkRecord

DEFAULT_RESULTS_STREAM = "laaffic:results"
RESULTS_MAXLEN = 100_000  # approximate (MAXLEN ~): Redis trims whole nodes, cheaply


def results_stream() -> str:
    """LAAFFIC_RESULTS_STREAM, default laaffic:results."""
    return os.environ.get("LAAFFIC_RESULTS_STREAM", "").strip() or DEFAULT_RESULTS_STREAM


def publish_chunk_result(client: redis.Redis, meta: CampaignMeta, record: ChunkRecord) -> bytes:
    """XADD the chunk's terminal outcome; returns the entry id."""
    fields = {
        "job_id": meta.job_id or "",
        "campaign": meta.campaign,
        "task_name": record.task_name,
        "key_id": "" if record.key_id is None else str(record.key_id),
        "state": record.state,
        "error": orjson.dumps(record.error).decode() if record.error is not None else "",
    }
    return _add(client, fields)


def publish_campaign_completed(client: redis.Redis, meta: CampaignMeta, submitted: int,
                               failed: int) -> bytes:
    """XADD the campaign's completion (chunk counts per terminal state)."""
    fields = {
        "job_id": meta.job_id or "",
        "campaign": meta.campaign,
        "state": "completed",
        "submitted": str(submitted),
        "failed": str(failed),
    }
    return _add(client, fields)


def _add(client: redis.Redis, fields: dict[str, str]) -> bytes:
    return client.xadd(results_stream(), fields,  # type: ignore[arg-type]
                       maxlen=RESULTS_MAXLEN, approximate=True)
