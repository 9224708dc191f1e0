"""`laaffic-batch demo` (and `make demo`): the whole job end to end on embedded defaults.

Starts the sandbox API, generates a messy contact list, plans and submits it, runs a
worker, waits for every chunk, prints the campaign's task names and keyIds, and stops
what it started. No credentials and no network needed: the sandbox's own are used."""

from __future__ import annotations

import os
import subprocess
import sys
import time

DEMO_CONFIG = """\
[task]
appId = "demo-app"
agentId = 41
maxCalls = 300
maxRingingTime = 60
enableRecording = 1
allowSendTime = [ { strTime = "09:00", endTime = "20:00" } ]

[batch]
name = "demo"
chunk_size = 50000
default_country_code = "46"

[columns]
phone = "phone"
text1 = "first_name"
text2 = "city"
"""
SANDBOX_KEY = "demo-key"
SANDBOX_SECRET = "demo-secret"
WAIT_TIMEOUT_S = 600


def _say(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def run_demo(rows: int) -> int:
    from ingest.config import load_config
    from ingest.plan import plan_file
    from laaffic_batch.follow import follow_campaign
    from laaffic_batch.render import render_plan
    from laaffic_batch.sample import write_sample_contacts
    from laaffic_batch.sandbox import SandboxServer
    from worker.connection import data_dir, resolve_redis_url
    from worker.embedded import stop_embedded_redis
    from worker.shutdown import stop_group

    embedded = not os.environ.get("REDIS_URL")
    work = data_dir() / "demo"
    work.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxServer(api_key=SANDBOX_KEY, api_secret=SANDBOX_SECRET).start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        os.environ.update({"LAAFFIC_BASE_URL": sandbox.url, "LAAFFIC_API_KEY": SANDBOX_KEY,
                           "LAAFFIC_API_SECRET": SANDBOX_SECRET})
        os.environ["REDIS_URL"] = resolve_redis_url()
        _say(f"sandbox API at {sandbox.url}")

        contacts = work / "contacts.csv"
        started = time.monotonic()
        write_sample_contacts(contacts, rows, seed=int(time.time()))
        _say(f"generated {rows:,} messy contacts in {contacts} "
             f"({time.monotonic() - started:.1f}s)")
        config_path = work / "campaign.toml"
        config_path.write_text(DEMO_CONFIG)
        config = load_config(config_path)

        started = time.monotonic()
        plan = plan_file(contacts, config, data_dir=data_dir(), run_id=str(time.time_ns()),
                         keep_entries=True)
        _say(f"planned in {time.monotonic() - started:.1f}s")
        print(render_plan(plan))

        from worker.submission import submit_plan

        _say(submit_plan(plan, config).message)
        log_path = work / "worker.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "laaffic_batch.cli", "worker", "--processes", "1",
                 "--threads", "4"], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        _say(f"worker started (pid {worker.pid}, JSON logs in {log_path}); waiting")
        code = follow_campaign(plan.campaign, wait=True, timeout=WAIT_TIMEOUT_S, as_json=False)
        stats = sandbox.stats()
        _say(f"sandbox holds {stats.get('tasks')} task(s) with "
             f"{stats['distinct_numbers']:,} distinct numbers (of {stats['numbers']:,}); "
             f"campaign accepted {plan.accepted:,}")
        return code
    finally:
        if worker is not None:
            stop_group(worker)
        sandbox.stop()
        if embedded:
            stop_embedded_redis(data_dir())
            os.environ.pop("REDIS_URL", None)
        _say("stopped the worker, the sandbox" + (" and the embedded Redis" if embedded else ""))
