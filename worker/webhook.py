"""The campaign webhook: batch.webhook_url receives the report JSON once a campaign is
complete. Delivery is its own Dramatiq actor with its own retries, so a slow or failing
receiver never holds up a chunk: the completing worker only enqueues a message.

Importing this module binds the actor to the process's broker (worker.actors creates it);
worker.actors imports this module so every worker process also consumes these messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import dramatiq
import orjson
import requests

from laaffic_batch.logs import get_logger
from worker.actors import broker
from worker.broker import QUEUE
from worker.settings import webhook_min_backoff_ms

WEBHOOK_MAX_RETRIES = 8
# Doubling from 5 s, capped at 15 min: 8 retries span about 40 minutes. Tunable (tests).
WEBHOOK_MIN_BACKOFF_MS = webhook_min_backoff_ms()
WEBHOOK_MAX_BACKOFF_MS = 15 * 60_000
TIMEOUT_S = (5.0, 30.0)  # connect, read
# Answers worth asking again; any other 4xx means the receiver refuses this request.
RETRYABLE_HTTP = frozenset({408, 425, 429})


class WebhookRetryable(Exception):
    """The receiver could not be reached or answered with a temporary failure."""


class WebhookRejected(Exception):
    """The receiver answered 4xx: asking again would get the same answer."""


def safe_url(url: str) -> str:
    """The URL without credentials or query (tokens often live there), for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}" \
           f"{parts.path}"


def post_webhook(url: str, payload: dict[str, Any], timeout: tuple[float, float] = TIMEOUT_S,
                 ) -> int:
    """POST payload as JSON; return the HTTP status of a 2xx answer. Raise WebhookRetryable
    (network errors, 5xx, 408/425/429) or WebhookRejected (other non-2xx answers)."""
    try:
        response = requests.post(url, data=orjson.dumps(payload), timeout=timeout,
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "laaffic-batch"})
    except requests.RequestException as exc:
        raise WebhookRetryable(f"{type(exc).__name__} posting to {safe_url(url)}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return status
    message = f"{safe_url(url)} answered HTTP {status}"
    if status >= 500 or status in RETRYABLE_HTTP:
        raise WebhookRetryable(message)
    raise WebhookRejected(message)


@dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=WEBHOOK_MAX_RETRIES,
                min_backoff=WEBHOOK_MIN_BACKOFF_MS, max_backoff=WEBHOOK_MAX_BACKOFF_MS,
                time_limit=2 * 60 * 1000)
def deliver_webhook(url: str, payload: dict[str, Any]) -> None:
    """One delivery attempt; a temporary failure is retried by Dramatiq with exponential
    backoff, up to WEBHOOK_MAX_RETRIES times. Callable directly (synchronously) too."""
    log = get_logger()
    campaign = payload.get("campaign")
    try:
        status = post_webhook(url, payload)
    except WebhookRejected as exc:
        log.error("webhook.rejected", campaign=campaign, reason=str(exc))
        return
    except WebhookRetryable as exc:
        log.warning("webhook.retrying", campaign=campaign, reason=str(exc))
        raise dramatiq.Retry(str(exc)) from exc  # backoff from the actor's options
    log.info("webhook.delivered", campaign=campaign, url=safe_url(url), http_status=status)


def enqueue_webhook(url: str, payload: dict[str, Any]) -> None:
    """Queue a delivery; returns at once."""
    deliver_webhook.send(url, payload)
