"""What happens once, when a campaign's last chunk reaches a terminal state: the
campaign.completed log line, the report files, the results-stream entry and the webhook.

Nothing here may raise: the caller's chunk is already terminal, so a redelivered message
would be a no-op and the completion would never be announced again. Each step that can
fail (disk, Redis, broker) is logged and the others still run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from worker.ledger import CampaignMeta, Ledger
from worker.reports import build_report, default_report_path, save_report
from worker.results import publish_campaign_completed

WebhookSender = Callable[[str, dict[str, Any]], object]


def _enqueue_webhook(url: str, payload: dict[str, Any]) -> None:
    from worker.webhook import enqueue_webhook  # binds to the broker: only when needed

    enqueue_webhook(url, payload)


def announce_campaign_completed(ledger: Ledger, meta: CampaignMeta, log: Any,
                                client: redis.Redis, webhook: WebhookSender | None = None,
                                ) -> None:
    """Called by exactly one worker: the one whose transition completed the campaign.
    `client` (the ledger's Redis) receives the results-stream entry; `webhook` delivers
    batch.webhook_url's payload (default: queue it for the deliver_webhook actor)."""
    # One read of the chunks: the log line, the report, the stream entry and the webhook
    # all describe this same snapshot.
    chunks = ledger.chunks(meta.campaign)
    report = build_report(meta, chunks)
    submitted, failed = report["submitted"], report["failed"]
    log.info("campaign.completed", campaign=meta.campaign, chunks=len(chunks),
             submitted=submitted, failed=failed,
             numbers_submitted=sum(c.count for c in chunks if c.state == "submitted"),
             numbers_failed=sum(c.count for c in chunks if c.state == "failed"),
             accepted=meta.accepted, rows=meta.rows)
    try:
        path = save_report(report, default_report_path(meta.campaign))
        log.info("campaign.report_written", campaign=meta.campaign, path=str(path))
    except OSError as exc:
        log.error("campaign.report_failed", campaign=meta.campaign,
                  reason=f"{type(exc).__name__}: {exc}")
    try:
        publish_campaign_completed(client, meta, submitted, failed)
    except redis.RedisError as exc:
        log.error("results.publish_failed", campaign=meta.campaign,
                  reason=f"{type(exc).__name__}: {exc}")
    url = meta.settings.get("webhook_url")
    if url:
        try:
            (webhook or _enqueue_webhook)(url, report)
        except Exception as exc:  # a webhook must never undo or block the campaign's outcome
            log.error("webhook.failed", campaign=meta.campaign,
                      reason=f"{type(exc).__name__}: {exc}")
