"""The Dramatiq actors. Importing this module creates the process's broker (REDIS_URL, or
the embedded Redis) and binds the actors to it; `laaffic-batch worker` runs Dramatiq on it.

Messages carry ids only (campaign, chunk index), never numbers: the entries wait in the
chunk store and the task settings in the ledger."""

from __future__ import annotations

import logging
import sys

import dramatiq

from laaffic_batch.logs import configure_logging, get_logger
from worker.broker import QUEUE, setup_broker
from worker.settings import lease_margin_s, read_timeout_s
from worker.sweeper import StaleChunkSweeper

broker = setup_broker()
configure_logging(stream=sys.stdout)
# Every wait (cap, busy, lease) is a Dramatiq Retry; its INFO line per wait is noise next
# to our own chunk.retrying events.
logging.getLogger("dramatiq.middleware.retries.Retries").setLevel(logging.WARNING)

# Failures other than our own Retry (a bug, Redis unreachable for long) get a few
# Dramatiq retries with its default backoff, then the message is dead-lettered. The chunk
# stays non-terminal (`status` shows it), and the stale-chunk sweeper (worker/sweeper.py)
# sends it again once it has not moved for LAAFFIC_STALE_AFTER_S.
UNEXPECTED_ERROR_RETRIES = 10
READ_TIMEOUT_S = read_timeout_s()
CONNECT_TIMEOUT_S = 5.0
# A lease outlives one send request (connect + read timeout + a margin), so a live worker
# is not overtaken mid-send; after a crash it is also how long the chunk waits before
# another worker may try it. A -41 reconcile (paged task queries) may outlast it: a worker
# taking the chunk over then gets -41 as well and records the same task, found by name.
LEASE_SECONDS = CONNECT_TIMEOUT_S + READ_TIMEOUT_S + lease_margin_s()

_submitter = None


def _retry_when(retries: int, exception: BaseException) -> bool:
    return isinstance(exception, dramatiq.Retry) or retries < UNEXPECTED_ERROR_RETRIES


def _get_submitter():  # type: ignore[no-untyped-def]
    global _submitter
    if _submitter is None:
        from worker.chunk_submitter import ChunkSubmitter, ThreadLocalClients
        from worker.client import Credentials, LaafficClient, base_url_from_env
        from worker.connection import redis_client
        from worker.policy import RetryPolicy

        credentials = Credentials.from_env()
        base_url = base_url_from_env()
        clients = ThreadLocalClients(lambda: LaafficClient(
            base_url, credentials, connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S))
        _submitter = ChunkSubmitter(redis_client(), clients, RetryPolicy.from_env(),
                                    LEASE_SECONDS, get_logger())
    return _submitter


@dramatiq.actor(queue_name=QUEUE, retry_when=_retry_when, time_limit=30 * 60 * 1000,
                # backoff for unexpected errors only: our own Retry carries its delay
                min_backoff=500, max_backoff=30_000)
def submit_chunk(campaign: str, index: int) -> None:
    from worker.chunk_submitter import RetryAfter

    outcome = _get_submitter().submit(campaign, index)
    if isinstance(outcome, RetryAfter):
        # Dramatiq's Retries requeues it after this delay; the attempt budget lives in
        # the ledger, so waiting (busy, cap, lease) never spends it.
        raise dramatiq.Retry(message=outcome.reason, delay=outcome.delay_ms)


broker.add_middleware(StaleChunkSweeper(submit_chunk.actor_name))


import worker.webhook  # noqa: E402,F401  (binds deliver_webhook to this broker, so workers run it)
