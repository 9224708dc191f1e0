"""The account-wide cap on in-flight submissions (`batch.max_in_flight`), shared by every
worker on every machine.

A Dramatiq RateLimiter whose slots are members of a Redis sorted set scored by their
expiry: a worker killed while holding a slot loses it when the lease runs out, so a
crash never shrinks the cap for good (Dramatiq's counter-based ConcurrentRateLimiter
would keep a leaked slot for as long as traffic keeps refreshing its TTL)."""

from __future__ import annotations

import uuid

import redis
from dramatiq.rate_limits import RateLimiter

_ACQUIRE = """
local key, limit, lease_ms, token = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
if redis.call('ZCARD', key) >= limit then
  return 0
end
redis.call('ZADD', key, now_ms + lease_ms, token)
redis.call('PEXPIRE', key, lease_ms)
return 1
"""


class InFlightLimiter(RateLimiter):
    """One acquisition of a slot; make a new instance per attempt."""

    def __init__(self, client: redis.Redis, key: str, *, limit: int, lease_seconds: float) -> None:
        super().__init__(backend=None, key=key)
        self.client = client
        self.limit = limit
        self.lease_ms = int(lease_seconds * 1000)
        self.token = uuid.uuid4().hex
        self._script = client.register_script(_ACQUIRE)

    def _acquire(self) -> bool:
        return bool(self._script(keys=[self.key], args=[self.limit, self.lease_ms, self.token]))

    def _release(self) -> None:
        self.client.zrem(self.key, self.token)
