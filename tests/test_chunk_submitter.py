"""The decision each message runs, against a real Redis and the real sandbox over HTTP:
retries, waiting, permanent failures, reconciliation, and never two tasks for one chunk."""

from __future__ import annotations

import threading
from pathlib import Path

import redis
from pipeline_support import LogCapture, make_submitter, open_test_campaign

from laaffic_batch.sandbox import Faults, SandboxServer
from worker.chunk_submitter import Done, RetryAfter
from worker.ledger import Ledger


def _campaign(tmp_path: Path, client: redis.Redis, rows: int = 30, chunk_size: int = 10,
              extra_batch: str = "") -> str:
    return open_test_campaign(tmp_path, client, rows, chunk_size, extra_batch,
                              columns='text1 = "first_name"')


def test_submits_each_chunk_once_and_records_key_ids(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client)
    log = LogCapture()
    submitter = make_submitter(redis_client, sandbox, log)
    for index in range(3):
        assert submitter.submit(campaign, index) == Done("submitted")
    view = Ledger(redis_client).view(campaign)
    tasks = {t["taskName"]: t for t in sandbox.tasks()}
    assert {c["task_name"] for c in view["chunks"]} == set(tasks)
    for chunk in view["chunks"]:
        assert chunk["state"] == "submitted"
        assert chunk["key_id"] == tasks[chunk["task_name"]]["jobId"]
        assert chunk["attempts"] == 1
    assert [e["key_id"] for e in log.named("chunk.submitted")] == [
        c["key_id"] for c in view["chunks"]]
    assert len(log.named("campaign.completed")) == 1
    # A message delivered again after success is a no-op, not a second task.
    assert submitter.submit(campaign, 0) == Done("noop")
    assert len(sandbox.tasks()) == 3


def test_transient_failure_retries_then_succeeds(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=5)
    log = LogCapture()
    submitter = make_submitter(redis_client, sandbox, log)
    sandbox.faults = Faults(fail_rate=1.0)
    outcome = submitter.submit(campaign, 0)
    assert isinstance(outcome, RetryAfter) and outcome.reason == "transient"
    retrying = log.named("chunk.retrying")
    assert retrying and retrying[0]["delay_ms"] == outcome.delay_ms
    sandbox.faults = Faults()
    assert submitter.submit(campaign, 0) == Done("submitted")
    chunk = Ledger(redis_client).chunk(campaign, 0)
    assert chunk.attempts == 2 and chunk.transient_failures == 1


def test_transient_budget_exhausted_fails_then_retry_completes(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=5, extra_batch="max_attempts = 3")
    submitter = make_submitter(redis_client, sandbox, LogCapture())
    sandbox.faults = Faults(fail_rate=1.0)
    outcomes = [submitter.submit(campaign, 0) for _ in range(3)]
    assert [type(o) for o in outcomes] == [RetryAfter, RetryAfter, Done]
    chunk = Ledger(redis_client).chunk(campaign, 0)
    assert chunk.state == "failed" and chunk.attempts == 3 and chunk.error
    sandbox.faults = Faults()
    ledger = Ledger(redis_client)
    assert ledger.reset_failed(campaign) == [0]
    assert submitter.submit(campaign, 0) == Done("submitted")
    assert len(sandbox.tasks()) == 1


def test_permanent_error_fails_after_one_attempt(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=5)
    sandbox.faults = Faults(permanent_agents={41: "-60"})
    log = LogCapture()
    assert make_submitter(redis_client, sandbox, log).submit(campaign, 0) == Done("failed")
    chunk = Ledger(redis_client).chunk(campaign, 0)
    assert chunk.state == "failed" and chunk.attempts == 1
    assert chunk.error["status"] == "-60"
    assert log.named("chunk.failed")[0]["error"]["status"] == "-60"
    assert sandbox.tasks() == []


def test_busy_waits_without_spending_the_attempt_budget(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=10, chunk_size=5,
                         extra_batch="max_attempts = 1")
    sandbox.faults = Faults(max_concurrent=1, task_duration=600)
    submitter = make_submitter(redis_client, sandbox, LogCapture())
    assert submitter.submit(campaign, 1) == Done("submitted")  # now the account is full
    for _ in range(5):  # more waits than the budget of 1 attempt would allow
        outcome = submitter.submit(campaign, 0)
        assert isinstance(outcome, RetryAfter) and outcome.reason == "provider busy"
    chunk = Ledger(redis_client).chunk(campaign, 0)
    assert chunk.state == "waiting" and chunk.transient_failures == 0
    sandbox.faults = Faults()
    assert submitter.submit(campaign, 0) == Done("submitted")


def test_lost_answer_is_reconciled_by_name(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=5)
    log = LogCapture()
    submitter = make_submitter(redis_client, sandbox, log)
    sandbox.faults = Faults(lose_rate=1.0)
    assert isinstance(submitter.submit(campaign, 0), RetryAfter)
    assert len(sandbox.tasks()) == 1  # the provider did create it
    sandbox.faults = Faults()
    assert submitter.submit(campaign, 0) == Done("submitted")
    (task,) = sandbox.tasks()
    assert Ledger(redis_client).chunk(campaign, 0).key_id == task["jobId"]
    assert log.named("chunk.reconciled")


def test_two_deliveries_at_once_create_one_task(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=5)
    sandbox.faults = Faults(latency=0.5)
    submitter = make_submitter(redis_client, sandbox, LogCapture())
    outcomes: list[object] = []
    threads = [threading.Thread(target=lambda: outcomes.append(submitter.submit(campaign, 0)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(Done("submitted")) == 1
    assert all(o == Done("submitted") or (isinstance(o, RetryAfter) and o.reason in (
        "leased", "in-flight cap reached")) for o in outcomes)
    assert len(sandbox.tasks()) == 1


def test_account_cap_makes_others_wait_without_spending_attempts(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=30, extra_batch="max_in_flight = 1")
    sandbox.faults = Faults(latency=0.5)
    submitter = make_submitter(redis_client, sandbox, LogCapture())
    outcomes: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i: outcomes.__setitem__(
        i, submitter.submit(campaign, i))) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(outcomes.values()).count(Done("submitted")) == 1
    waiting = [i for i, o in outcomes.items() if isinstance(o, RetryAfter)]
    assert len(waiting) == 2  # the two chunks that met the cap of one
    assert all(outcomes[i].reason == "in-flight cap reached" for i in waiting)
    for i in waiting:
        chunk = Ledger(redis_client).chunk(campaign, i)
        assert chunk.transient_failures == 0 and chunk.attempts == 0
        # Nothing changed, but the delivery is on record (the stale-chunk sweeper reads it).
        assert chunk.state == "pending" and chunk.delivered_at is not None
        assert chunk.delivered_at > chunk.updated_at


def test_expired_campaign_fails_instead_of_calling_late(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    campaign = _campaign(tmp_path, redis_client, rows=5,
                         extra_batch='max_age = "1s"\nchunk_ttl = "1h"')
    import time

    time.sleep(1.2)
    assert make_submitter(redis_client, sandbox, LogCapture()).submit(campaign, 0) == Done("failed")
    assert "expired" in Ledger(redis_client).chunk(campaign, 0).error["reason"]
    assert sandbox.tasks() == []
