"""A safety net for lost messages: a Dramatiq middleware that re-enqueues stale chunks.

A chunk's message can be lost in ways Dramatiq cannot see: Redis restarted while
Dramatiq was enqueueing a retry (it then acknowledges the original anyway), a submit
that died between creating the campaign and queueing it, a queue flushed by hand.
Once per interval one worker in the cluster (a Redis lock elects it) looks at recent
campaigns that are not complete and sends a fresh message for every chunk that has
neither changed nor had a message delivered for `stale_after` seconds (a chunk waiting
behind the in-flight cap or another worker's lease changes nothing, but its message keeps
arriving). A duplicate message is harmless: the ledger makes it a no-op, so erring
towards sending one is safe; a chunk is re-sent at most once per `stale_after`."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware

from worker.ledger import TERMINAL_STATES, Ledger
from worker.settings import stale_after_s, sweep_interval_s

LOCK_KEY = "laaffic:sweeper:lock"
SWEPT_KEY = "laaffic:sweeper:swept:{campaign}"
LOOKBACK_SECONDS = 8 * 86400  # campaigns older than this are past any max_age or chunk_ttl


def stale_chunks(ledger: Ledger, campaign: str, now: float, stale_after: float) -> list[int]:
    """Non-terminal chunks of a campaign that have neither changed nor had a message
    delivered for stale_after seconds (none in a complete campaign: all its chunks are
    terminal)."""
    meta = ledger.meta(campaign)
    if meta is None:
        return []
    if meta.not_before and now < meta.not_before + stale_after:
        return []  # scheduled: its messages are delayed on purpose
    stale = []
    for chunk in ledger.chunks(campaign):
        if chunk.state in TERMINAL_STATES:
            continue
        if chunk.state == "sending" and chunk.lease_until and now < chunk.lease_until:
            continue  # a live worker holds it
        last_sign = max(filter(None, (chunk.updated_at, chunk.delivered_at)),
                        default=meta.created_at)
        if now - last_sign >= stale_after:
            stale.append(chunk.index)
    return stale


def sweep(client: redis.Redis, actor: dramatiq.Actor, stale_after: float,
          log: Any, now: float | None = None) -> int:
    """One pass; returns how many messages were sent."""
    now = time.time() if now is None else now
    ledger = Ledger(client)
    sent = 0
    # Most recent campaigns are complete: they are told apart in one round trip.
    for campaign in ledger.incomplete(ledger.campaigns_since(now - LOOKBACK_SECONDS)):
        swept_key = SWEPT_KEY.format(campaign=campaign)
        for index in stale_chunks(ledger, campaign, now, stale_after):
            last = client.hget(swept_key, str(index))
            if last is not None and now - float(last) < stale_after:
                continue
            actor.send(campaign, index)
            client.hset(swept_key, str(index), repr(now))
            client.expire(swept_key, LOOKBACK_SECONDS)
            sent += 1
            log.warning("chunk.requeued", campaign=campaign, index=index,
                        reason=f"no progress for {stale_after:g}s; its message may be lost")
    return sent


class StaleChunkSweeper(Middleware):
    """Runs `sweep` on a daemon thread in each worker process; a Redis lock lets one
    process in the whole cluster do it per interval."""

    def __init__(self, actor_name: str) -> None:
        self.actor_name = actor_name
        self.interval = sweep_interval_s()
        self.stale_after = stale_after_s()
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        thread = threading.Thread(target=self._run, args=(broker,), name="stale-chunk-sweeper",
                                  daemon=True)
        thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _run(self, broker: dramatiq.Broker) -> None:
        from laaffic_batch.logs import get_logger

        log = get_logger()
        client: redis.Redis = broker.client  # type: ignore[attr-defined]
        actor = broker.get_actor(self.actor_name)
        while not self._stop.wait(self.interval):
            try:
                if client.set(LOCK_KEY, os.getpid(), nx=True, px=int(self.interval * 900)):
                    sweep(client, actor, self.stale_after, log)
            except redis.RedisError as exc:  # Redis away: try again next interval
                log.warning("sweeper.skipped", reason=str(exc))
