"""A campaign's report: report.json (the contract's JSON plus the outcome) and report.csv
(one row per chunk), under <data dir>/<campaign>/.

Written once by the worker whose transition completed the campaign (worker/outcomes.py),
again if a `retry` completes it a second time, and on demand by `laaffic-batch report`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from ingest.errors import LaafficError
from worker.connection import data_dir, redis_client
from worker.ledger import TERMINAL_STATES, CampaignMeta, ChunkRecord, Ledger, campaign_view
from worker.paths import replace_file, replace_json_file

CSV_COLUMNS = ("index", "task_name", "key_id", "count", "state", "attempts", "error")


def build_report(meta: CampaignMeta, records: list[ChunkRecord]) -> dict[str, Any]:
    """The contract's JSON (ledger view) plus "state", "completed_at", "submitted" and
    "failed" (chunk counts), from meta and chunk records already read (no Redis).
    completed_at is when the last chunk became terminal (ISO 8601, UTC); state is
    "completed" then, else "in_progress" and completed_at null."""
    complete = all(record.state in TERMINAL_STATES for record in records)
    completed_at: str | None = None
    if complete:
        finished = max((record.updated_at or 0.0 for record in records), default=0.0)
        moment = finished or meta.created_at
        completed_at = datetime.fromtimestamp(moment, tz=UTC).isoformat(timespec="seconds")
    states = [record.state for record in records]
    return {
        **campaign_view(meta, records),
        "state": "completed" if complete else "in_progress",
        "completed_at": completed_at,
        "submitted": states.count("submitted"),
        "failed": states.count("failed"),
    }


def default_report_path(campaign: str) -> Path:
    return data_dir() / campaign / "report.json"


def save_report(report: dict[str, Any], json_path: Path) -> Path:
    """Write report.json at json_path and the CSV beside it (same name, .csv), each replaced
    in one step so a reader never sees half a file. Returns json_path."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    replace_json_file(json_path, report)
    replace_file(json_path.with_suffix(".csv"), _csv_bytes(report["chunks"]))
    return json_path


def write_report(campaign: str, out: Path | None = None,
                 client: redis.Redis | None = None) -> Path:
    """Write the campaign's report now (report.json and report.csv; with `out`, out and
    out.with_suffix(".csv")). Returns the JSON path."""
    if out is not None and out.suffix.lower() == ".csv":
        raise LaafficError(f"--out {out} names the CSV; give the JSON path (e.g. "
                           f"{out.with_suffix('.json')}) and the CSV is written beside it")
    ledger = Ledger(client or redis_client())
    meta = ledger.meta(campaign)
    if meta is None:
        raise LaafficError(f"campaign {campaign!r} not found; `laaffic-batch report` needs "
                           "the id printed by submit (and the same REDIS_URL)")
    return save_report(build_report(meta, ledger.chunks(campaign)),
                       out or default_report_path(campaign))


def _error_text(error: dict | None) -> str:
    if not error:
        return ""
    status, reason = error.get("status"), error.get("reason")
    return f"status {status}: {reason}" if status is not None else str(reason or "")


def _csv_bytes(chunks: list[dict[str, Any]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for chunk in chunks:
        writer.writerow([chunk["index"], chunk["task_name"],
                         "" if chunk["key_id"] is None else chunk["key_id"],
                         chunk["count"], chunk["state"], chunk["attempts"],
                         _error_text(chunk["error"])])
    return buffer.getvalue().encode("utf-8")
