"""Proof under fire: the pipeline (CLI submit, real `laaffic-batch worker` processes on
Dramatiq, a real Redis, the sandbox over HTTP) under the faults real deployments meet.
Every test ends by checking the provider's side: each accepted number in exactly one
task, and the ledger's keyIds equal to the sandbox's jobIds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from pipeline_support import (
    pipeline_env,
    run_cli,
    running_worker,
    start_cli,
    stop_group,
    wait_for,
    write_config,
    write_contacts,
)
from redis_support import free_port, start_redis_server

from laaffic_batch.sandbox import Faults, SandboxServer
from worker.ledger import Ledger

pytestmark = pytest.mark.chaos


def _submit(env: dict[str, str], contacts: Path, config: Path, *extra: str) -> dict:
    result = run_cli(["submit", str(contacts), "--config", str(config), "--json", *extra],
                     env, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _assert_exactly_once(view: dict, sandbox: SandboxServer) -> None:
    tasks = {t["taskName"]: t for t in sandbox.tasks()}
    assert len(tasks) == len(view["chunks"])
    numbers = [n for t in tasks.values() for n in t["numbers"]]
    assert len(numbers) == len(set(numbers)) == view["accepted"]
    for chunk in view["chunks"]:
        assert chunk["state"] == "submitted", chunk
        assert chunk["key_id"] == tasks[chunk["task_name"]]["jobId"]
        assert len(tasks[chunk["task_name"]]["numbers"]) == chunk["count"]


def _wait_terminal(client: redis.Redis, campaign: str, timeout: float) -> dict:
    ledger = Ledger(client)

    def done() -> dict | None:
        try:
            view = ledger.view(campaign)
        except redis.ConnectionError:
            return None
        if view and all(c["state"] in ("submitted", "failed") for c in view["chunks"]):
            return view
        return None

    return wait_for(done, timeout=timeout, interval=0.3)


def test_transient_storm(tmp_path: Path, redis_url: str, redis_client: redis.Redis,
                         sandbox: SandboxServer) -> None:
    """30% of sends fail, 15% of successful sends lose their answer, 50 ms latency;
    450,000 rows in 20,000-number chunks."""
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    sandbox.faults = Faults(fail_rate=0.3, lose_rate=0.15, latency=0.05, seed=1)
    contacts = write_contacts(tmp_path / "in.csv", 450_000)
    config = write_config(tmp_path / "c.toml", chunk_size=20_000,
                          extra_batch="max_attempts = 30\nmax_in_flight = 4")
    with running_worker(env, tmp_path / "worker.log", processes=2, threads=2):
        view = _submit(env, contacts, config, "--wait", "--timeout", "240")
    assert view["accepted"] == 450_000 and len(view["chunks"]) == 23
    _assert_exactly_once(view, sandbox)
    stats = sandbox.stats()
    assert stats["faults"], "the storm served no faults: the test proved nothing"
    assert any(c["attempts"] > 1 for c in view["chunks"])


def test_worker_killed_mid_send_then_a_new_worker(tmp_path: Path, redis_url: str,
                                                  redis_client: redis.Redis,
                                                  sandbox: SandboxServer) -> None:
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    # Recovery bound in this test: heartbeat timeout (3 s) + the chunk's lease
    # (connect 5 s + read timeout 3 s + margin 1 s) - far below the 60 s wait.
    env.update({"LAAFFIC_HEARTBEAT_TIMEOUT_MS": "3000", "LAAFFIC_MAINTENANCE_CHANCE": "1000000",
                "LAAFFIC_READ_TIMEOUT": "3", "LAAFFIC_LEASE_MARGIN": "1"})
    sandbox.faults = Faults(latency=1.5)
    contacts = write_contacts(tmp_path / "in.csv", 60)
    config = write_config(tmp_path / "c.toml", chunk_size=10)
    with running_worker(env, tmp_path / "first.log", threads=3) as first:
        view = _submit(env, contacts, config)
        wait_for(lambda: sandbox.stats()["sends"] >= 1, timeout=30)
        time.sleep(0.3)  # requests are in flight now
        stop_group(first, signal.SIGKILL)  # kill -9 the whole group: workers die mid-send
    in_flight_at_kill = sandbox.stats()["sends"]
    started = time.monotonic()
    with running_worker(env, tmp_path / "second.log", threads=3):
        final = _wait_terminal(redis_client, view["campaign"], timeout=90)
    recovered_in = time.monotonic() - started
    assert in_flight_at_kill >= 1
    _assert_exactly_once(final | {"accepted": view["accepted"]}, sandbox)
    assert recovered_in < 60


def test_one_message_delivered_to_two_workers(tmp_path: Path, redis_url: str,
                                              redis_client: redis.Redis,
                                              sandbox: SandboxServer) -> None:
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    sandbox.faults = Faults(latency=1.0)
    contacts = write_contacts(tmp_path / "in.csv", 5)
    config = write_config(tmp_path / "c.toml")
    view = _submit(env, contacts, config)  # one message queued, no worker yet
    # Send the same chunk's message again: two copies in the queue.
    send_again = ("import sys; from worker.actors import submit_chunk; "
                  "submit_chunk.send(sys.argv[1], 0)")
    subprocess.run([sys.executable, "-c", send_again, view["campaign"]], env=env,
                   check=True, timeout=60)
    with running_worker(env, tmp_path / "a.log", threads=1), \
            running_worker(env, tmp_path / "b.log", threads=1):
        final = _wait_terminal(redis_client, view["campaign"], timeout=60)
        time.sleep(1.5)  # let the second copy run to its no-op
    _assert_exactly_once(final | {"accepted": 5}, sandbox)
    assert sandbox.stats()["sends"] == 1


def test_redis_restarted_mid_campaign(tmp_path: Path, sandbox: SandboxServer) -> None:
    port = free_port()
    directory = tmp_path / "redis"
    directory.mkdir()
    args = ("--appendonly", "yes", "--appendfsync", "always")
    server = start_redis_server(directory, port, *args)
    url = f"redis://127.0.0.1:{port}/0"
    env = pipeline_env(url, sandbox, tmp_path / "data")
    # A message lost in the outage is found by the sweeper (stale after 5 s here).
    env.update({"LAAFFIC_SWEEP_INTERVAL_S": "1", "LAAFFIC_STALE_AFTER_S": "5"})
    sandbox.faults = Faults(latency=0.4)
    contacts = write_contacts(tmp_path / "in.csv", 120)
    config = write_config(tmp_path / "c.toml", chunk_size=10, extra_batch="max_in_flight = 1")
    client = redis.Redis.from_url(url)
    try:
        with running_worker(env, tmp_path / "worker.log", threads=2):
            view = _submit(env, contacts, config)
            wait_for(lambda: sandbox.stats()["tasks"] >= 2, timeout=30)
            server.terminate()  # SIGTERM: Redis shuts down cleanly, AOF on disk
            server.wait(20)
            time.sleep(2)
            server = start_redis_server(directory, port, *args)
            final = _wait_terminal(client, view["campaign"], timeout=120)
        _assert_exactly_once(final | {"accepted": 120}, sandbox)
    finally:
        client.close()
        server.terminate()
        server.wait(20)


def test_provider_busy_for_a_while(tmp_path: Path, redis_url: str,
                                   redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    """A concurrency limit of 2 running tasks answered with -37: the campaign completes with
    no chunk failed and no attempt budget spent by the waiting."""
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    sandbox.faults = Faults(max_concurrent=2, task_duration=1.0)
    contacts = write_contacts(tmp_path / "in.csv", 60)
    config = write_config(tmp_path / "c.toml", chunk_size=10,
                          extra_batch="max_attempts = 1\nmax_in_flight = 4")
    with running_worker(env, tmp_path / "worker.log", threads=4):
        view = _submit(env, contacts, config, "--wait", "--timeout", "120")
    _assert_exactly_once(view, sandbox)
    assert sandbox.stats()["faults"].get("busy", 0) > 0  # the provider did say -37
    for chunk in Ledger(redis_client).chunks(view["campaign"]):
        assert chunk.transient_failures == 0


def test_provider_down_longer_than_the_budget_then_retry(
        tmp_path: Path, redis_url: str, sandbox: SandboxServer) -> None:
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    sandbox.faults = Faults(fail_rate=1.0)
    contacts = write_contacts(tmp_path / "in.csv", 30)
    config = write_config(tmp_path / "c.toml", chunk_size=10, extra_batch="max_attempts = 3")
    args = ["submit", str(contacts), "--config", str(config), "--json", "--wait",
            "--timeout", "60"]
    with running_worker(env, tmp_path / "worker.log", threads=3):
        down = run_cli(args, env)
        assert down.returncode == 3, down.stderr
        failed = json.loads(down.stdout)
        assert all(c["state"] == "failed" and c["attempts"] == 3 and c["error"]
                   for c in failed["chunks"])
        sandbox.faults = Faults()
        assert run_cli(["retry", failed["campaign"]], env).returncode == 0
        up = run_cli(args, env)
    assert up.returncode == 0, up.stderr
    _assert_exactly_once(json.loads(up.stdout), sandbox)


def test_worker_group_stops_cleanly_on_sigterm(tmp_path: Path, redis_url: str,
                                               sandbox: SandboxServer) -> None:
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    with running_worker(env, tmp_path / "worker.log") as worker:
        time.sleep(2)
        stop_group(worker)
        assert worker.returncode == 0


def _killed_mid_planning(proc: subprocess.Popen[bytes], started: Callable[[], bool]) -> None:
    """Wait until the process has taken the work, then kill -9 its whole group."""
    wait_for(started, timeout=30, interval=0.02)
    time.sleep(0.2)
    stop_group(proc, signal.SIGKILL)


def test_watcher_killed_mid_file_resumes_without_loss_or_double(
        tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "LAAFFIC_DATA_DIR": str(tmp_path / "data")}
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_config(tmp_path / "c.toml", chunk_size=50_000)
    write_contacts(tmp_path / "big.csv", 600_000).rename(inbox / "big.csv")
    first = start_cli(["watch", str(inbox), "--config", str(config), "--interval", "0.1"],
                      env, tmp_path / "first.log")
    _killed_mid_planning(first, lambda: (inbox / "processing" / "big.csv").exists())
    assert (inbox / "processing" / "big.csv").exists()  # killed while it was in hand
    again = run_cli(["watch", str(inbox), "--config", str(config), "--once", "--interval",
                     "0.1"], env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert (inbox / "done" / "big.csv").exists()
    assert not list((inbox / "processing").glob("big*"))
    result = json.loads((inbox / "done" / "big.csv.result.json").read_text())
    ledger = Ledger(redis_client)
    assert ledger.list_campaigns() == [result["campaign"]]  # one campaign, not two
    assert sum(c["count"] for c in result["chunks"]) == result["accepted"] == 600_000


def test_intake_killed_mid_job_is_taken_again_once(
        tmp_path: Path, redis_url: str, redis_client: redis.Redis) -> None:
    root = tmp_path / "root"
    root.mkdir()
    env = {**os.environ, "REDIS_URL": redis_url, "LAAFFIC_DATA_DIR": str(tmp_path / "data"),
           "LAAFFIC_INTAKE_ROOT": str(root), "LAAFFIC_INTAKE_CLAIM_IDLE_MS": "300"}
    write_contacts(root / "big.csv", 600_000)
    job = {"job_id": "big-1", "file": "big.csv",
           "config": {"task": {"appId": "a", "agentId": 41},
                      "batch": {"name": "crm", "default_country_code": "46"}}}
    subprocess.run(["redis-cli", "-u", redis_url, "XADD", "laaffic:jobs", "*", "job",
                    json.dumps(job)], check=True, capture_output=True, timeout=10)
    first = start_cli(["intake", "--consumer", "A"], env, tmp_path / "first.log")

    def taken() -> bool:
        try:
            return int(redis_client.xpending("laaffic:jobs", "laaffic-batch")["pending"]) == 1
        except redis.ResponseError:  # the group does not exist yet
            return False

    _killed_mid_planning(first, taken)
    time.sleep(0.5)  # idle past the claim threshold
    again = run_cli(["intake", "--once", "--consumer", "B"], env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert int(redis_client.xpending("laaffic:jobs", "laaffic-batch")["pending"]) == 0
    assert redis_client.xlen("laaffic:jobs:dead") == 0
    campaigns = Ledger(redis_client).list_campaigns()
    assert len(campaigns) == 1
    assert redis_client.get("laaffic:job:big-1").decode() == campaigns[0]
