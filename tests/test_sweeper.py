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
