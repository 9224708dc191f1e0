"""The chunk store against a real Redis."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
import redis
from pipeline_support import write_config, write_contacts

from ingest.config import CampaignConfig, load_config
from ingest.entries import entries_json, read_entries
from ingest.plan import Plan, plan_file
from worker.chunk_store import ChunkMissing, ChunkStore
from worker.ledger import Ledger
from worker.submission import open_campaign


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


def _ten_chunk_plan(tmp_path: Path) -> tuple[Plan, CampaignConfig]:
    config = load_config(write_config(tmp_path / "c.toml", chunk_size=100))
    plan = plan_file(write_contacts(tmp_path / "contacts.csv", 950), config,
                     data_dir=tmp_path / "data", keep_entries=True)
    return plan, config


def test_chunks_stored_side_by_side_all_arrive_in_order(
        tmp_path: Path, redis_client: redis.Redis) -> None:
    plan, config = _ten_chunk_plan(tmp_path)
    progress: list[tuple[int, int]] = []
    assert open_campaign(redis_client, plan, config,
                         on_progress=lambda done, total: progress.append((done, total)))
    assert progress == [(done, 10) for done in range(1, 11)]
    store = ChunkStore(redis_client)
    for chunk in plan.chunks:
        expected = entries_json(read_entries(plan.entries_file, chunk.start, chunk.count))
        assert store.get(plan.campaign, chunk.index) == expected
    assert Ledger(redis_client).exists(plan.campaign)


def test_a_chunk_that_cannot_be_stored_leaves_no_campaign(
        tmp_path: Path, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    plan, config = _ten_chunk_plan(tmp_path)
    real_put = ChunkStore.put

    def put(self: ChunkStore, campaign: str, index: int, payload: bytes, ttl: float) -> None:
        if index == 3:
            raise redis.ConnectionError("Redis went away")
        real_put(self, campaign, index, payload, ttl)

    monkeypatch.setattr(ChunkStore, "put", put)
    with pytest.raises(redis.ConnectionError, match="went away"):
        open_campaign(redis_client, plan, config)
    assert not Ledger(redis_client).exists(plan.campaign)
