"""The send call's JSON body, built from pre-encoded parts.

A 200,000-entry numberInfoList is about 11 MB of JSON; it is stored encoded and spliced
in as bytes, never decoded and re-encoded per attempt."""

from __future__ import annotations

from typing import Any

import orjson

from worker.send_time import task_for_provider


def build_body(task: dict[str, Any], task_name: str, entries_json: bytes,
               provider_timezone: str | None = None) -> bytes:
    """sendTime given with an offset or zone is sent as provider wall-clock time
    (worker/send_time.py; provider_timezone None = the assumed Asia/Shanghai)."""
    head = orjson.dumps({**task_for_provider(task, provider_timezone), "taskName": task_name})
    return head[:-1] + b',"numberInfoList":' + entries_json + b"}"
