"""The sandbox at the HTTP level (plain requests, no client): the provider's checks, the
query/detail endpoints, faults, the admin endpoints, logging and the command entry point."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import requests

from laaffic_batch.sandbox import Faults, SandboxServer, add_arguments
from worker.signing import signed_headers

KEY, SECRET = "sandbox-key", "sandbox-secret"
SEND = "/v3/voice/group/call/send/agent"
QUERY = "/v3/voice/group/call/query"
DETAIL = "/v3/voice/group/call/detail/"


def task(name: str, numbers: tuple[str, ...] = ("46701234567",), **extra: Any) -> dict:
    return {"appId": "2Xql9RBI", "agentId": 41, "taskName": name,
            "numberInfoList": [{"calleeNumber": n} for n in numbers], **extra}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def post(http: requests.Session, sandbox: SandboxServer, path: str, body: Any,
         headers: dict[str, str] | None = None) -> requests.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return http.post(sandbox.url + path, data=data,
                     headers=signed_headers(KEY, SECRET) if headers is None else headers,
                     timeout=10)


def send(http: requests.Session, sandbox: SandboxServer, body: Any,
         headers: dict[str, str] | None = None) -> dict:
    response = post(http, sandbox, SEND, body, headers)
    assert response.status_code == 200
    return response.json()


def query(http: requests.Session, sandbox: SandboxServer, search: str = "", current: int = 1,
          size: int = 10, start: datetime | None = None, end: datetime | None = None,
          statuses: list[int] | None = None) -> dict:
    now = datetime.now()
    start, end = start or now - timedelta(hours=1), end or now + timedelta(hours=1)
    body = {"current": current, "size": size,
            "params": {"strTime": start.strftime("%Y-%m-%d %H:%M:%S"),
                       "endTime": end.strftime("%Y-%m-%d %H:%M:%S"),
                       "statusList": statuses or [], "searchCondition": search}}
    return post(http, sandbox, QUERY, body).json()


# ------------------------------------------------------------------ the send endpoint's checks


def test_a_valid_send_is_recorded_and_answered_with_its_job_id(
        sandbox: SandboxServer, http: requests.Session) -> None:
    answer = send(http, sandbox, task("ok-001", ("46701234567", "46701234568")))
    assert answer["status"] == "0" and answer["reason"] == "success"
    [recorded] = sandbox.tasks()
    assert recorded["jobId"] == answer["data"]
    assert recorded["count"] == 2


@pytest.mark.parametrize("change", [
    {"Api-Key": "other-key"},
    {"Sign": "0" * 32},
    {"Sign": ""},
    {"Timestamp": ""},
])
def test_wrong_credentials_are_status_minus_1(
        sandbox: SandboxServer, http: requests.Session, change: dict[str, str]) -> None:
    headers = {**signed_headers(KEY, SECRET), **change}
    assert send(http, sandbox, task("auth-001"), headers)["status"] == "-1"
    assert sandbox.tasks() == []


def test_sign_is_compared_case_insensitively(
        sandbox: SandboxServer, http: requests.Session) -> None:
    headers = signed_headers(KEY, SECRET)
    headers["Sign"] = headers["Sign"].upper()
    assert send(http, sandbox, task("upper-001"), headers)["status"] == "0"


@pytest.mark.parametrize("skew", [-400, 400])
def test_a_timestamp_off_by_more_than_300_seconds_is_minus_16(
        sandbox: SandboxServer, http: requests.Session, skew: int) -> None:
    headers = signed_headers(KEY, SECRET, now=time.time() + skew)
    assert send(http, sandbox, task("stale-001"), headers)["status"] == "-16"
    assert send(http, sandbox, task("stale-001"),
                signed_headers(KEY, SECRET, now=time.time() - 250))["status"] == "0"


def test_a_timestamp_in_milliseconds_is_minus_16(
        sandbox: SandboxServer, http: requests.Session) -> None:
    headers = signed_headers(KEY, SECRET, now=time.time() * 1000)
    assert send(http, sandbox, task("millis-001"), headers)["status"] == "-16"


@pytest.mark.parametrize(("body", "status", "named"), [
    (b"not json", "-22", "JSON"),
    (b"[1, 2]", "-22", "object"),
    ({"appId": "a", "agentId": 41, "numberInfoList": [{"calleeNumber": "46701234567"}]},
     "-22", "taskName"),
    ({"appId": "a", "agentId": 41, "taskName": "no-numbers"}, "-22", "numberInfoList"),
    (task("t" * 65), "-22", "taskName"),
    (task("short-num", ("4670",)), "-21", "calleeNumber"),
    (task("letters", ("46 70 123",)), "-21", "calleeNumber"),
    (task("slots", allowSendTime=[{"strTime": "09:00", "endTime": "10:00"}] * 4),
     "-22", "allowSendTime"),
    (task("recall", recallFlow={"recallType": 3}), "-22", "recallInterval"),
])
def test_invalid_bodies_are_rejected_with_the_field_named(
        sandbox: SandboxServer, http: requests.Session, body: Any, status: str,
        named: str) -> None:
    answer = send(http, sandbox, body)
    assert answer["status"] == status
    assert named in answer["reason"]
    assert sandbox.tasks() == []


def test_more_than_200000_numbers_are_refused(
        sandbox: SandboxServer, http: requests.Session) -> None:
    numbers = tuple(str(46700000000 + i) for i in range(200_001))
    answer = send(http, sandbox, task("huge-001", numbers))
    assert answer["status"] == "-21"
    assert "200000" in answer["reason"]
    assert sandbox.tasks() == []


def test_task_names_are_unique(sandbox: SandboxServer, http: requests.Session) -> None:
    first = send(http, sandbox, task("same-001"))
    again = send(http, sandbox, task("same-001", ("46709999999",)))
    assert again == {"status": "-41", "reason": "Task name already exists"}
    assert [t["jobId"] for t in sandbox.tasks()] == [first["data"]]


def test_permanent_agents_and_the_concurrency_limit(
        sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.faults = Faults(permanent_agents={41: "-60"}, max_concurrent=1, task_duration=30)
    assert send(http, sandbox, task("agent-001"))["status"] == "-60"
    assert send(http, sandbox, task("agent-002", agentId=7))["status"] == "0"
    assert send(http, sandbox, task("agent-003", agentId=7))["status"] == "-37"
    assert [t["taskName"] for t in sandbox.tasks()] == ["agent-002"]
    assert sandbox.stats()["faults"] == {"permanent": 1, "busy": 1}


# ------------------------------------------------------------------ faults


def test_failed_sends_are_not_recorded(sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.faults = Faults(fail_rate=1.0, seed=3)
    outcomes = set()
    for index in range(12):
        response = post(http, sandbox, SEND, task(f"fail-{index:03d}"))
        outcomes.add(response.json()["status"] if response.status_code == 200
                     else response.status_code)
    assert outcomes == {500, 502, "-18"}
    assert sandbox.tasks() == []
    assert sandbox.stats()["faults_served"] == 12


def test_lost_answers_are_recorded(sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.faults = Faults(lose_rate=1.0, seed=1)
    outcomes = []
    for index in range(3):
        try:
            outcomes.append(post(http, sandbox, SEND, task(f"lose-{index:03d}")).status_code)
        except requests.ConnectionError:
            outcomes.append("dropped")
    assert set(outcomes) == {"dropped", 504}
    assert [t["taskName"] for t in sandbox.tasks()] == ["lose-000", "lose-001", "lose-002"]


def test_a_seed_makes_the_fault_pattern_repeatable(http: requests.Session) -> None:
    def outcomes() -> list[Any]:
        with SandboxServer(faults=Faults(fail_rate=0.5, seed=42)) as sandbox:
            answers = [post(http, sandbox, SEND, task(f"seed-{i:03d}")) for i in range(20)]
        return [a.json()["status"] if a.status_code == 200 else a.status_code for a in answers]

    first = outcomes()
    assert first == outcomes()
    assert 0 < first.count("0") < 20


def test_latency_delays_sends(sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.faults = Faults(latency=0.3)
    started = time.monotonic()
    assert send(http, sandbox, task("slow-001"))["status"] == "0"
    assert time.monotonic() - started >= 0.3


# ------------------------------------------------------------------ query and detail


def test_query_is_fuzzy_windowed_paged_and_uses_code_msg(
        sandbox: SandboxServer, http: requests.Session) -> None:
    for name in ("nov-a-001", "nov-a-002", "NOV-A-003", "dec-a-001"):
        send(http, sandbox, task(name))
    answer = query(http, sandbox, "nov-a", size=2)
    assert answer["code"] == 0 and answer["msg"] == "success"
    data = answer["data"]
    assert (data["total"], data["pages"], data["current"], data["size"]) == (3, 2, 1, 2)
    page_two = query(http, sandbox, "nov-a", size=2, current=2)["data"]["records"]
    names = {r["taskName"] for r in data["records"] + page_two}
    assert names == {"nov-a-001", "nov-a-002", "NOV-A-003"}
    later = datetime.now() + timedelta(hours=2)
    assert query(http, sandbox, "nov-a", start=later, end=later + timedelta(hours=1))[
        "data"]["total"] == 0
    record = data["records"][0]
    datetime.strptime(record["createdTime"], "%Y-%m-%d %H:%M:%S")
    assert {"jobId", "taskName", "status", "numCnt", "callNum", "success", "fail",
            "rate"} <= set(record)


def test_query_rejects_bad_paging_and_bad_credentials(
        sandbox: SandboxServer, http: requests.Session) -> None:
    assert query(http, sandbox, size=101)["code"] == -22
    body = {"current": 1, "size": 10, "params": {}}
    assert post(http, sandbox, QUERY, body).json()["code"] == -22
    wrong = signed_headers(KEY, "not-the-secret")
    assert post(http, sandbox, QUERY, body, wrong).json()["code"] == -1


def test_progress_advances_from_calling_to_completed(
        sandbox: SandboxServer, http: requests.Session) -> None:
    sandbox.faults = Faults(task_duration=0.5)
    numbers = tuple(str(46700000000 + i) for i in range(1000))
    job_id = send(http, sandbox, task("progress-001", numbers))["data"]
    [early] = query(http, sandbox, "progress-001")["data"]["records"]
    assert early["status"] == 1
    assert early["numCnt"] == 1000 and early["callNum"] < 1000
    assert query(http, sandbox, statuses=[2])["data"]["total"] == 0
    time.sleep(0.55)
    [done] = query(http, sandbox, "progress-001")["data"]["records"]
    assert done["status"] == 2
    assert done["callNum"] == 1000 == done["success"] + done["fail"]
    assert 0 < done["success"] < 1000
    assert float(done["rate"]) == 100.0
    detail = http.get(sandbox.url + DETAIL + str(job_id), headers=signed_headers(KEY, SECRET),
                      timeout=10).json()
    assert detail["code"] == 0
    assert detail["data"]["jobId"] == job_id and detail["data"]["status"] == 2
    assert detail["data"]["finishTime"]


def test_detail_of_an_unknown_task_is_minus_24(
        sandbox: SandboxServer, http: requests.Session) -> None:
    answer = http.get(sandbox.url + DETAIL + "999", headers=signed_headers(KEY, SECRET),
                      timeout=10).json()
    assert answer["code"] == -24


# ------------------------------------------------------------------ admin endpoints


def test_admin_tasks_stats_faults_and_reset(
        sandbox: SandboxServer, http: requests.Session) -> None:
    send(http, sandbox, task("admin-001", ("46701234567", "46701234568")))
    send(http, sandbox, task("admin-002", ("46701234567",)))
    tasks = http.get(sandbox.url + "/_sandbox/tasks", timeout=10).json()
    assert [(t["taskName"], t["count"], t["numbers"]) for t in tasks] == [
        ("admin-001", 2, ["46701234567", "46701234568"]), ("admin-002", 1, ["46701234567"])]
    brief = http.get(sandbox.url + "/_sandbox/tasks?numbers=0", timeout=10).json()
    assert "numbers" not in brief[0]
    stats = http.get(sandbox.url + "/_sandbox/stats", timeout=10).json()
    assert (stats["tasks"], stats["numbers"], stats["distinct_numbers"], stats["sends"]) == (
        2, 3, 2, 2)

    replaced = http.post(sandbox.url + "/_sandbox/faults",
                         json={"permanent_agents": {"41": "-60"}}, timeout=10)
    assert replaced.status_code == 200
    assert send(http, sandbox, task("admin-003"))["status"] == "-60"
    rejected = http.post(sandbox.url + "/_sandbox/faults", json={"fail_rat": 1}, timeout=10)
    assert rejected.status_code == 400 and "fail_rat" in rejected.json()["error"]
    assert sandbox.faults.permanent_agents == {41: "-60"}  # unchanged by the rejected one

    assert http.post(sandbox.url + "/_sandbox/reset", timeout=10).status_code == 200
    assert sandbox.tasks() == []
    assert sandbox.stats()["sends"] == 0


def test_unknown_paths_are_404(sandbox: SandboxServer, http: requests.Session) -> None:
    assert http.get(sandbox.url + "/v3/nothing", timeout=10).status_code == 404


# ------------------------------------------------------------------ connection handling, logs


def test_many_requests_share_one_keep_alive_connection(
        sandbox: SandboxServer, http: requests.Session) -> None:
    for index in range(30):
        assert send(http, sandbox, task(f"ka-{index:03d}"))["status"] == "0"
    assert sandbox.stats()["connections"] == 1


def test_one_log_line_per_request_without_phone_numbers(
        sandbox: SandboxServer, http: requests.Session, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="laaffic_batch.sandbox")
    send(http, sandbox, task("log-001", ("46701234567",)))
    send(http, sandbox, task("log-002", ("46709876543",)))
    send(http, sandbox, task("log-003", ("12345",)))  # its error names the bad value
    lines = [r.getMessage() for r in caplog.records if r.name == "laaffic_batch.sandbox"]
    assert len(lines) == 3
    assert "log-001" in lines[0] and "numbers=1" in lines[0]
    assert not any(n in line for line in lines for n in ("46701234567", "46709876543"))


def test_stop_releases_the_port() -> None:
    server = SandboxServer().start()
    url = server.url
    with requests.Session() as http:
        assert http.get(url + "/_sandbox/stats", timeout=5).status_code == 200
        server.stop()
        with pytest.raises(requests.ConnectionError):
            http.get(url + "/_sandbox/stats", timeout=5)


# ------------------------------------------------------------------ the command entry point


def test_arguments_and_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAAFFIC_API_KEY", raising=False)
    monkeypatch.setenv("LAAFFIC_API_SECRET", "from-env")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--permanent", "41=-60", "--permanent", "7=-26"])
    assert (args.host, args.port, args.api_key, args.api_secret) == (
        "127.0.0.1", 8787, "sandbox-key", "from-env")
    assert dict(args.permanent) == {41: "-60", 7: "-26"}
    assert Faults(fail_rate=args.fail_rate, lose_rate=args.lose_rate, latency=args.latency,
                  max_concurrent=args.max_concurrent, task_duration=args.task_duration,
                  seed=args.seed) == Faults()
    with pytest.raises(SystemExit):
        parser.parse_args(["--permanent", "41"])


def test_run_serves_until_sigterm() -> None:
    code = ("import argparse, sys\n"
            "from laaffic_batch.sandbox import add_arguments, run\n"
            "p = argparse.ArgumentParser(); add_arguments(p)\n"
            "sys.exit(run(p.parse_args(sys.argv[1:])))\n")
    env = {**os.environ, "LAAFFIC_API_KEY": "", "LAAFFIC_API_SECRET": ""}
    proc = subprocess.Popen([sys.executable, "-c", code, "--port", "0", "--max-concurrent", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split("listening on ")[1].split()[0]
        with requests.Session() as http:
            response = http.post(url + SEND, data=orjson.dumps(task("cli-001")),
                                 headers=signed_headers(KEY, SECRET), timeout=10)
            assert response.json()["status"] == "0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        stderr = proc.stderr.read() if proc.stderr else ""
        assert "cli-001" in stderr  # the request log line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
