"""`laaffic-batch intake`: jobs pushed with the real `redis-cli` (XADD), consumed by the real
CLI in a subprocess, against a real Redis. Chunks are only queued here, never sent."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from pipeline_support import log_events, run_cli, running_cli, wait_for, write_contacts

from worker.chunk_store import ChunkStore
from worker.ledger import Ledger

STREAM, GROUP, DEAD = "laaffic:jobs", "laaffic-batch", "laaffic:jobs:dead"
CONFIG = {"task": {"appId": "2Xql9RBI", "agentId": 41},
          "batch": {"name": "crm", "default_country_code": "46"}, "columns": {}}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
def env(redis_url: str, tmp_path: Path, root: Path) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "LAAFFIC_DATA_DIR": str(tmp_path / "data"),
            "LAAFFIC_INTAKE_ROOT": str(root)}


def push(redis_url: str, payload: str | dict, field: str = "job") -> None:
    """XADD through redis-cli, the way a non-Python producer would."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    subprocess.run(["redis-cli", "-u", redis_url, "XADD", STREAM, "*", field, text],
                   check=True, capture_output=True, timeout=10)


def job(job_id: object, **fields: object) -> dict:
    return {"job_id": job_id, "config": CONFIG, **fields}


def intake(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["intake", "--once", *extra], env, timeout=60)


def pending(client: redis.Redis) -> int:
    return int(client.xpending(STREAM, GROUP)["pending"])


def dead_letters(client: redis.Redis) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in fields.items()}
            for _, fields in client.xrange(DEAD)]


def campaign_of(client: redis.Redis, job_id: str) -> str:
    return client.get(f"laaffic:job:{job_id}").decode()


def test_inline_and_file_jobs_become_campaigns(
        env: dict[str, str], root: Path, redis_url: str, redis_client: redis.Redis,
        tmp_path: Path) -> None:
    (root / "lists").mkdir()
    write_contacts(root / "lists" / "b.csv", 5)
    write_contacts(root / "c.csv", 4, start=10)
    push(redis_url, job("crm-a", at="2030-01-01T09:00:00+01:00", contacts=[
        {"calleeNumber": "46701234567", "text1": "Anna"},
        {"calleeNumber": "0701234568", "text2": "second"},
        {"calleeNumber": 46701234569}]))
    push(redis_url, job("crm-b", file="lists/b.csv"))
    push(redis_url, job("crm-c", file=str(root / "c.csv")))
    push(redis_url, {"job_id": "crm-d", "contacts": [{"msisdn": "46701234570", "name": "Bo"}],
                     "config": {**CONFIG, "columns": {"phone": "msisdn", "text1": "name"}}})
    run = intake(env)
    assert run.returncode == 0, run.stderr
    ledger, store = Ledger(redis_client), ChunkStore(redis_client)
    accepted = {e["job_id"]: e for e in log_events(run.stderr, "job.accepted")}
    assert sorted(accepted) == ["crm-a", "crm-b", "crm-c", "crm-d"]
    assert [accepted[j]["accepted"] for j in ("crm-a", "crm-b", "crm-c", "crm-d")] == [3, 5, 4, 1]
    for job_id, event in accepted.items():
        assert campaign_of(redis_client, job_id) == event["campaign"]
        meta = ledger.meta(event["campaign"])
        assert meta is not None and meta.job_id == job_id
    meta_a = ledger.meta(accepted["crm-a"]["campaign"])
    assert meta_a is not None and meta_a.not_before == 1893484800.0  # 2030-01-01T08:00Z
    entries_a = json.loads(store.get(accepted["crm-a"]["campaign"], 0))
    assert [(e["calleeNumber"], e.get("text1"), e.get("text2")) for e in entries_a] == [
        ("46701234567", "Anna", None), ("46701234568", None, "second"),
        ("46701234569", None, None)]
    entries_d = json.loads(store.get(accepted["crm-d"]["campaign"], 0))
    assert entries_d[0]["text1"] == "Bo"
    assert pending(redis_client) == 0 and dead_letters(redis_client) == []
    assert not list((tmp_path / "data" / "jobs").glob("*.jsonl"))  # numbers not left on disk


def test_files_outside_the_intake_root_are_refused(
        env: dict[str, str], root: Path, redis_url: str, redis_client: redis.Redis,
        tmp_path: Path) -> None:
    outside = write_contacts(tmp_path / "outside.csv", 3)
    (root / "link.csv").symlink_to(outside)
    refused = [job("up", file="../outside.csv"), job("abs", file=str(outside)),
               job("link", file="link.csv")]
    for payload in refused:
        push(redis_url, payload)
    write_contacts(root / "ok.csv", 3, start=20)
    push(redis_url, job("ok", file="ok.csv"))
    run = intake(env)
    assert run.returncode == 0, run.stderr
    dead = dead_letters(redis_client)
    assert [json.loads(d["job"]) for d in dead] == refused
    assert all("outside LAAFFIC_INTAKE_ROOT" in d["error"] for d in dead)
    assert [e["job_id"] for e in log_events(run.stderr, "job.accepted")] == ["ok"]
    # Without a root, no job may name a file at all.
    push(redis_url, job("no-root", file="ok.csv"))
    no_root = intake({k: v for k, v in env.items() if k != "LAAFFIC_INTAKE_ROOT"})
    assert no_root.returncode == 0, no_root.stderr
    assert "LAAFFIC_INTAKE_ROOT is not set" in dead_letters(redis_client)[-1]["error"]
    assert len(Ledger(redis_client).list_campaigns()) == 1 and pending(redis_client) == 0


def test_the_same_job_id_twice_is_one_campaign(
        env: dict[str, str], redis_url: str, redis_client: redis.Redis) -> None:
    push(redis_url, job("crm-7", contacts=[{"calleeNumber": "46701234567"}]))
    push(redis_url, job("crm-7", contacts=[{"calleeNumber": "46709999999"}]))
    first = intake(env)
    assert first.returncode == 0, first.stderr
    push(redis_url, job("crm-7", contacts=[{"calleeNumber": "46701234567"}]))
    second = intake(env)
    assert second.returncode == 0, second.stderr
    campaigns = Ledger(redis_client).list_campaigns()
    assert campaigns == [campaign_of(redis_client, "crm-7")]
    duplicates = (log_events(first.stderr, "job.duplicate")
                  + log_events(second.stderr, "job.duplicate"))
    assert [d["campaign"] for d in duplicates] == campaigns * 2
    assert pending(redis_client) == 0 and dead_letters(redis_client) == []


def test_a_dead_consumers_pending_entry_is_claimed_again(
        env: dict[str, str], redis_url: str, redis_client: redis.Redis) -> None:
    cli = ["redis-cli", "-u", redis_url]
    subprocess.run([*cli, "XGROUP", "CREATE", STREAM, GROUP, "0", "MKSTREAM"], check=True,
                   capture_output=True, timeout=10)
    push(redis_url, job("orphan", contacts=[{"calleeNumber": "46701234567"}]))
    # Consumer A reads the entry and dies before acknowledging it.
    subprocess.run([*cli, "XREADGROUP", "GROUP", GROUP, "A", "COUNT", "10", "STREAMS", STREAM,
                    ">"], check=True, capture_output=True, timeout=10)
    live = intake(env, "--consumer", "C")  # default threshold: A might still be working
    assert live.returncode == 0, live.stderr
    assert redis_client.xpending(STREAM, GROUP)["consumers"] == [{"name": b"A", "pending": 1}]
    time.sleep(0.05)
    taken = intake({**env, "LAAFFIC_INTAKE_CLAIM_IDLE_MS": "10"}, "--consumer", "B")
    assert taken.returncode == 0, taken.stderr
    assert [e["job_id"] for e in log_events(taken.stderr, "job.accepted")] == ["orphan"]
    assert Ledger(redis_client).exists(campaign_of(redis_client, "orphan"))
    assert pending(redis_client) == 0


def test_invalid_jobs_are_dead_lettered_while_the_consumer_keeps_going(
        env: dict[str, str], root: Path, redis_url: str, redis_client: redis.Redis) -> None:
    (root / "scan.pdf").write_bytes(b"%PDF-1.4")
    write_contacts(root / "fixed.csv", 3)
    three = [{"calleeNumber": f"4670123456{i}"} for i in range(3)]
    bad = {
        "{nope": "not valid JSON",
        "[1, 2]": "must be a JSON object",
        json.dumps(job(42, contacts=three)): "job_id must be a non-empty string",
        json.dumps(job("t1", contacts="46701234567")): "contacts must be a list",
        json.dumps(job("t2", contacts=[{"calleeNumber": ["4670"]}])):
            "contacts[0].calleeNumber must be a string",
        json.dumps({"job_id": "t3", "contacts": three}): "config must be an object",
        json.dumps(job("t4", contacts=three, file="fixed.csv")): "exactly one of",
        json.dumps(job("t5")): "exactly one of",
        json.dumps(job("t6", contacts=[*three, three[0]])): "more than the 3 allowed",
        json.dumps({**job("t7", contacts=three),
                    "config": {"task": {"appId": "x", "agentId": "41"}}}): "task.agentId",
        json.dumps(job("t8", contacts=three, at="tomorrow")): "ISO 8601",
        json.dumps({**job("t9", contacts=three), "contact": []}): "unknown field(s) contact",
        json.dumps(job("fixable", file="scan.pdf")): "unknown file type",
    }
    push(redis_url, job("good-1", contacts=three))
    for payload in bad:
        push(redis_url, payload)
    push(redis_url, "a value under the wrong field", field="payload")
    push(redis_url, job("fixable", file="fixed.csv"))  # a dead job does not block its id
    run = intake({**env, "LAAFFIC_MAX_INLINE_CONTACTS": "3"})
    assert run.returncode == 0, run.stderr
    dead = dead_letters(redis_client)
    assert [d["job"] for d in dead[:-1]] == list(bad)  # the raw text, as pushed
    for entry, reason in zip(dead, bad.values(), strict=False):
        assert reason in entry["error"] and "\n" not in entry["error"], entry
    assert "no `job` field" in dead[-1]["error"]
    assert len(log_events(run.stderr, "job.dead")) == len(bad) + 1
    assert [e["job_id"] for e in log_events(run.stderr, "job.accepted")] == ["good-1",
                                                                               "fixable"]
    assert pending(redis_client) == 0


def test_a_job_is_acknowledged_only_once_its_campaign_exists(
        env: dict[str, str], root: Path, redis_url: str, redis_client: redis.Redis,
        tmp_path: Path) -> None:
    write_contacts(root / "list.csv", 3)
    push(redis_url, job("crm-9", file="list.csv"))
    (tmp_path / "blocker").write_text("")  # the data dir cannot be made: planning fails
    broken = {**env, "LAAFFIC_DATA_DIR": str(tmp_path / "blocker" / "data")}
    failed = intake(broken, "--consumer", "A")
    assert failed.returncode == 1
    assert log_events(failed.stderr, "job.retry")
    assert pending(redis_client) == 1 and dead_letters(redis_client) == []
    assert Ledger(redis_client).list_campaigns() == []
    time.sleep(0.05)
    retried = intake({**env, "LAAFFIC_INTAKE_CLAIM_IDLE_MS": "10"}, "--consumer", "B")
    assert retried.returncode == 0, retried.stderr
    assert Ledger(redis_client).list_campaigns() == [campaign_of(redis_client, "crm-9")]
    assert pending(redis_client) == 0


def test_a_job_failing_on_every_delivery_is_dead_lettered_in_the_end(
        env: dict[str, str], root: Path, redis_url: str, redis_client: redis.Redis,
        tmp_path: Path) -> None:
    write_contacts(root / "list.csv", 3)
    push(redis_url, job("poison", file="list.csv"))
    (tmp_path / "blocker").write_text("")
    broken = {**env, "LAAFFIC_DATA_DIR": str(tmp_path / "blocker" / "data"),
              "LAAFFIC_INTAKE_MAX_DELIVERIES": "1", "LAAFFIC_INTAKE_CLAIM_IDLE_MS": "10"}
    assert intake(broken).returncode == 1
    time.sleep(0.05)
    last = intake(broken)
    assert last.returncode == 0, last.stderr
    assert "delivered 2 times" in dead_letters(redis_client)[0]["error"]
    assert pending(redis_client) == 0 and not redis_client.exists("laaffic:job:poison")


def test_a_running_consumer_takes_jobs_as_they_come_and_stops_on_sigterm(
        env: dict[str, str], redis_url: str, redis_client: redis.Redis,
        tmp_path: Path) -> None:
    log = tmp_path / "intake.log"
    with running_cli(["intake"], env, log) as consumer:
        wait_for(lambda: log_events(log.read_text(), "intake.started"), timeout=20)
        for i in range(2):
            push(redis_url, job(f"live-{i}", contacts=[{"calleeNumber": f"4670123456{i}"}]))
            wait_for(lambda i=i: redis_client.exists(f"laaffic:job:live-{i}"), timeout=20)
    assert consumer.returncode == 0
    assert len(log_events(log.read_text(), "job.accepted")) == 2
    assert pending(redis_client) == 0
