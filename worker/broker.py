"""The Dramatiq broker: Redis, configured for crash recovery in about a minute.

Dramatiq's Redis broker requeues the unacknowledged messages of a worker whose
heartbeat is older than `heartbeat_timeout`, during "maintenance", which runs on a
random `maintenance_chance` per million broker commands. The defaults (60 s, 1000 per
million) can leave a killed worker's message stranded for many minutes on a quiet
queue. Here: heartbeat timeout 30 s (a live worker heartbeats on every fetch, at least
every 5 s while idle) and maintenance on a quarter of commands, so a killed worker's
chunk is picked up again about 30-60 s after the kill. Both are tunable through
LAAFFIC_HEARTBEAT_TIMEOUT_MS and LAAFFIC_MAINTENANCE_CHANCE."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from worker.connection import redis_client, resolve_redis_url
from worker.settings import heartbeat_timeout_ms, maintenance_chance

NAMESPACE = "laaffic-dramatiq"
QUEUE = "laaffic-chunks"


def make_broker(url: str | None = None) -> RedisBroker:
    # Our client retries connection errors for ~20 s, so a Redis restart does not make
    # Dramatiq drop a retry it was enqueueing.
    broker = RedisBroker(
        client=redis_client(url or resolve_redis_url()),
        namespace=NAMESPACE,
        heartbeat_timeout=heartbeat_timeout_ms(),
        maintenance_chance=maintenance_chance(),
    )
    return broker


def setup_broker(url: str | None = None) -> RedisBroker:
    """Create the process's broker and make it Dramatiq's global one (actors bind to it
    when their module is imported)."""
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    return broker
