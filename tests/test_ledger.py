"""The ledger against a real Redis: atomic creation, leases, idempotent terminal states and
completion detected exactly once under concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
import redis
from pipeline_support import CHUNK_KEYS, CONTRACT_KEYS

from worker.ledger import CampaignMeta, ChunkPlan, Ledger

T = TypeVar("T")
API_ERROR = {"status": "-60", "reason": "agent is offline"}


def make_campaign(
    ledger: Ledger, campaign: str = "promo-abc", sizes: tuple[int, ...] = (200_000, 50_000),
    created_at: float = 1_700_000_000.0,
) -> CampaignMeta:
    meta = CampaignMeta(
        campaign=campaign, rows=sum(sizes) + 10, accepted=sum(sizes), rejected=7, duplicates=3,
        rejects_file=f".laaffic/{campaign}/rejects.csv",
        task={"appId": "2Xql9RBI", "agentId": 41, "allowSendTime": [
            {"strTime": "09:00", "endTime": "12:00"}]},
        settings={"max_attempts": 5, "max_age": 3600.0}, created_at=created_at,
    )
    plans = [ChunkPlan(i, f"{campaign}-{i + 1:03d}", size) for i, size in enumerate(sizes)]
    assert ledger.create_campaign(meta, plans)
    return meta


def run_together(workers: int, job: Callable[[int], T]) -> list[T]:
    """Run job(0..workers-1) on threads released at the same instant."""
    start = threading.Barrier(workers)

    def synchronised(number: int) -> T:
        start.wait()
        return job(number)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(synchronised, range(workers)))


@pytest.fixture
def ledger(redis_client: redis.Redis) -> Ledger:
    return Ledger(redis_client)


def test_create_stores_meta_and_pending_chunks(ledger: Ledger) -> None:
    meta = make_campaign(ledger)
    assert ledger.exists("promo-abc")
    assert ledger.meta("promo-abc") == meta
    records = ledger.chunks("promo-abc")
    assert [(r.index, r.task_name, r.count, r.state) for r in records] == [
        (0, "promo-abc-001", 200_000, "pending"), (1, "promo-abc-002", 50_000, "pending")]
    assert all(r.attempts == 0 and r.key_id is None and r.error is None for r in records)
    assert ledger.outstanding("promo-abc") != 0
    assert ledger.meta("nope") is None and ledger.chunk("nope", 0) is None
    assert not ledger.exists("nope")


def test_create_twice_changes_nothing(ledger: Ledger) -> None:
    meta = make_campaign(ledger)
    ledger.claim("promo-abc", 0, "token", 60)
    other = CampaignMeta(**{**meta.__dict__, "rows": 1, "accepted": 1})
    assert not ledger.create_campaign(other, [ChunkPlan(0, "other-001", 1)])
    assert ledger.meta("promo-abc") == meta
    assert [r.task_name for r in ledger.chunks("promo-abc")] == ["promo-abc-001", "promo-abc-002"]
    assert ledger.chunk("promo-abc", 0).state == "sending"  # the claim survived


def test_concurrent_creates_succeed_once(redis_url: str) -> None:
    ledger = Ledger(redis.Redis.from_url(redis_url))
    meta = CampaignMeta("race", 3, 3, 0, 0, "r.csv", {}, {}, 1.0)
    plans = [ChunkPlan(i, f"race-{i}", 1) for i in range(3)]
    created = run_together(10, lambda _: ledger.create_campaign(meta, plans))
    assert created.count(True) == 1
    assert len(ledger.chunks("race")) == 3


def test_create_rejects_repeated_indices_and_stores_nothing(ledger: Ledger) -> None:
    meta = CampaignMeta("dup", 2, 2, 0, 0, "r.csv", {}, {}, 1.0)
    with pytest.raises(ValueError, match="repeat"):
        ledger.create_campaign(meta, [ChunkPlan(0, "a", 1), ChunkPlan(0, "b", 1)])
    assert not ledger.exists("dup")


def test_twenty_racing_claims_give_exactly_one_sender(redis_url: str) -> None:
    ledger = Ledger(redis.Redis.from_url(redis_url))
    make_campaign(ledger)
    claims = run_together(20, lambda n: ledger.claim("promo-abc", 0, f"token-{n}", 60))
    outcomes = sorted(claim.outcome for claim in claims)
    assert outcomes == ["claimed"] + ["leased"] * 19
    record = ledger.chunk("promo-abc", 0)
    assert record.state == "sending" and record.attempts == 1


def test_claim_uses_redis_time_for_lease_and_first_attempt(ledger: Ledger) -> None:
    make_campaign(ledger)
    before = time.time()
    claim = ledger.claim("promo-abc", 1, "t1", 30)
    assert claim.outcome == "claimed" and claim.attempt == 1
    assert before - 1 <= claim.first_attempt_at <= time.time() + 1
    assert claim.lease_until == pytest.approx(claim.first_attempt_at + 30, abs=0.01)
    assert ledger.chunk("promo-abc", 1).lease_until == pytest.approx(claim.lease_until)


def test_expired_lease_lets_another_token_claim(ledger: Ledger) -> None:
    make_campaign(ledger)
    first = ledger.claim("promo-abc", 0, "slow-worker", 0.3)
    assert ledger.claim("promo-abc", 0, "other", 60).outcome == "leased"
    time.sleep(0.4)
    second = ledger.claim("promo-abc", 0, "other", 60)
    assert second.outcome == "claimed" and second.attempt == 2
    assert second.first_attempt_at == first.first_attempt_at  # set once, never moved
    # The worker whose lease ran out cannot park a chunk someone else is now sending.
    ledger.mark_waiting("promo-abc", 0, "slow-worker", API_ERROR, True)
    assert ledger.chunk("promo-abc", 0).state == "sending"


def test_terminal_chunks_report_their_state_to_claims(ledger: Ledger) -> None:
    make_campaign(ledger)
    ledger.claim("promo-abc", 0, "t", 60)
    ledger.mark_submitted("promo-abc", 0, 123123)
    ledger.mark_failed("promo-abc", 1, API_ERROR)
    submitted = ledger.claim("promo-abc", 0, "late", 60)
    failed = ledger.claim("promo-abc", 1, "late", 60)
    assert (submitted.outcome, submitted.attempt) == ("submitted", 1)
    assert (failed.outcome, failed.attempt) == ("failed", 0)
    assert ledger.claim("promo-abc", 9, "t", 60).outcome == "missing"
    assert ledger.claim("nope", 0, "t", 60).outcome == "missing"


def test_mark_submitted_twice_keeps_first_key_id(ledger: Ledger) -> None:
    make_campaign(ledger)
    first = ledger.mark_submitted("promo-abc", 0, 111)
    again = ledger.mark_submitted("promo-abc", 0, 222)
    late_failure = ledger.mark_failed("promo-abc", 0, API_ERROR)
    assert first.changed and not again.changed and not late_failure.changed
    record = ledger.chunk("promo-abc", 0)
    assert (record.state, record.key_id, record.error) == ("submitted", 111, None)
    assert ledger.counts("promo-abc")["submitted"] == 1


def test_mark_waiting_counts_transient_failures_and_frees_the_chunk(ledger: Ledger) -> None:
    make_campaign(ledger)
    ledger.claim("promo-abc", 0, "a", 60)
    assert ledger.mark_waiting("promo-abc", 0, "a", {"reason": "timeout"}, True) == 1
    record = ledger.chunk("promo-abc", 0)
    assert (record.state, record.error, record.lease_until) == ("waiting", {"reason": "timeout"},
                                                               None)
    ledger.claim("promo-abc", 0, "b", 60)
    # A rate-limit wait is not a transient failure, and no error keeps the last one.
    assert ledger.mark_waiting("promo-abc", 0, "b", None, False) == 1
    assert ledger.chunk("promo-abc", 0).error == {"reason": "timeout"}
    ledger.claim("promo-abc", 0, "c", 60)
    assert ledger.mark_waiting("promo-abc", 0, "c", API_ERROR, True) == 2
    assert ledger.chunk("promo-abc", 0).attempts == 3


def finish_all_concurrently(ledger: Ledger, campaign: str, indices: list[int]) -> list[bool]:
    """One thread per chunk: claim it, then even indices succeed and odd ones fail."""

    def finish(slot: int) -> bool:
        index = indices[slot]
        token = f"worker-{slot}"
        assert ledger.claim(campaign, index, token, 60).outcome == "claimed"
        if index % 2 == 0:
            return ledger.mark_submitted(campaign, index, 1000 + index).completed
        return ledger.mark_failed(campaign, index, API_ERROR).completed

    return run_together(len(indices), finish)


def test_completion_fires_once_then_again_once_after_reset(redis_url: str) -> None:
    ledger = Ledger(redis.Redis.from_url(redis_url))
    make_campaign(ledger, "big", sizes=(10,) * 8)
    completed = finish_all_concurrently(ledger, "big", list(range(8)))
    assert completed.count(True) == 1
    assert ledger.outstanding("big") == 0
    assert ledger.counts("big") == {
        "pending": 0, "sending": 0, "waiting": 0, "submitted": 4, "failed": 4}

    assert ledger.reset_failed("big") == [1, 3, 5, 7]
    assert ledger.outstanding("big") != 0
    reset = ledger.chunk("big", 1)
    assert (reset.state, reset.attempts, reset.transient_failures, reset.error) == (
        "pending", 1, 0, API_ERROR)
    assert ledger.reset_failed("big") == []

    # Odd chunks fail again: the campaign completes once more, on exactly one transition.
    assert finish_all_concurrently(ledger, "big", [1, 3, 5, 7]).count(True) == 1
    assert ledger.outstanding("big") == 0
    assert not ledger.mark_submitted("big", 0, 5).completed  # no-op on a done campaign


def test_view_is_exactly_the_contract_object(ledger: Ledger) -> None:
    make_campaign(ledger)
    ledger.claim("promo-abc", 0, "t", 60)
    ledger.mark_submitted("promo-abc", 0, 123123)
    ledger.mark_failed("promo-abc", 1, API_ERROR)
    view = ledger.view("promo-abc")
    assert set(view) == CONTRACT_KEYS
    assert all(set(chunk) == CHUNK_KEYS for chunk in view["chunks"])
    assert view["rows"] == view["accepted"] + view["rejected"] + view["duplicates"]
    assert sum(chunk["count"] for chunk in view["chunks"]) == view["accepted"]
    assert view["chunks"] == [
        {"index": 0, "task_name": "promo-abc-001", "count": 200_000, "state": "submitted",
         "key_id": 123123, "attempts": 1, "error": None},
        {"index": 1, "task_name": "promo-abc-002", "count": 50_000, "state": "failed",
         "key_id": None, "attempts": 0, "error": API_ERROR},
    ]
    assert ledger.view("nope") is None


def test_list_campaigns_newest_first(ledger: Ledger) -> None:
    make_campaign(ledger, "old", created_at=100.0)
    make_campaign(ledger, "newest", created_at=300.0)
    make_campaign(ledger, "middle", created_at=200.0)
    assert ledger.list_campaigns() == ["newest", "middle", "old"]


def test_prefixes_keep_ledgers_apart(redis_client: redis.Redis) -> None:
    make_campaign(Ledger(redis_client, prefix="a"))
    assert not Ledger(redis_client, prefix="b").exists("promo-abc")


def test_incomplete_keeps_only_campaigns_with_chunks_to_finish(ledger: Ledger) -> None:
    make_campaign(ledger, "done-1", sizes=(10, 10))
    make_campaign(ledger, "half-2", sizes=(10, 11))
    ledger.mark_submitted("done-1", 0, 1)
    ledger.mark_failed("done-1", 1, API_ERROR)
    ledger.mark_submitted("half-2", 0, 2)
    assert ledger.incomplete(["half-2", "no-such-campaign", "done-1"]) == ["half-2"]
    assert ledger.incomplete([]) == []
