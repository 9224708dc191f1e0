"""sendTime reaches the provider as wall-clock time in its (assumed) zone."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest
import redis
from pipeline_support import API_KEY, API_SECRET, LogCapture, write_contacts

from ingest.config import load_config
from ingest.plan import plan_file
from laaffic_batch.sandbox import SandboxServer
from worker.body import build_body
from worker.chunk_submitter import ChunkSubmitter, Done
from worker.client import Credentials, LaafficClient
from worker.ledger import Ledger
from worker.policy import RetryPolicy
from worker.send_time import provider_send_time, task_for_provider
from worker.submission import open_campaign

ENTRIES = orjson.dumps([{"calleeNumber": "46701234567"}])


@pytest.mark.parametrize(("written", "zone", "expected"), [
    ("2026-11-24T02:00:00+01:00", None, "2026-11-24 09:00:00"),  # default Asia/Shanghai
    ("2026-11-24T01:00:00Z", "Asia/Shanghai", "2026-11-24 09:00:00"),
    ("2026-11-24T02:00:00[Europe/Stockholm]", None, "2026-11-24 09:00:00"),
    ("2026-07-24T02:00:00[Europe/Stockholm]", None, "2026-07-24 08:00:00"),  # summer time
    ("2026-11-24T02:00:00+01:00", "Europe/Stockholm", "2026-11-24 02:00:00"),
    ("2026-11-24T23:30:00-05:00", "UTC", "2026-11-25 04:30:00"),  # crosses midnight
])
def test_times_with_an_offset_or_zone_become_provider_wall_time(
        written: str, zone: str | None, expected: str) -> None:
    assert provider_send_time(written, zone) == expected


def test_plain_provider_time_is_sent_unchanged() -> None:
    assert provider_send_time("2026-11-24 02:00:00", "Europe/Stockholm") == "2026-11-24 02:00:00"
    task = {"appId": "a", "agentId": 1, "sendTime": "2026-11-24 02:00:00"}
    assert task_for_provider(task, "UTC") is task


def test_body_carries_the_converted_send_time_and_the_slots() -> None:
    slots = [{"strTime": "09:00", "endTime": "12:00"}]
    task = {"appId": "a", "agentId": 41, "sendTime": "2026-11-24T02:00:00+01:00",
            "allowSendTime": slots}
    body = orjson.loads(build_body(task, "promo-001", ENTRIES, "Asia/Shanghai"))
    assert body["sendTime"] == "2026-11-24 09:00:00"
    assert body["allowSendTime"] == slots
    assert body["taskName"] == "promo-001"
    assert body["numberInfoList"] == [{"calleeNumber": "46701234567"}]
    assert task["sendTime"] == "2026-11-24T02:00:00+01:00"  # the stored task is untouched


def test_body_without_send_time_has_none() -> None:
    body = orjson.loads(build_body({"appId": "a", "agentId": 41}, "promo-001", ENTRIES))
    assert "sendTime" not in body


@pytest.mark.parametrize(("batch", "expected"), [
    ("", "2030-11-24 09:00:00"),  # the assumed Asia/Shanghai
    ('provider_timezone = "Europe/London"', "2030-11-24 01:00:00"),
])
def test_the_provider_receives_its_own_wall_time(
        tmp_path: Path, redis_client: redis.Redis, sandbox: SandboxServer, batch: str,
        expected: str) -> None:
    config_path = tmp_path / "c.toml"
    config_path.write_text(textwrap.dedent(f"""\
        [task]
        appId = "2Xql9RBI"
        agentId = 41
        sendTime = "2030-11-24T02:00:00+01:00"
        allowSendTime = [ {{ strTime = "09:00", endTime = "12:00" }} ]
        [batch]
        name = "timed"
        default_country_code = "46"
        {batch}
        """))
    config = load_config(config_path)
    plan = plan_file(write_contacts(tmp_path / "in.csv", 3), config,
                     data_dir=tmp_path / "data", keep_entries=True)
    assert open_campaign(redis_client, plan, config)
    with LaafficClient(sandbox.url, Credentials(API_KEY, API_SECRET)) as api:
        submitter = ChunkSubmitter(redis_client, lambda: api, RetryPolicy(), 30, LogCapture())
        assert submitter.submit(plan.campaign, 0) == Done("submitted")
        key_id = Ledger(redis_client).chunk(plan.campaign, 0).key_id
        assert api.task_detail(key_id)["sendTime"] == expected
