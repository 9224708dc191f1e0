"""`laaffic-batch watch`: real CLI subprocesses on a real inbox folder and a real Redis; the
sandbox and a worker only where chunks must reach the API (the race test)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from pipeline_support import (
    log_events,
    pipeline_env,
    run_cli,
    running_worker,
    start_cli,
    stop_group,
    wait_for,
    write_config,
    write_contacts,
)

from laaffic_batch.sandbox import SandboxServer
from worker.broker import NAMESPACE, QUEUE
from worker.chunk_store import ChunkStore
from worker.ledger import Ledger
from worker.watch import is_contact_file

QUEUED_MESSAGES = f"{NAMESPACE}:{QUEUE}.msgs"  # Dramatiq's hash of messages not yet done


@pytest.fixture
def env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "LAAFFIC_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "campaign.toml", name="main")


def watch_once(env: dict[str, str], inbox: Path, config: Path,
               *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["watch", str(inbox), "--config", str(config), "--once",
                    "--interval", "0.2", *extra], env, timeout=60)


def start_watcher(env: dict[str, str], inbox: Path, config: Path,
                  log: Path) -> subprocess.Popen[bytes]:
    return start_cli(["watch", str(inbox), "--config", str(config), "--interval", "0.3"],
                     env, log)


def result(inbox: Path, name: str) -> dict:
    return json.loads((inbox / "done" / f"{name}.result.json").read_text())


def drop(inbox: Path, name: str, rows: int, start: int = 0) -> Path:
    """Write under a dot name, then rename: the file appears complete at once."""
    tmp = write_contacts(inbox / f".{name}.uploading", rows, start)
    return tmp.rename(inbox / name)


def test_temp_and_side_names_are_not_contact_files() -> None:
    for name in (".hidden.csv", "~$book.xlsx", "up.csv.part", "x.TMP", "dl.csv.crdownload",
                 "a.csv.ready", "a.csv.toml", "a.toml", "a.csv.result.json",
                 "a.csv.error.txt"):
        assert not is_contact_file(name), name
    for name in ("contacts.csv", "list.xlsx", "numbers.csv.gz", "export.jsonl", "noext"):
        assert is_contact_file(name), name


def test_growing_file_waits_until_stable_and_temp_names_stay(
        env: dict[str, str], inbox: Path, config: Path, tmp_path: Path) -> None:
    ignored = [".hidden.csv", "~$book.csv", "up.csv.part", "x.tmp", "dl.csv.crdownload",
               "a.csv.ready", "notes.result.json", "notes.error.txt"]
    for name in ignored:
        write_contacts(inbox / name, 3)
    (inbox / "sub").mkdir()
    write_contacts(inbox / "sub" / "nested.csv", 3)
    growing = write_contacts(inbox / "grow.csv", 5)
    log = tmp_path / "watch.log"
    watcher = start_watcher(env, inbox, config, log)
    try:
        with growing.open("a") as upload:  # an upload still writing, faster than the interval
            for i in range(12):
                upload.write(f"+46 70 {800000 + i:07d},Late{i}\n")
                upload.flush()
                time.sleep(0.15)
                assert growing.exists(), f"taken while still growing (after {i + 1} appends)"
        wait_for(lambda: (inbox / "done" / "grow.csv").exists(), timeout=20)
    finally:
        stop_group(watcher)
    assert watcher.returncode == 0
    assert result(inbox, "grow.csv")["rows"] == 5 + 12  # the whole file, not a prefix
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == sorted(ignored)
    assert (inbox / "sub" / "nested.csv").exists()
    assert len(log_events(log.read_text(), "watch.submitted")) == 1


def test_marker_mode_takes_only_files_with_a_ready_marker(
        env: dict[str, str], inbox: Path, config: Path) -> None:
    drop(inbox, "a.csv", 3)
    drop(inbox, "b.csv", 3, start=10)
    (inbox / "b.csv.ready").touch()
    first = watch_once(env, inbox, config, "--marker")
    assert first.returncode == 0, first.stderr
    assert (inbox / "done" / "b.csv").exists() and not (inbox / "b.csv.ready").exists()
    assert (inbox / "a.csv").exists()  # complete and stable, but no marker: not taken
    (inbox / "a.csv.ready").touch()
    second = watch_once(env, inbox, config, "--marker")
    assert second.returncode == 0, second.stderr
    assert (inbox / "done" / "a.csv").exists() and not (inbox / "a.csv.ready").exists()
    # The same file dropped again: the same campaign, and the earlier results are kept.
    drop(inbox, "a.csv", 3)
    (inbox / "a.csv.ready").touch()
    third = watch_once(env, inbox, config, "--marker")
    assert third.returncode == 0, third.stderr
    [again] = [p for p in (inbox / "done").glob("*-a.csv.result.json")]
    assert json.loads(again.read_text())["campaign"] == result(inbox, "a.csv")["campaign"]
    assert log_events(third.stderr, "watch.submitted")[0]["created"] is False


def test_two_watchers_take_each_file_once_and_results_get_final_states(
        redis_url: str, sandbox: SandboxServer, inbox: Path, config: Path,
        tmp_path: Path, redis_client: redis.Redis) -> None:
    env = pipeline_env(redis_url, sandbox, tmp_path / "data")
    names = [f"list{i}.csv" for i in range(8)]
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    with running_worker(env, tmp_path / "worker.log"):
        watchers = [start_watcher(env, inbox, config, log) for log in logs]
        try:
            for i, name in enumerate(names):
                drop(inbox, name, 4, start=100 * i)

            def all_final() -> bool:
                try:
                    return all(c["state"] == "submitted" and c["key_id"]
                               for n in names for c in result(inbox, n)["chunks"])
                except (FileNotFoundError, json.JSONDecodeError):
                    return False

            wait_for(all_final, timeout=40)
        finally:
            for watcher in watchers:
                stop_group(watcher)
    assert [w.returncode for w in watchers] == [0, 0]
    submitted = [e for log in logs for e in log_events(log.read_text(), "watch.submitted")]
    assert sorted(e["file"] for e in submitted) == names  # every file taken exactly once
    done = sorted(p.name for p in (inbox / "done").iterdir() if p.suffix == ".csv"
                  and not p.name.endswith(".rejects.csv"))
    assert done == names
    assert not list((inbox / "processing").iterdir()) and not list((inbox / "failed").iterdir())
    tasks = sandbox.tasks()
    assert len(tasks) == len(names) == len(Ledger(redis_client).list_campaigns())
    key_ids = {c["key_id"] for n in names for c in result(inbox, n)["chunks"]}
    assert key_ids == {t["jobId"] for t in tasks}


def test_a_crashed_watchers_files_are_resumed_once(
        env: dict[str, str], inbox: Path, config: Path, redis_client: redis.Redis) -> None:
    processing = inbox / "processing"
    processing.mkdir()
    # Crashed after its campaign was created (and queued), before the move to done/.
    resumed = write_contacts(processing / "resumed.csv", 5)
    earlier = run_cli(["submit", str(resumed), "--config", str(config), "--json"], env)
    assert earlier.returncode == 0, earlier.stderr
    campaign = json.loads(earlier.stdout)["campaign"]
    write_contacts(processing / "fresh.csv", 5, start=50)  # crashed before planning
    held = write_contacts(processing / "held.csv", 5, start=90)
    lock = os.open(held, os.O_RDONLY)  # another live watcher is working on this one
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run = watch_once(env, inbox, config)
        assert run.returncode == 0, run.stderr
        assert held.exists() and not (inbox / "done" / "held.csv").exists()
    finally:
        os.close(lock)  # as when that watcher dies
    assert result(inbox, "resumed.csv")["campaign"] == campaign
    assert (inbox / "done" / "fresh.csv").exists()
    created = {e["file"]: e["created"] for e in log_events(run.stderr, "watch.submitted")}
    assert created == {"resumed.csv": False, "fresh.csv": True}
    after = watch_once(env, inbox, config)
    assert after.returncode == 0, after.stderr
    assert (inbox / "done" / "held.csv").exists() and not list(processing.iterdir())
    # One campaign per file and one queued message per chunk: nothing submitted twice.
    assert len(Ledger(redis_client).list_campaigns()) == 3
    assert redis_client.hlen(QUEUED_MESSAGES) == 3


def test_sidecar_config_overrides_the_main_config_for_its_file(
        env: dict[str, str], inbox: Path, config: Path, redis_client: redis.Redis) -> None:
    drop(inbox, "vip.csv", 5)
    (inbox / "vip.csv.toml").write_text(
        '[batch]\nname = "vip"\nchunk_size = 2\n[columns]\ntext1 = "first_name"\n')
    drop(inbox, "other.csv", 5, start=20)
    (inbox / "other.toml").write_text("[task]\nmaxRingingTime = 30\n")
    drop(inbox, "plain.csv", 5, start=40)
    run = watch_once(env, inbox, config)
    assert run.returncode == 0, run.stderr
    ledger = Ledger(redis_client)
    vip, other, plain = (result(inbox, n) for n in ("vip.csv", "other.csv", "plain.csv"))
    assert vip["campaign"].startswith("vip-") and len(vip["chunks"]) == 3
    vip_meta = ledger.meta(vip["campaign"])
    assert vip_meta is not None and vip_meta.task["agentId"] == 41  # kept from the main file
    first_chunk = json.loads(ChunkStore(redis_client).get(vip["campaign"], 0))
    assert first_chunk[0]["text1"] == "Name0"
    other_meta, plain_meta = ledger.meta(other["campaign"]), ledger.meta(plain["campaign"])
    assert other_meta is not None and other_meta.task["maxRingingTime"] == 30
    assert plain_meta is not None and plain_meta.task["maxRingingTime"] == 60
    assert other["campaign"].startswith("main-") and plain["campaign"].startswith("main-")
    assert (inbox / "done" / "vip.csv.toml").exists()
    assert (inbox / "done" / "other.csv.toml").exists()
    assert not list(inbox.glob("*.toml"))


def test_bad_files_go_to_failed_with_a_one_line_reason(
        env: dict[str, str], inbox: Path, config: Path) -> None:
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4 not a contact list")
    (inbox / "names.csv").write_text("name,city\nAnna,Lund\nBo,Ystad\n")
    drop(inbox, "broken.csv", 3)
    (inbox / "broken.csv.toml").write_text("[batch]\nchunk_size = 500000\n")
    drop(inbox, "good.csv", 3, start=30)
    run = watch_once(env, inbox, config)
    assert run.returncode == 0, run.stderr
    failed = inbox / "failed"
    reasons = {name: (failed / f"{name}.error.txt").read_text() for name in
               ("scan.pdf", "names.csv", "broken.csv")}
    for name, reason in reasons.items():
        assert (failed / name).exists()
        assert reason.endswith("\n") and reason.count("\n") == 1, reason
    assert "unknown file type" in reasons["scan.pdf"]
    assert "broken.csv.toml" in reasons["broken.csv"]
    assert "batch.chunk_size" in reasons["broken.csv"]
    assert (failed / "broken.csv.toml").exists()
    assert (inbox / "done" / "good.csv").exists()
    assert len(log_events(run.stderr, "watch.failed")) == 3


def test_an_error_not_caused_by_the_file_leaves_it_in_processing_for_later(
        env: dict[str, str], inbox: Path, config: Path, tmp_path: Path) -> None:
    # The data dir cannot be created (a file is in the way): like a full disk or Redis
    # down (which takes the Redis client ~20 s of retries to give up on), not the input's
    # fault, so the file must be neither failed nor lost.
    drop(inbox, "list.csv", 3)
    (tmp_path / "blocker").write_text("")
    broken = {**env, "LAAFFIC_DATA_DIR": str(tmp_path / "blocker" / "data")}
    run = watch_once(broken, inbox, config)
    assert run.returncode == 1
    assert (inbox / "processing" / "list.csv").exists()
    assert not list((inbox / "failed").iterdir())
    assert log_events(run.stderr, "watch.retry")
    again = watch_once(env, inbox, config)
    assert again.returncode == 0, again.stderr
    assert result(inbox, "list.csv")["accepted"] == 3
