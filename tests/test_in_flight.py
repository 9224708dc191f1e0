"""The in-flight cap is shared through Redis and survives a holder that dies."""

import time

import redis

from worker.in_flight import InFlightLimiter


def test_cap_is_shared_and_released(redis_client: redis.Redis) -> None:
    first = InFlightLimiter(redis_client, "t:in-flight", limit=2, lease_seconds=30)
    second = InFlightLimiter(redis_client, "t:in-flight", limit=2, lease_seconds=30)
    third = InFlightLimiter(redis_client, "t:in-flight", limit=2, lease_seconds=30)
    with first.acquire(raise_on_failure=False) as a, second.acquire(raise_on_failure=False) as b:
        assert a and b
        with third.acquire(raise_on_failure=False) as c:
            assert not c
    with third.acquire(raise_on_failure=False) as c:
        assert c


def test_a_dead_holders_slot_expires(redis_client: redis.Redis) -> None:
    dead = InFlightLimiter(redis_client, "t:in-flight", limit=1, lease_seconds=0.3)
    assert dead._acquire()  # acquired and never released: the holder "died"
    other = InFlightLimiter(redis_client, "t:in-flight", limit=1, lease_seconds=30)
    assert not other._acquire()
    time.sleep(0.4)
    assert other._acquire()


def test_a_large_backlog_waits_longer_between_checks() -> None:
    from worker.policy import RetryPolicy

    policy = RetryPolicy(cap_wait_ms=1000)
    small = max(policy.cap_delay_ms(waiting=5, limit=2) for _ in range(50))
    large = min(policy.cap_delay_ms(waiting=5000, limit=2) for _ in range(50))
    assert small <= 1500 and large >= 5000
