"""`laaffic-batch progress`: how the provider is getting on with each submitted chunk.

One paged query by the campaign id (every task name starts with it) answers for all the
chunks at once; a chunk the query does not list is asked for by its keyId (detail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from ingest.errors import LaafficError
from worker.client import Credentials, LaafficClient, as_int, base_url_from_env, task_job_id
from worker.connection import redis_client
from worker.errors import SubmitError
from worker.ledger import ChunkRecord, Ledger

# The query endpoint's task status, in words.
PROVIDER_STATUS = {
    0: "waiting",
    1: "calling",
    2: "completed",
    3: "submission failed",
    4: "cancelled",
    5: "suspended",
    6: "submitting",
}
# The provider's clock and ours may disagree by a time zone: search a wide window.
QUERY_MARGIN = timedelta(days=1)


def campaign_progress(campaign: str, client: redis.Redis | None = None,
                      api: LaafficClient | None = None) -> dict[str, Any]:
    """JSON-able progress: per chunk the ledger's view plus the provider's status, calls,
    success, fail and rate (percent); totals over the chunks the provider knows. Raises
    LaafficError for an unknown campaign, CredentialsError without credentials."""
    ledger = Ledger(client or redis_client())
    meta = ledger.meta(campaign)
    if meta is None:
        raise LaafficError(f"campaign {campaign!r} not found; `laaffic-batch progress` needs "
                           "the id printed by submit (and the same REDIS_URL)")
    records = ledger.chunks(campaign)
    own_api = api is None
    if api is None:
        api = LaafficClient(base_url_from_env(), Credentials.from_env())
    try:
        by_job_id = _query_campaign(api, campaign, meta.created_at)
        chunks = [_chunk_progress(api, record, by_job_id) for record in records]
    finally:
        if own_api:
            api.close()
    known = [c for c in chunks if c["provider_status"] is not None]
    return {
        "campaign": campaign,
        "queried_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "chunks": chunks,
        "totals": {
            "numbers": sum(c["count"] for c in chunks),
            "tasks": len(known),
            "calls": sum(c["calls"] or 0 for c in known),
            "success": sum(c["success"] or 0 for c in known),
            "fail": sum(c["fail"] or 0 for c in known),
        },
    }


def _query_campaign(api: LaafficClient, campaign: str, created_at: float) -> dict[int, dict]:
    start = datetime.fromtimestamp(created_at, tz=UTC) - QUERY_MARGIN
    end = datetime.now(UTC) + QUERY_MARGIN
    try:
        found = api.query_tasks(campaign, start, end)
    except SubmitError as exc:
        raise LaafficError(f"the provider's task query failed ({exc}); check "
                           "LAAFFIC_BASE_URL and the credentials, then run again") from exc
    tasks: dict[int, dict] = {}
    for record in found:
        job_id = task_job_id(record)
        if job_id is not None:
            tasks[job_id] = record
    return tasks


def _chunk_progress(api: LaafficClient, record: ChunkRecord, by_job_id: dict[int, dict]) -> dict:
    entry: dict[str, Any] = {
        "index": record.index, "task_name": record.task_name, "key_id": record.key_id,
        "count": record.count, "state": record.state, "provider_status": None,
        "provider_status_text": None, "calls": None, "success": None, "fail": None,
        "rate": None, "error": None,
    }
    if record.key_id is None:
        return entry
    task = by_job_id.get(record.key_id)
    if task is None:
        try:
            task = api.task_detail(record.key_id)
        except SubmitError as exc:
            entry["error"] = str(exc)
            return entry
    status = as_int(task.get("status"))
    entry.update({
        "provider_status": status,
        "provider_status_text": PROVIDER_STATUS.get(status, f"unknown ({status})")
        if status is not None else None,
        "calls": as_int(task.get("callNum", task.get("callTotal"))),
        "success": as_int(task.get("success")),
        "fail": as_int(task.get("fail")),
        "rate": _float(task.get("rate")),
    })
    return entry


def render_progress(progress: dict[str, Any]) -> str:
    """A table for people: one line per chunk, then the totals."""
    header = (f"  {'#':>4}  {'task name':<40} {'key id':>10} {'numbers':>9}  "
              f"{'provider status':<17} {'calls':>9} {'success':>9} {'fail':>9} {'rate':>7}")
    lines = [f"Campaign {progress['campaign']}  (provider asked at {progress['queried_at']})",
             header]
    for chunk in progress["chunks"]:
        if chunk["provider_status"] is not None:
            status = chunk["provider_status_text"]
        elif chunk["error"]:
            status = "unknown"
        else:
            status = f"not sent ({chunk['state']})"
        rate = f"{chunk['rate']:.1f}%" if chunk["rate"] is not None else "-"
        key_id = chunk["key_id"] if chunk["key_id"] is not None else "-"
        lines.append(
            f"  {chunk['index']:>4}  {chunk['task_name']:<40} {key_id:>10} "
            f"{chunk['count']:>9,}  {status:<17} {_n(chunk['calls']):>9} "
            f"{_n(chunk['success']):>9} {_n(chunk['fail']):>9} {rate:>7}"
            + (f"  {chunk['error']}" if chunk["error"] else ""))
    totals = progress["totals"]
    lines.append(f"  total: {totals['numbers']:,} numbers in {len(progress['chunks'])} chunk(s); "
                 f"{totals['tasks']} task(s) at the provider: {totals['calls']:,} calls, "
                 f"{totals['success']:,} success, {totals['fail']:,} fail")
    return "\n".join(lines)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).strip().rstrip("%"))
    except ValueError:
        return None
