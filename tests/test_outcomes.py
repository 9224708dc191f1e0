"""What a campaign leaves behind when its last chunk is terminal: the report (once), the
results stream, the webhook. In-process against a real Redis and the sandbox over HTTP, plus
one end-to-end run through a `laaffic-batch worker` subprocess for the webhook actor."""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from pipeline_support import (
    CONTRACT_KEYS,
    LogCapture,
    make_submitter,
    open_test_campaign,
    pipeline_env,
    run_cli,
    running_worker,
    wait_for,
    write_config,
    write_contacts,
)

from ingest.errors import LaafficError
from laaffic_batch.cli import main
from laaffic_batch.sandbox import Faults, SandboxServer
from worker.chunk_submitter import ChunkSubmitter, Done, Outcome
from worker.ledger import Ledger
from worker.reports import write_report
from worker.results import DEFAULT_RESULTS_STREAM

REPORT_KEYS = CONTRACT_KEYS | {"state", "completed_at", "submitted", "failed"}


class Receiver:
    """A tiny webhook receiver: answers the planned HTTP statuses in turn (then 200) and
    keeps every JSON body it was sent."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.bodies: list[dict[str, Any]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.bodies.append(json.loads(body))
                receiver.answers.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook?token=t0k3n"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAAFFIC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def _until_done(submitter: ChunkSubmitter, campaign: str, index: int) -> Outcome:
    """What the actor's retries would do: run the message again until it is done."""
    for _ in range(500):
        outcome = submitter.submit(campaign, index)
        if isinstance(outcome, Done):
            return outcome
        time.sleep(outcome.delay_ms / 1000)
    raise AssertionError(f"chunk {index} never finished")


def _entries(client: redis.Redis, stream: str = DEFAULT_RESULTS_STREAM) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in fields.items()}
            for _, fields in client.xrange(stream)]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_report_is_written_once_when_chunks_finish_concurrently(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer,
        data_dir: Path) -> None:
    campaign = open_test_campaign(
        tmp_path, redis_client, rows=40, chunk_size=5,
        extra_batch='max_in_flight = 8\nwebhook_url = "http://hooks.test/x"')
    sandbox.faults = Faults(latency=0.2)  # all eight sends overlap
    log = LogCapture()
    webhook_calls: list[tuple[str, dict]] = []
    submitter = make_submitter(
        redis_client, sandbox, log,
        webhook=lambda url, payload: webhook_calls.append((url, payload)))
    outcomes: list[Outcome] = []
    threads = [threading.Thread(target=lambda i=i: outcomes.append(
        _until_done(submitter, campaign, i))) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == [Done("submitted")] * 8
    assert len(log.named("campaign.completed")) == 1
    assert len(log.named("campaign.report_written")) == 1
    entries = _entries(redis_client)
    assert [e["state"] for e in entries] == ["submitted"] * 8 + ["completed"]
    assert entries[-1] == {"job_id": "", "campaign": campaign, "state": "completed",
                           "submitted": "8", "failed": "0"}
    report = json.loads((data_dir / campaign / "report.json").read_text())
    assert [(url, payload) for url, payload in webhook_calls] == [
        ("http://hooks.test/x", report)]
    assert report["state"] == "completed" and report["submitted"] == 8
    assert len(report["chunks"]) == 8


def test_report_and_results_stream_match_the_ledger_and_a_retry_completes_again(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer, data_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAAFFIC_RESULTS_STREAM", "crm:outcomes")
    campaign = open_test_campaign(tmp_path, redis_client, rows=12, chunk_size=6)
    log = LogCapture()
    submitter = make_submitter(redis_client, sandbox, log)
    ledger = Ledger(redis_client)
    assert submitter.submit(campaign, 0) == Done("submitted")
    assert not (data_dir / campaign / "report.json").exists()  # not complete yet
    sandbox.faults = Faults(permanent_agents={41: "-60"})
    assert submitter.submit(campaign, 1) == Done("failed")

    view = ledger.view(campaign)
    report_path = data_dir / campaign / "report.json"
    report = json.loads(report_path.read_text())
    assert set(report) == REPORT_KEYS
    assert {k: report[k] for k in CONTRACT_KEYS} == view
    assert (report["state"], report["submitted"], report["failed"]) == ("completed", 1, 1)
    assert report["completed_at"].endswith("+00:00")
    rows = _read_csv(report_path.with_suffix(".csv"))
    assert [(r["task_name"], r["key_id"], r["count"], r["state"], r["attempts"])
            for r in rows] == [(c["task_name"], str(c["key_id"] or ""), str(c["count"]),
                                c["state"], str(c["attempts"])) for c in view["chunks"]]
    assert rows[0]["error"] == "" and rows[1]["error"].startswith("status -60: ")

    assert _entries(redis_client) == []  # the default stream is not used
    entries = _entries(redis_client, "crm:outcomes")
    first, second = view["chunks"]
    assert entries == [
        {"job_id": "", "campaign": campaign, "task_name": first["task_name"],
         "key_id": str(first["key_id"]), "state": "submitted", "error": ""},
        {"job_id": "", "campaign": campaign, "task_name": second["task_name"],
         "key_id": "", "state": "failed", "error": json.dumps(second["error"],
                                                               separators=(",", ":"))},
        {"job_id": "", "campaign": campaign, "state": "completed", "submitted": "1",
         "failed": "1"},
    ]
    streamed = json.dumps(entries)
    phones = [re.sub(r"\D", "", line.split(",")[0])
              for line in (tmp_path / "contacts.csv").read_text().splitlines()[1:]]
    assert not [p for p in phones if p[-9:] in streamed]  # no phone number, in any form

    # retry: the failed chunk goes again and completes the campaign a second time
    sandbox.faults = Faults()
    assert ledger.reset_failed(campaign) == [1]
    assert submitter.submit(campaign, 1) == Done("submitted")
    report = json.loads(report_path.read_text())
    assert (report["submitted"], report["failed"]) == (2, 0)
    assert report["chunks"] == ledger.view(campaign)["chunks"]
    assert len(log.named("campaign.report_written")) == 2
    later = _entries(redis_client, "crm:outcomes")[3:]
    assert [e["state"] for e in later] == ["submitted", "completed"]
    assert later[-1]["submitted"] == "2" and later[-1]["failed"] == "0"


def test_report_on_demand(tmp_path: Path, redis_client: redis.Redis, redis_url: str,
                          sandbox: SandboxServer, data_dir: Path,
                          monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    campaign = open_test_campaign(tmp_path, redis_client, rows=9, chunk_size=3)
    assert make_submitter(redis_client, sandbox, LogCapture()).submit(campaign, 0) == \
        Done("submitted")

    path = write_report(campaign, client=redis_client)
    assert path == data_dir / campaign / "report.json"
    report = json.loads(path.read_text())
    assert (report["state"], report["completed_at"]) == ("in_progress", None)
    assert [c["state"] for c in report["chunks"]] == ["submitted", "pending", "pending"]
    assert len(_read_csv(path.with_suffix(".csv"))) == 3

    out = tmp_path / "elsewhere" / "mine.json"
    assert write_report(campaign, out, client=redis_client) == out
    assert json.loads(out.read_text())["campaign"] == campaign
    assert (tmp_path / "elsewhere" / "mine.csv").is_file()

    with pytest.raises(LaafficError, match="campaign 'nope-123' not found"):
        write_report("nope-123", client=redis_client)

    # through the command line, as users run it
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["report", campaign, "--out", str(tmp_path / "cli.json")]) == 0
    assert json.loads((tmp_path / "cli.json").read_text())["campaign"] == campaign
    capsys.readouterr()
    assert main(["report", "nope-123"]) != 0
    error = capsys.readouterr().err
    assert "not found" in error and len(error.strip().splitlines()) == 1


def test_a_failing_webhook_changes_no_chunk_and_no_report(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer,
        data_dir: Path) -> None:
    campaign = open_test_campaign(
        tmp_path, redis_client, rows=4, chunk_size=2,
        extra_batch='webhook_url = "http://127.0.0.1:9/unreachable"')
    log = LogCapture()

    def broken_webhook(url: str, payload: dict) -> None:
        raise ConnectionError("broker unreachable")

    submitter = make_submitter(redis_client, sandbox, log, webhook=broken_webhook)
    assert [submitter.submit(campaign, i) for i in range(2)] == [Done("submitted")] * 2
    assert [c.state for c in Ledger(redis_client).chunks(campaign)] == ["submitted"] * 2
    assert json.loads((data_dir / campaign / "report.json").read_text())["submitted"] == 2
    assert _entries(redis_client)[-1]["state"] == "completed"
    assert "broker unreachable" in log.named("webhook.failed")[0]["reason"]


def test_worker_delivers_the_webhook_with_retries_without_holding_chunks(
        tmp_path: Path, redis_url: str, redis_client: redis.Redis, sandbox: SandboxServer) -> None:
    receiver = Receiver(statuses=[503])  # the first delivery fails, the retry succeeds
    try:
        env = pipeline_env(redis_url, sandbox, tmp_path / "data")
        env["LAAFFIC_WEBHOOK_MIN_BACKOFF_MS"] = "100"
        config = write_config(tmp_path / "c.toml", chunk_size=5,
                              extra_batch=f'webhook_url = "{receiver.url}"')
        contacts = write_contacts(tmp_path / "in.csv", 10)
        with running_worker(env, tmp_path / "worker.log"):
            result = run_cli(["submit", str(contacts), "--config", str(config), "--wait",
                              "--timeout", "60", "--json"], env)
            assert result.returncode == 0, result.stderr
            wait_for(lambda: receiver.answers == [503, 200], timeout=30)
        campaign = json.loads(result.stdout)["campaign"]
        report_path = tmp_path / "data" / campaign / "report.json"
        report = json.loads(report_path.read_text())
        assert receiver.bodies == [report, report]
        assert report["state"] == "completed" and report["submitted"] == 2
        assert [e["state"] for e in _entries(redis_client)] == [
            "submitted", "submitted", "completed"]
        log_text = (tmp_path / "worker.log").read_text()
        assert "webhook.delivered" in log_text and "t0k3n" not in log_text
    finally:
        receiver.stop()
