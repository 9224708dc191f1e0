"""Submitting one chunk: the decision the actor runs for every message it receives.

Exactly once at the provider rests on three things together:
1. the ledger: a chunk already `submitted` (or `failed`) is never sent again, and only
   the holder of a live lease may send it, so two deliveries of one message never post
   at the same time;
2. the deterministic task name: the provider refuses a second task with the same name
   (-41), so a send repeated after a crash or a lost answer cannot create a second task;
3. reconciliation: on -41 the task is looked up by its exact name and its jobId
   recorded as the keyId.
This module knows nothing of Dramatiq: it returns Done or RetryAfter, the actor maps
RetryAfter onto Dramatiq's Retries."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from worker.body import build_body
from worker.chunk_store import ChunkMissing, ChunkStore
from worker.client import LaafficClient
from worker.errors import AlreadyExists, PermanentError, ProviderBusy, TransientError
from worker.in_flight import InFlightLimiter
from worker.ledger import TERMINAL_STATES, CampaignMeta, ChunkRecord, Ledger, Transition
from worker.outcomes import WebhookSender, announce_campaign_completed
from worker.policy import RetryPolicy
from worker.results import publish_chunk_result

IN_FLIGHT_KEY = "laaffic:in-flight"
SUBMITTED_PAYLOAD_TTL = 1.0  # seconds: a submitted chunk's numbers are not kept around


@dataclass(frozen=True)
class Done:
    state: str  # submitted | failed | noop


@dataclass(frozen=True)
class RetryAfter:
    delay_ms: int
    reason: str


Outcome = Done | RetryAfter


def _error(exc: BaseException) -> dict[str, Any]:
    as_error = getattr(exc, "as_error", None)
    if as_error is not None:
        return as_error()
    return {"status": None, "reason": f"{type(exc).__name__}: {exc}"}


class ChunkSubmitter:
    def __init__(self, client: redis.Redis, api_client: Callable[[], LaafficClient],
                 policy: RetryPolicy, lease_seconds: float, log: Any,
                 webhook: WebhookSender | None = None) -> None:
        self.redis = client
        self.ledger = Ledger(client)
        self.store = ChunkStore(client)
        self.api_client = api_client
        self.policy = policy
        self.lease_seconds = lease_seconds
        self.log = log
        self.webhook = webhook  # None: completed campaigns' webhooks go to the actor

    def submit(self, campaign: str, index: int) -> Outcome:
        meta = self.ledger.meta(campaign)
        if meta is None:
            self.log.warning("chunk.unknown_campaign", campaign=campaign, index=index)
            return Done("noop")
        now = time.time()
        if meta.not_before and now < meta.not_before:
            return RetryAfter(int((meta.not_before - now) * 1000) + 10, "scheduled")
        if self._expired(meta, now):
            return self._fail(meta, index, {"status": None, "reason": "expired: not submitted "
                              f"within batch.max_age ({meta.settings.get('max_age')} s)"})

        record = self.ledger.deliver(campaign, index)
        if record is None or record.state in TERMINAL_STATES:
            return Done("noop")
        # The account-wide slot comes first, so waiting for it never counts as an attempt.
        limit = int(meta.settings.get("max_in_flight") or 2)
        limiter = InFlightLimiter(self.redis, IN_FLIGHT_KEY, limit=limit,
                                  lease_seconds=self.lease_seconds)
        with limiter.acquire(raise_on_failure=False) as acquired:
            if not acquired:
                waiting = self.ledger.outstanding(campaign) or 1
                return RetryAfter(self.policy.cap_delay_ms(waiting, limit),
                                  "in-flight cap reached")
            token = uuid.uuid4().hex
            claim = self.ledger.claim(campaign, index, token, self.lease_seconds)
            if claim.outcome in ("submitted", "failed", "missing"):
                return Done("noop")
            if claim.outcome == "leased":
                wait = max((claim.lease_until or now) - now, 0.5)
                return RetryAfter(int(wait * 1000) + self.policy.cap_delay_ms(), "leased")
            return self._send(meta, record, token, claim.attempt,
                              claim.first_attempt_at or now)

    def _expired(self, meta: CampaignMeta, now: float) -> bool:
        max_age = float(meta.settings.get("max_age") or 0)
        start = meta.not_before or meta.created_at
        return bool(max_age) and now - start > max_age

    def _send(self, meta: CampaignMeta, record: ChunkRecord, token: str, attempt: int,
              first_attempt_at: float) -> Outcome:
        campaign, index = meta.campaign, record.index
        try:
            entries = self.store.get(campaign, index)
        except ChunkMissing:
            return self._fail(meta, index, {"status": None, "reason": "the chunk's entries "
                              "expired from the store (batch.chunk_ttl) before it was sent; "
                              "submit the file again"})
        body = build_body(meta.task, record.task_name, entries,
                          meta.settings.get("provider_timezone"))
        try:
            key_id = self._post(body, record.task_name, first_attempt_at)
        except ProviderBusy as exc:
            return self._wait_busy(meta, index, token, exc)
        except TransientError as exc:
            return self._retry_transient(meta, index, token, attempt, exc)
        except PermanentError as exc:
            return self._fail(meta, index, _error(exc))
        transition = self.ledger.mark_submitted(campaign, index, key_id)
        self.store.expire(campaign, index, SUBMITTED_PAYLOAD_TTL)
        if transition.changed:
            self.log.info("chunk.submitted", campaign=campaign, index=index,
                          task_name=record.task_name, key_id=key_id, count=record.count,
                          attempt=attempt)
            self._publish(meta, index)
        self._after(meta, transition)
        return Done("submitted")

    def _post(self, body: bytes, task_name: str, first_attempt_at: float) -> int:
        api = self.api_client()
        try:
            return api.send_group_call(body)
        except AlreadyExists as exc:
            # Created earlier (an answer lost, a worker killed after the send): find it.
            around = datetime.fromtimestamp(first_attempt_at, tz=UTC)
            job_id = api.find_task_id(task_name, around=around)
            if job_id is None:
                raise PermanentError(
                    exc.status, f"task name {task_name} already exists at the provider but "
                    "no task with exactly that name was found by the query endpoint; check "
                    "the LAAFFIC console before retrying") from exc
            self.log.info("chunk.reconciled", task_name=task_name, key_id=job_id)
            return job_id

    def _wait_busy(self, meta: CampaignMeta, index: int, token: str,
                   exc: ProviderBusy) -> Outcome:
        self.ledger.mark_waiting(meta.campaign, index, token, _error(exc), transient=False)
        delay = self.policy.busy_delay_ms()
        self.log.info("chunk.retrying", campaign=meta.campaign, index=index,
                      reason="provider busy (-37)", delay_ms=delay, counted=False)
        return RetryAfter(delay, "provider busy")

    def _retry_transient(self, meta: CampaignMeta, index: int, token: str, attempt: int,
                         exc: TransientError) -> Outcome:
        max_attempts = int(meta.settings.get("max_attempts") or 8)
        failures = self.ledger.mark_waiting(meta.campaign, index, token, _error(exc),
                                            transient=True)
        if failures >= max_attempts:
            return self._fail(meta, index, _error(exc))
        delay = self.policy.transient_delay_ms(failures)
        self.log.info("chunk.retrying", campaign=meta.campaign, index=index,
                      reason=str(exc), delay_ms=delay, attempt=attempt,
                      failures=failures, max_attempts=max_attempts)
        return RetryAfter(delay, "transient")

    def _fail(self, meta: CampaignMeta, index: int, error: dict[str, Any]) -> Outcome:
        transition = self.ledger.mark_failed(meta.campaign, index, error)
        if transition.changed:
            # mark_failed has just changed the chunk, so its hash is there to read.
            record = self.ledger.chunk(meta.campaign, index)
            self.log.error("chunk.failed", campaign=meta.campaign, index=index,
                           task_name=record.task_name if record else None, error=error,
                           attempts=record.attempts if record else None)
            self._publish(meta, index, record)
        self._after(meta, transition)
        return Done("failed")

    def _publish(self, meta: CampaignMeta, index: int,
                 record: ChunkRecord | None = None) -> None:
        """The chunk's terminal outcome to the results stream (only on the transition that
        made it terminal, so once per chunk), before any campaign entry. `record` is the
        chunk as the caller has just read it; without one it is read here."""
        try:
            if record is None:
                record = self.ledger.chunk(meta.campaign, index)
            if record is not None:
                publish_chunk_result(self.redis, meta, record)
        except redis.RedisError as exc:  # the chunk is terminal already: raising cannot help
            self.log.error("results.publish_failed", campaign=meta.campaign, index=index,
                           reason=f"{type(exc).__name__}: {exc}")

    def _after(self, meta: CampaignMeta, transition: Transition) -> None:
        if transition.completed:
            announce_campaign_completed(self.ledger, meta, self.log, self.redis, self.webhook)


class ThreadLocalClients:
    """One API client (one requests.Session) per worker thread: sessions are not shared
    across threads."""

    def __init__(self, factory: Callable[[], LaafficClient]) -> None:
        self._factory = factory
        self._local = threading.local()

    def __call__(self) -> LaafficClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._factory()
        return client
