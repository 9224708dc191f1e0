"""What happens once, when a campaign's last chunk reaches a terminal state."""

from __future__ import annotations

from typing import Any

from worker.ledger import CampaignMeta, Ledger


def announce_campaign_completed(ledger: Ledger, meta: CampaignMeta, log: Any) -> None:
    """Called by exactly one worker: the one whose transition completed the campaign."""
    chunks = ledger.chunks(meta.campaign)
    submitted = [c for c in chunks if c.state == "submitted"]
    failed = [c for c in chunks if c.state == "failed"]
    log.info("campaign.completed", campaign=meta.campaign, chunks=len(chunks),
             submitted=len(submitted), failed=len(failed),
             numbers_submitted=sum(c.count for c in submitted),
             numbers_failed=sum(c.count for c in failed), accepted=meta.accepted,
             rows=meta.rows)
