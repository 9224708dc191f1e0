"""Worker tuning from the environment, all read through one parser with one behaviour:
unset or empty means the default; anything else must be a number in range, or the command
stops with one line naming the variable (ConfigError). A typo in a timeout is refused,
never silently replaced by the default.

`check_environment()` reads every one of them, so `laaffic-batch worker` refuses a bad
value before it starts Dramatiq's processes (where it would surface as an import error
in each of them)."""

from __future__ import annotations

import math
import os

from ingest.errors import ConfigError


def env_int(name: str, default: int, low: int = 0) -> int:
    """The whole number in environment variable `name` (>= low), or `default`."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise ConfigError(f"{name}={text!r}: must be a whole number >= {low}")
    return value


def env_float(name: str, default: float, low: float = 0.0) -> float:
    """The number in environment variable `name` (finite, >= low), or `default`."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < low:
        raise ConfigError(f"{name}={text!r}: must be a number >= {low:g}")
    return value


# The worker's own variables (the retry policy's and intake's are read by
# RetryPolicy.from_env and IntakeSettings.from_env, through the same parsers).


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
    """Read every tuning variable worker processes read; raise on the first bad one."""
    from worker.jobs import IntakeSettings
    from worker.policy import RetryPolicy

    for read in (read_timeout_s, lease_margin_s, heartbeat_timeout_ms, maintenance_chance,
                 sweep_interval_s, stale_after_s, webhook_min_backoff_ms,
                 RetryPolicy.from_env, IntakeSettings.from_env):
        read()
