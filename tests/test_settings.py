"""Tuning variables from the environment: the default when unset, the value when it is a
number in range, and otherwise one clear error naming the variable (never a silent
fallback to the default)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pipeline_support import run_cli

from ingest.errors import ConfigError
from worker.jobs import IntakeSettings
from worker.policy import RetryPolicy
from worker.settings import check_environment, env_float, env_int, read_timeout_s


def test_unset_or_blank_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAAFFIC_READ_TIMEOUT", raising=False)
    assert read_timeout_s() == 60.0
    monkeypatch.setenv("LAAFFIC_READ_TIMEOUT", "  ")
    assert read_timeout_s() == 60.0
    monkeypatch.setenv("LAAFFIC_X_MS", "")
    assert env_int("LAAFFIC_X_MS", 7) == 7


def test_numbers_in_range_are_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAAFFIC_READ_TIMEOUT", " 2.5 ")
    assert read_timeout_s() == 2.5
    monkeypatch.setenv("LAAFFIC_RETRY_MIN_MS", "50")
    monkeypatch.setenv("LAAFFIC_CAP_WAIT_MS", "1_000")
    policy = RetryPolicy.from_env()
    assert policy.backoff_min_ms == 50 and policy.cap_wait_ms == 1000


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "0x10", "nan"])
def test_a_bad_whole_number_names_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                bad: str) -> None:
    monkeypatch.setenv("LAAFFIC_BUSY_RETRY_MS", bad)
    with pytest.raises(ConfigError, match=r"LAAFFIC_BUSY_RETRY_MS=.*whole number >= 0"):
        RetryPolicy.from_env()


@pytest.mark.parametrize("bad", ["sixty", "0.5", "inf", "nan", "-3"])
def test_a_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("LAAFFIC_READ_TIMEOUT", bad)
    with pytest.raises(ConfigError, match=r"LAAFFIC_READ_TIMEOUT=.*number >= 1"):
        read_timeout_s()
    with pytest.raises(ConfigError, match="LAAFFIC_READ_TIMEOUT"):
        check_environment()


def test_lower_bounds_are_the_variables_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAAFFIC_INTAKE_MAX_DELIVERIES", "0")
    with pytest.raises(ConfigError, match=r"LAAFFIC_INTAKE_MAX_DELIVERIES=.*>= 1"):
        IntakeSettings.from_env()
    monkeypatch.setenv("LAAFFIC_STALE", "0")
    assert env_float("LAAFFIC_STALE", 9.0) == 0.0


def test_every_tuning_variable_is_checked_before_workers_start(tmp_path: Path) -> None:
    env = {**os.environ, "LAAFFIC_DATA_DIR": str(tmp_path / "data"),
           "LAAFFIC_API_KEY": "key", "LAAFFIC_API_SECRET": "secret",
           "REDIS_URL": "redis://127.0.0.1:1/0",  # not reached: the bad value stops it first
           "LAAFFIC_STALE_AFTER_S": "15min"}
    result = run_cli(["worker", "--processes", "1", "--threads", "1"], env, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "laaffic-batch: error: LAAFFIC_STALE_AFTER_S='15min': must be a number >= 1"]
