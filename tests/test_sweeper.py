"""The stale-chunk sweeper re-sends a chunk whose message was lost, and only such chunks."""

from __future__ import annotations

import time
from pathlib import Path

import redis
from pipeline_support import LogCapture, open_test_campaign

from worker.ledger import Ledger
from worker.sweeper import sweep


class RecordingActor:
    """Stands in for the Dramatiq actor: records what would be enqueued."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def send(self, campaign: str, index: int) -> None:
        self.sent.append((campaign, index))


def _campaign(tmp_path: Path, client: redis.Redis) -> str:
    return open_test_campaign(tmp_path, client, rows=40, chunk_size=10)


def test_resends_only_stale_non_terminal_chunks_once_per_period(
        tmp_path: Path, redis_client: redis.Redis) -> None:
    campaign = _campaign(tmp_path, redis_client)
    ledger = Ledger(redis_client)
    ledger.mark_submitted(campaign, 0, 111)
    ledger.mark_failed(campaign, 1, {"status": "-60", "reason": "x"})
    ledger.claim(campaign, 2, "live-worker", lease_seconds=3600)  # held by a live worker
    actor = RecordingActor()
    now = time.time()
    assert sweep(redis_client, actor, stale_after=60, log=LogCapture(), now=now) == 0
    later = now + 120
    log = LogCapture()
    assert sweep(redis_client, actor, stale_after=60, log=log, now=later) == 1
    assert actor.sent == [(campaign, 3)]
    assert log.named("chunk.requeued")
    # Not again within the period, again after it.
    assert sweep(redis_client, actor, stale_after=60, log=log, now=later + 30) == 0
    assert sweep(redis_client, actor, stale_after=60, log=log, now=later + 61) == 1


def test_complete_campaigns_are_left_alone(tmp_path: Path, redis_client: redis.Redis) -> None:
    campaign = _campaign(tmp_path, redis_client)
    ledger = Ledger(redis_client)
    for index in range(4):
        ledger.mark_submitted(campaign, index, 100 + index)
    actor = RecordingActor()
    assert sweep(redis_client, actor, stale_after=1, log=LogCapture(),
                 now=time.time() + 3600) == 0


def test_a_waiting_chunk_whose_message_keeps_arriving_is_not_taken_for_lost(
        tmp_path: Path, redis_client: redis.Redis) -> None:
    # Chunks 2 and 3 last changed an hour ago (waiting behind the account's in-flight cap
    # changes nothing in them); only chunk 3's message is still being delivered.
    campaign = _campaign(tmp_path, redis_client)
    ledger = Ledger(redis_client)
    ledger.mark_submitted(campaign, 0, 100)
    ledger.mark_submitted(campaign, 1, 101)
    an_hour_ago = repr(time.time() - 3600)
    for index in (2, 3):
        redis_client.hset(f"laaffic:campaign:{campaign}:chunk:{index}", "updated_at",
                          an_hour_ago)
    assert ledger.deliver(campaign, 3).delivered_at is not None
    actor = RecordingActor()
    now = time.time()
    assert sweep(redis_client, actor, stale_after=60, log=LogCapture(), now=now + 30) == 1
    assert actor.sent == [(campaign, 2)]
    # Once its deliveries stop for stale_after, chunk 3 is re-sent too.
    assert sweep(redis_client, actor, stale_after=60, log=LogCapture(), now=now + 61) == 1
    assert actor.sent[-1] == (campaign, 3)


def test_a_delivery_leaves_a_terminal_chunk_as_it_was(
        tmp_path: Path, redis_client: redis.Redis) -> None:
    campaign = _campaign(tmp_path, redis_client)
    ledger = Ledger(redis_client)
    ledger.mark_submitted(campaign, 0, 100)
    before = ledger.chunk(campaign, 0)
    assert ledger.deliver(campaign, 0) == before and before.delivered_at is None
    assert ledger.deliver(campaign, 99) is None  # no such chunk: none is made up
    assert not redis_client.exists(f"laaffic:campaign:{campaign}:chunk:99")
