"""End to end through the real CLI: submit, a `laaffic-batch worker` subprocess (Dramatiq on
a real Redis), the sandbox over HTTP, `--wait`, `status --json`, `retry`."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import redis
from pipeline_support import (
    API_SECRET,
    pipeline_env,
    run_cli,
    running_worker,
    write_config,
    write_contacts,
)

from laaffic_batch.sandbox import Faults, SandboxServer

CONTRACT_KEYS = {"campaign", "rows", "accepted", "rejected", "duplicates", "rejects_file",
                 "chunks"}
CHUNK_KEYS = {"index", "task_name", "count", "state", "key_id", "attempts", "error"}


@pytest.fixture
def env(redis_url: str, sandbox: SandboxServer, tmp_path: Path) -> dict[str, str]:
    return pipeline_env(redis_url, sandbox, tmp_path / "data")


def _messy_contacts(path: Path) -> Path:
    rows = ["phone,first_name"]
    rows += [f"+46 70 {1000000 + i:07d},Name{i}" for i in range(250)]
    rows += ["070-100 00 01,Dup", "not a number,Bad", ",Empty", "123,Short"]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_dry_run_prints_the_contract_json_and_sends_nothing(
        tmp_path: Path, env: dict[str, str], sandbox: SandboxServer,
        redis_client: redis.Redis) -> None:
    config = write_config(tmp_path / "c.toml", chunk_size=100,
                          columns='text1 = "first_name"')
    result = run_cli(["submit", str(_messy_contacts(tmp_path / "in.csv")), "--config",
                      str(config), "--dry-run", "--json"], env)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert set(plan) == CONTRACT_KEYS
    assert plan["rows"] == 254
    assert (plan["accepted"], plan["rejected"], plan["duplicates"]) == (250, 3, 1)
    assert [c["count"] for c in plan["chunks"]] == [84, 83, 83]
    assert all(set(c) == CHUNK_KEYS and c["state"] == "planned" for c in plan["chunks"])
    assert Path(plan["rejects_file"]).read_text().count("\n") == 1 + 3
    assert sandbox.tasks() == [] and redis_client.dbsize() <= 1  # only the test's own key
    human = run_cli(["submit", str(tmp_path / "in.csv"), "--config", str(config),
                     "--dry-run"], env)
    assert human.returncode == 0 and plan["campaign"] in human.stdout
    assert "70 1000000" not in human.stdout and "*******0000" in human.stdout


def test_submit_wait_status_and_resubmit(tmp_path: Path, env: dict[str, str],
                                         sandbox: SandboxServer,
                                         redis_client: redis.Redis) -> None:
    contacts = _messy_contacts(tmp_path / "in.csv")
    config = write_config(tmp_path / "c.toml", chunk_size=100, columns='text1 = "first_name"')
    args = ["submit", str(contacts), "--config", str(config), "--wait", "--timeout", "90",
            "--json"]
    with running_worker(env, tmp_path / "worker.log"):
        result = run_cli(args, env)
        assert result.returncode == 0, result.stderr
        view = json.loads(result.stdout)
        again = run_cli(args, env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == view  # same campaign, nothing new
    tasks = {t["taskName"]: t for t in sandbox.tasks()}
    assert len(tasks) == 3
    assert sum(len(t["numbers"]) for t in tasks.values()) == view["accepted"] == 250
    assert len({n for t in tasks.values() for n in t["numbers"]}) == 250
    for chunk in view["chunks"]:
        assert chunk["state"] == "submitted"
        assert chunk["key_id"] == tasks[chunk["task_name"]]["jobId"]
    status = run_cli(["status", view["campaign"], "--json"], env)
    assert status.returncode == 0 and json.loads(status.stdout) == view
    table = run_cli(["status", view["campaign"]], env)
    assert all(c["task_name"] in table.stdout and str(c["key_id"]) in table.stdout
               for c in view["chunks"])
    # The secret is nowhere: not in the worker's logs, not in any output, not in Redis.
    outputs = (tmp_path / "worker.log").read_text() + result.stdout + result.stderr
    assert "chunk.submitted" in outputs
    assert API_SECRET not in outputs
    for key in redis_client.scan_iter():
        dump = redis_client.dump(key) or b""
        assert API_SECRET.encode() not in dump
    # Nor in the report files or the status table.
    report = run_cli(["report", view["campaign"]], env)
    assert report.returncode == 0, report.stderr
    report_dir = Path(env["LAAFFIC_DATA_DIR"]) / view["campaign"]
    for name in ("report.json", "report.csv"):
        assert API_SECRET not in (report_dir / name).read_text()
    assert API_SECRET not in table.stdout + report.stderr
    # Numbers in the worker's log are masked: no digit run long enough to be one.
    worker_log = (tmp_path / "worker.log").read_text()
    assert not re.findall(r"(?<![\w-])\d{9,}(?![\w-])", worker_log)
    assert "46701000000" not in outputs


def test_permanent_failure_exits_3_and_retry_completes(
        tmp_path: Path, env: dict[str, str], sandbox: SandboxServer) -> None:
    contacts = write_contacts(tmp_path / "in.csv", 20)
    config = write_config(tmp_path / "c.toml", chunk_size=10)
    sandbox.faults = Faults(permanent_agents={41: "-60"})
    args = ["submit", str(contacts), "--config", str(config), "--wait", "--timeout", "60",
            "--json"]
    with running_worker(env, tmp_path / "worker.log"):
        failed = run_cli(args, env)
        assert failed.returncode == 3, failed.stderr
        view = json.loads(failed.stdout)
        assert all(c["state"] == "failed" and c["attempts"] == 1 and
                   c["error"]["status"] == "-60" for c in view["chunks"])
        sandbox.faults = Faults()
        retried = run_cli(["retry", view["campaign"]], env)
        assert retried.returncode == 0, retried.stderr
        done = run_cli(args, env)  # the same submit follows the same campaign
    assert done.returncode == 0, done.stderr
    assert all(c["state"] == "submitted" for c in json.loads(done.stdout)["chunks"])
    assert len(sandbox.tasks()) == 2


def test_wait_timeout_exits_4(tmp_path: Path, env: dict[str, str]) -> None:
    contacts = write_contacts(tmp_path / "in.csv", 5)
    config = write_config(tmp_path / "c.toml")
    result = run_cli(["submit", str(contacts), "--config", str(config), "--wait",
                      "--timeout", "1", "--json"], env)  # no worker running
    assert result.returncode == 4
    assert json.loads(result.stdout)["chunks"][0]["state"] == "pending"


def test_unknown_campaign_and_missing_credentials_are_one_line_errors(
        tmp_path: Path, env: dict[str, str]) -> None:
    status = run_cli(["status", "nope-12345678"], env)
    assert status.returncode != 0 and "Traceback" not in status.stderr
    assert len(status.stderr.strip().splitlines()) == 1 and "nope-12345678" in status.stderr
    no_secret = {k: v for k, v in env.items() if k != "LAAFFIC_API_SECRET"}
    worker = run_cli(["worker"], no_secret, timeout=30)
    assert worker.returncode != 0 and "LAAFFIC_API_SECRET" in worker.stderr
    assert "Traceback" not in worker.stderr


def test_at_schedules_the_start(tmp_path: Path, env: dict[str, str],
                                sandbox: SandboxServer) -> None:
    from datetime import UTC, datetime, timedelta

    start = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(seconds=5)
    contacts = write_contacts(tmp_path / "in.csv", 5)
    config = write_config(tmp_path / "c.toml")
    with running_worker(env, tmp_path / "worker.log"):
        submitted = run_cli(["submit", str(contacts), "--config", str(config), "--at",
                             start.isoformat(), "--json"], env)
        assert submitted.returncode == 0, submitted.stderr
        campaign = json.loads(submitted.stdout)["campaign"]
        status = run_cli(["status", campaign], env)
        assert "[scheduled]" in status.stdout
        assert sandbox.tasks() == []
        done = run_cli(["submit", str(contacts), "--config", str(config), "--at",
                        start.isoformat(), "--wait", "--timeout", "60", "--json"], env)
    assert done.returncode == 0, done.stderr
    assert time.time() >= start.timestamp()
    (task,) = sandbox.tasks()
    assert json.loads(done.stdout)["chunks"][0]["key_id"] == task["jobId"]
    assert int(task["timestamp"]) >= int(start.timestamp())  # signed no earlier than --at


def test_a_bad_at_is_refused_before_reading(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_cli(["submit", str(write_contacts(tmp_path / "in.csv", 5)), "--config",
                      str(write_config(tmp_path / "c.toml")), "--at", "tomorrow night"], env)
    assert result.returncode != 0 and "--at" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
