"""sendTime as the provider reads it.

The provider takes `sendTime` as a wall-clock time without a zone ("YYYY-MM-DD HH:MM:SS") and
reads it in its own time zone. Which zone that is, the API documentation does not say: we
ASSUME Asia/Shanghai (the `batch.provider_timezone` default) and let users change it. A
sendTime written with an offset or zone ("2026-11-24T02:00:00+01:00",
"2026-11-24T02:00:00[Europe/Stockholm]") is converted to that zone's wall-clock time; a plain
provider-format value is the user's own statement of provider time and is sent unchanged."""

from __future__ import annotations

import zoneinfo
from typing import Any

from ingest.config import parse_send_time

DEFAULT_PROVIDER_TIMEZONE = "Asia/Shanghai"  # an assumption: see the module docstring
PROVIDER_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # every API time: sendTime, the query's window


def provider_send_time(value: str, provider_timezone: str | None = None) -> str:
    """`value` as the provider's "YYYY-MM-DD HH:MM:SS" in `provider_timezone` (default
    Asia/Shanghai, assumed). Plain (zone-less) or unparseable values come back unchanged:
    the config check has already refused bad ones, and the provider judges the rest."""
    try:
        moment = parse_send_time(value)
    except (ValueError, LookupError):
        return value
    if moment.tzinfo is None:
        return value
    zone = zoneinfo.ZoneInfo(provider_timezone or DEFAULT_PROVIDER_TIMEZONE)
    return moment.astimezone(zone).strftime(PROVIDER_TIME_FORMAT)


def task_for_provider(task: dict[str, Any], provider_timezone: str | None = None) -> dict[str, Any]:
    """The task fields with sendTime in provider time; the same dict when there is nothing
    to convert (allowSendTime's HH:MM slots pass as they are)."""
    send_time = task.get("sendTime")
    if not isinstance(send_time, str):
        return task
    converted = provider_send_time(send_time, provider_timezone)
    return task if converted == send_time else {**task, "sendTime": converted}
