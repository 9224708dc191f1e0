"""`laaffic-batch progress`: the provider's view of each submitted chunk, against the sandbox
over HTTP and a real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis
from pipeline_support import API_KEY, API_SECRET, LogCapture, make_submitter, open_test_campaign

from ingest.errors import LaafficError
from laaffic_batch.cli import main
from laaffic_batch.sandbox import Faults, SandboxServer
from worker.chunk_submitter import Done
from worker.client import Credentials, LaafficClient
from worker.ledger import Ledger
from worker.provider_progress import campaign_progress, render_progress

CREDENTIALS = Credentials(API_KEY, API_SECRET)


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[LaafficClient]:
    with LaafficClient(sandbox.url, CREDENTIALS) as client:
        yield client


@pytest.fixture
def campaign(tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer,
             monkeypatch: pytest.MonkeyPatch) -> str:
    """Three chunks of 10, 10, 10: two submitted, the third failed (-60)."""
    monkeypatch.setenv("LAAFFIC_DATA_DIR", str(tmp_path / "data"))
    campaign = open_test_campaign(tmp_path, redis_client, rows=30, chunk_size=10)
    submitter = make_submitter(redis_client, sandbox, LogCapture())
    sandbox.faults = Faults(task_duration=600)
    assert submitter.submit(campaign, 0) == Done("submitted")
    assert submitter.submit(campaign, 1) == Done("submitted")
    sandbox.faults = Faults(task_duration=600, permanent_agents={41: "-60"})
    assert submitter.submit(campaign, 2) == Done("failed")
    return campaign


def test_progress_while_calling_and_once_completed(
        campaign: str, redis_client: redis.Redis, sandbox: SandboxServer,
        api: LaafficClient) -> None:
    chunks = Ledger(redis_client).view(campaign)["chunks"]
    progress = campaign_progress(campaign, client=redis_client, api=api)
    assert json.loads(orjson.dumps(progress)) == progress  # JSON-able as it is
    first, second, failed = progress["chunks"]
    for entry, chunk in zip((first, second), chunks, strict=False):
        assert (entry["task_name"], entry["key_id"], entry["count"]) == (
            chunk["task_name"], chunk["key_id"], 10)
        assert (entry["provider_status"], entry["provider_status_text"]) == (1, "calling")
        assert entry["calls"] < 10 and entry["success"] + entry["fail"] == entry["calls"]
        assert 0 <= entry["rate"] < 100
    assert failed["state"] == "failed" and failed["provider_status"] is None
    table = render_progress(progress)
    assert "calling" in table and "not sent (failed)" in table
    assert all(chunk["task_name"] in table for chunk in chunks)

    sandbox.faults = Faults(task_duration=0)  # every task has run its course
    progress = campaign_progress(campaign, client=redis_client, api=api)
    done = progress["chunks"][:2]
    assert [(e["provider_status_text"], e["calls"], e["rate"]) for e in done] == [
        ("completed", 10, 100.0)] * 2
    assert progress["totals"] == {
        "numbers": 30, "tasks": 2, "calls": 20,
        "success": sum(e["success"] for e in done), "fail": sum(e["fail"] for e in done)}
    table = render_progress(progress)
    assert "completed" in table and "100.0%" in table and "20 calls" in table


def test_a_task_the_query_does_not_list_is_asked_for_by_key_id(
        campaign: str, redis_client: redis.Redis, sandbox: SandboxServer,
        api: LaafficClient) -> None:
    # The third chunk recorded with the id of a task named otherwise (as if renamed at the
    # provider): the name search misses it, the detail by keyId finds it.
    other = api.send_group_call(orjson.dumps({
        "appId": "2Xql9RBI", "agentId": 7, "taskName": "renamed-by-hand",
        "numberInfoList": [{"calleeNumber": "46701234567"}]}))
    ledger = Ledger(redis_client)
    ledger.reset_failed(campaign)
    ledger.mark_submitted(campaign, 2, other)
    entry = campaign_progress(campaign, client=redis_client, api=api)["chunks"][2]
    assert (entry["key_id"], entry["provider_status_text"], entry["error"]) == (
        other, "calling", None)


def test_a_task_unknown_to_the_provider_shows_the_error_not_a_crash(
        campaign: str, redis_client: redis.Redis, api: LaafficClient) -> None:
    ledger = Ledger(redis_client)
    ledger.reset_failed(campaign)
    ledger.mark_submitted(campaign, 2, 999)
    progress = campaign_progress(campaign, client=redis_client, api=api)
    entry = progress["chunks"][2]
    assert entry["provider_status"] is None and "-24" in entry["error"]
    assert progress["chunks"][0]["provider_status_text"] == "calling"
    assert "-24" in render_progress(progress)


def test_progress_command(campaign: str, redis_url: str, sandbox: SandboxServer,
                          monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("LAAFFIC_BASE_URL", sandbox.url)
    monkeypatch.setenv("LAAFFIC_API_KEY", API_KEY)
    monkeypatch.setenv("LAAFFIC_API_SECRET", API_SECRET)
    assert main(["progress", campaign, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["campaign"] == campaign
    assert [c["provider_status_text"] for c in printed["chunks"]] == ["calling", "calling", None]
    assert main(["progress", campaign]) == 0
    assert "calling" in capsys.readouterr().out

    assert main(["progress", "nope-123"]) != 0
    assert "not found" in capsys.readouterr().err
    monkeypatch.delenv("LAAFFIC_API_SECRET")
    assert main(["progress", campaign]) != 0
    error = capsys.readouterr().err
    assert "LAAFFIC_API_SECRET" in error and len(error.strip().splitlines()) == 1


def test_unknown_campaign_is_a_one_line_error(redis_client: redis.Redis,
                                              api: LaafficClient) -> None:
    with pytest.raises(LaafficError, match="campaign 'nope-123' not found"):
        campaign_progress("nope-123", client=redis_client, api=api)
