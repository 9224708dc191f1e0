"""The send call's JSON body, built from pre-encoded parts.

A 200,000-entry numberInfoList is about 11 MB of JSON; it is stored encoded and spliced
in as bytes, never decoded and re-encoded per attempt."""

from __future__ import annotations

from typing import Any

import orjson


def build_body(task: dict[str, Any], task_name: str, entries_json: bytes) -> bytes:
    head = orjson.dumps({**task, "taskName": task_name})
    return head[:-1] + b',"numberInfoList":' + entries_json + b"}"
