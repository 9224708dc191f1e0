"""`status` and `submit --wait`: read a campaign from the ledger, optionally until every
chunk is terminal, then print the contract's JSON or a table."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from ingest.errors import LaafficError
from worker.ledger import TERMINAL_STATES, CampaignMeta, Ledger, campaign_view

EXIT_OK, EXIT_FAILED, EXIT_TIMEOUT = 0, 3, 4
POLL_SECONDS = 0.5


def _terminal(view: dict[str, Any]) -> int:
    return sum(1 for c in view["chunks"] if c["state"] in TERMINAL_STATES)


def _campaign_state(meta: CampaignMeta, view: dict[str, Any]) -> str:
    done = _terminal(view)
    if done == len(view["chunks"]):
        return "completed"
    if meta.not_before and time.time() < meta.not_before:
        return "scheduled"
    return "active"


class _WaitProgress:
    """Chunks terminal / total on stderr: a bar on a terminal, a line on change otherwise."""

    def __init__(self, campaign: str, total: int) -> None:
        self.campaign, self.total, self.last = campaign, total, -1
        self.bar: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), console=Console(stderr=True),
                                transient=True)
            self.bar.start()
            self.task = self.bar.add_task(f"{campaign} chunks done", total=total)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)
        elif done != self.last:
            print(f"{self.campaign}: {done}/{self.total} chunks done", file=sys.stderr)
        self.last = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _poll(ledger: Ledger, campaign: str, total: int, done: int, deadline: float | None,
          progress: _WaitProgress) -> bool:
    """Poll the campaign's counters (one HMGET each time) until no chunk is outstanding;
    True when the deadline came first."""
    outstanding = total - done
    while outstanding > 0:
        progress.update(total - outstanding)
        if deadline is not None and time.monotonic() >= deadline:
            return True
        time.sleep(POLL_SECONDS)
        latest = ledger.outstanding(campaign)
        if latest is not None:  # a campaign deleted meanwhile keeps its last count
            outstanding = latest
    return False


def follow_campaign(campaign: str, *, wait: bool, timeout: float | None, as_json: bool) -> int:
    from worker.connection import redact_url, redis_client, resolve_redis_url

    url = resolve_redis_url()
    ledger = Ledger(redis_client(url))
    meta = ledger.meta(campaign)  # read once: it never changes after submit
    if meta is None:
        raise LaafficError(f"campaign {campaign!r} not found in the Redis at {redact_url(url)}; "
                           "use the id printed by submit and the same REDIS_URL")
    view = campaign_view(meta, ledger.chunks(campaign))
    timed_out = False
    if wait:
        deadline = None if timeout is None else time.monotonic() + timeout
        total = len(view["chunks"])
        progress = _WaitProgress(campaign, total)
        try:
            # The chunks are read again only once the counters say all are terminal (or
            # time is up); a `retry` in between sends us back to polling.
            while _terminal(view) < total and not timed_out:
                timed_out = _poll(ledger, campaign, total, _terminal(view), deadline, progress)
                records = ledger.chunks(campaign)
                if records:  # a campaign deleted meanwhile keeps its last view
                    view = campaign_view(meta, records)
            progress.update(_terminal(view))
        finally:
            progress.close()
    if as_json:
        sys.stdout.write(json.dumps(view, ensure_ascii=False) + "\n")
    else:
        from laaffic_batch.render import render_status

        print(render_status(view, {"state": _campaign_state(meta, view)}))
    if timed_out:
        print(f"laaffic-batch: --timeout {timeout:g}s reached with "
              f"{len(view['chunks']) - _terminal(view)} chunk(s) not yet terminal",
              file=sys.stderr)
        return EXIT_TIMEOUT
    if wait and any(c["state"] == "failed" for c in view["chunks"]):
        return EXIT_FAILED
    return EXIT_OK
