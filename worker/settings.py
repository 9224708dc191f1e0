"""Worker tuning from the environment, all read through one parser with one behaviour:
unset or empty means the default; anything else must be a number in range, or the command
stops with one line naming the variable (ConfigError). A typo in a timeout is refused,
never silently replaced by the default.

`check_environment()` reads every one the worker processes read, so `laaffic-batch worker`
refuses a bad value before it starts Dramatiq's processes (where it would surface as an
import error in each of them)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TypeVar

from ingest.errors import ConfigError

T = TypeVar("T", int, float)


def env_int(name: str, default: int, low: int = 0) -> int:
    """The whole number in environment variable `name` (>= low), or `default`."""
    return _env_number(name, default, low, int, f"a whole number >= {low}")


def env_float(name: str, default: float, low: float = 0.0) -> float:
    """The number in environment variable `name` (finite, >= low), or `default`."""
    return _env_number(name, default, low, float, f"a number >= {low:g}")


def _env_number(name: str, default: T, low: T, convert: Callable[[str], T],
                must_be: str) -> T:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = convert(text)
    except ValueError:
        value = None
    if (value is None or (isinstance(value, float) and not math.isfinite(value))
            or value < low):
        raise ConfigError(f"{name}={text!r}: must be {must_be}")
    return value


# The worker's own variables (the retry policy's are read by RetryPolicy.from_env, intake's
# by IntakeSettings.from_env, through the same parsers).


def read_timeout_s() -> float:
    """Seconds to wait for the API's answer."""
    return env_float("LAAFFIC_READ_TIMEOUT", 60.0, low=1.0)


def lease_margin_s() -> float:
    """Seconds a chunk's lease outlives connect + read timeout."""
    return env_float("LAAFFIC_LEASE_MARGIN", 15.0)


def heartbeat_timeout_ms() -> int:
    """Dramatiq: a worker silent this long is presumed dead and its messages requeued."""
    return env_int("LAAFFIC_HEARTBEAT_TIMEOUT_MS", 30_000, low=1_000)


def maintenance_chance() -> int:
    """Dramatiq: per million broker commands, how many also run maintenance."""
    return env_int("LAAFFIC_MAINTENANCE_CHANCE", 250_000, low=1)


def sweep_interval_s() -> float:
    return env_float("LAAFFIC_SWEEP_INTERVAL_S", 60.0, low=0.1)


def stale_after_s() -> float:
    return env_float("LAAFFIC_STALE_AFTER_S", 900.0, low=1.0)


def webhook_min_backoff_ms() -> int:
    """First retry delay of a failed webhook (doubling from there)."""
    return env_int("LAAFFIC_WEBHOOK_MIN_BACKOFF_MS", 5_000, low=1)


def check_environment() -> None:
    """Read every tuning variable worker processes read; raise on the first bad one.
    (Intake's are checked by `laaffic-batch intake` as it starts.)"""
    from worker.policy import RetryPolicy

    for read in (read_timeout_s, lease_margin_s, heartbeat_timeout_ms, maintenance_chance,
                 sweep_interval_s, stale_after_s, webhook_min_backoff_ms,
                 RetryPolicy.from_env):
        read()
