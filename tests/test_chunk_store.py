"""The chunk store against a real Redis."""

from __future__ import annotations

import time

import orjson
import pytest
import redis

from worker.chunk_store import ChunkMissing, ChunkStore


def entries(count: int, start: int = 0) -> bytes:
    return orjson.dumps([
        {"calleeNumber": f"4670{start + n:07d}", "text1": f"Customer {n}"} for n in range(count)
    ])


@pytest.fixture
def store(redis_client: redis.Redis) -> ChunkStore:
    return ChunkStore(redis_client)


def test_round_trip_returns_the_exact_bytes(store: ChunkStore) -> None:
    payload = entries(5_000)
    store.put("promo", 0, payload, ttl=60)
    store.put("promo", 1, b"[]", ttl=60)
    assert store.get("promo", 0) == payload
    assert store.get("promo", 1) == b"[]"


def test_stored_entries_are_compressed(store: ChunkStore, redis_client: redis.Redis) -> None:
    payload = entries(20_000)
    store.put("promo", 0, payload, ttl=60)
    [key] = list(redis_client.scan_iter(match="laaffic:chunks:*"))
    assert redis_client.strlen(key) < len(payload) / 3


def test_missing_and_expired_chunks_raise_chunk_missing(store: ChunkStore) -> None:
    with pytest.raises(ChunkMissing):
        store.get("promo", 0)
    store.put("promo", 0, entries(10), ttl=0.1)
    time.sleep(0.2)
    with pytest.raises(LookupError, match="chunk 0 of campaign promo"):
        store.get("promo", 0)


def test_expire_shortens_but_never_lengthens(store: ChunkStore) -> None:
    store.put("promo", 0, entries(10), ttl=3600)
    store.put("promo", 1, entries(10), ttl=0.3)
    store.expire("promo", 0, 0.1)
    store.expire("promo", 1, 3600)
    store.expire("promo", 7, 1)  # absent: nothing to do, no error
    time.sleep(0.4)
    for index in (0, 1):
        with pytest.raises(ChunkMissing):
            store.get("promo", index)


def test_non_positive_ttl_is_refused(store: ChunkStore) -> None:
    with pytest.raises(ValueError, match="ttl"):
        store.put("promo", 0, b"[]", ttl=0)
