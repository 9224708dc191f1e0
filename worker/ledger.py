"""The ledger: the source of truth for campaign and chunk state, kept in Redis.

A chunk goes pending -> sending (claimed under a lease) -> waiting (retry later) -> ... and
ends in one of the terminal states `submitted` or `failed`. Every transition is one Lua
script (worker/ledger_scripts.py), so concurrent workers agree on who sends a chunk and on
which single transition completed the campaign. No API secret is ever stored here."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from worker import ledger_scripts

TERMINAL_STATES = frozenset({"submitted", "failed"})
STATES = ("pending", "sending", "waiting", "submitted", "failed")


@dataclass(frozen=True)
class ChunkPlan:
    index: int
    task_name: str
    count: int


@dataclass(frozen=True)
class CampaignMeta:
    campaign: str
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    rejects_file: str
    task: dict  # API task fields (JSON-able) sent with every chunk
    settings: dict  # JSON-able batch settings the worker needs (max_attempts, max_age, ...)
    created_at: float  # epoch seconds
    not_before: float | None = None  # scheduled start (epoch), None = now
    job_id: str | None = None  # upstream job id when pushed through intake


@dataclass(frozen=True)
class ChunkRecord:
    index: int
    task_name: str
    count: int
    state: str  # pending | sending | waiting | submitted | failed
    key_id: int | None
    attempts: int
    transient_failures: int
    error: dict | None
    first_attempt_at: float | None
    updated_at: float | None  # last change of state
    lease_until: float | None
    delivered_at: float | None = None  # last time a message for it reached a worker


@dataclass(frozen=True)
class Claim:
    outcome: str  # "claimed" | "submitted" | "failed" | "leased" | "missing"
    attempt: int  # attempts so far, including this one when claimed
    lease_until: float | None
    first_attempt_at: float | None


@dataclass(frozen=True)
class Transition:
    changed: bool  # False when the chunk was already terminal (idempotent no-op)
    completed: bool  # True for exactly one caller: the transition that finished the campaign


class Ledger:
    def __init__(self, client: redis.Redis, prefix: str = "laaffic") -> None:
        self._client = client
        self._prefix = prefix
        self._create = client.register_script(ledger_scripts.CREATE)
        self._claim = client.register_script(ledger_scripts.CLAIM)
        self._mark_submitted = client.register_script(ledger_scripts.MARK_SUBMITTED)
        self._mark_failed = client.register_script(ledger_scripts.MARK_FAILED)
        self._mark_waiting = client.register_script(ledger_scripts.MARK_WAITING)
        self._reset_failed = client.register_script(ledger_scripts.RESET_FAILED)
        self._deliver = client.register_script(ledger_scripts.DELIVER)

    # -- campaigns ---------------------------------------------------------------------

    def create_campaign(self, meta: CampaignMeta, chunks: list[ChunkPlan]) -> bool:
        """Store meta and every chunk (pending) in one atomic step. False, changing
        nothing, when the campaign already exists."""
        indices = [chunk.index for chunk in chunks]
        if len(set(indices)) != len(indices):
            raise ValueError(f"campaign {meta.campaign}: chunk indices repeat: {indices}")
        keys = [self._campaign_key(meta.campaign), self._index_key()]
        keys += [self._chunk_key(meta.campaign, index) for index in indices]
        args: list[Any] = [
            meta.campaign,
            orjson.dumps(dataclasses.asdict(meta)),
            repr(float(meta.created_at)),
            orjson.dumps(indices),
        ]
        for chunk in chunks:
            args += [chunk.index, chunk.task_name, chunk.count]
        return bool(self._create(keys=keys, args=args))

    def exists(self, campaign: str) -> bool:
        return bool(self._client.exists(self._campaign_key(campaign)))

    def meta(self, campaign: str) -> CampaignMeta | None:
        stored = self._client.hget(self._campaign_key(campaign), "meta")
        if stored is None:
            return None
        fields = {field.name for field in dataclasses.fields(CampaignMeta)}
        return CampaignMeta(**{k: v for k, v in orjson.loads(stored).items() if k in fields})

    def campaigns_since(self, created_after: float) -> list[str]:
        """Campaign ids created after the given epoch time, oldest first."""
        return [name.decode() for name in
                self._client.zrangebyscore(self._index_key(), created_after, "+inf")]

    def list_campaigns(self) -> list[str]:
        """Campaign ids, newest (by created_at) first."""
        return [name.decode() for name in self._client.zrevrange(self._index_key(), 0, -1)]

    # -- chunks ------------------------------------------------------------------------

    def chunk(self, campaign: str, index: int) -> ChunkRecord | None:
        stored = self._client.hgetall(self._chunk_key(campaign, index))
        return _chunk_record(stored) if stored else None

    def deliver(self, campaign: str, index: int) -> ChunkRecord | None:
        """The chunk, as a worker that has just received its message reads it: the
        delivery is noted first (a chunk waiting its turn changes nothing else, and the
        stale-chunk sweeper must not take it for one whose message was lost)."""
        flat = self._deliver(keys=[self._chunk_key(campaign, index)])
        return _chunk_record(dict(zip(flat[::2], flat[1::2], strict=True))) if flat else None

    def chunks(self, campaign: str) -> list[ChunkRecord]:
        indices = self._indices(campaign)
        pipe = self._client.pipeline(transaction=False)
        for index in indices:
            pipe.hgetall(self._chunk_key(campaign, index))
        records = [_chunk_record(stored) for stored in pipe.execute() if stored]
        return sorted(records, key=lambda record: record.index)

    def claim(self, campaign: str, index: int, token: str, lease_seconds: float) -> Claim:
        """Take the chunk for sending under a lease, unless it is terminal or another token
        holds a live lease. Lease times come from Redis so machines' clocks need not agree."""
        outcome, attempts, lease_until, first = self._claim(
            keys=[self._chunk_key(campaign, index)], args=[token, repr(float(lease_seconds))]
        )
        return Claim(
            outcome=outcome.decode(),
            attempt=int(attempts or 0),
            lease_until=_float_or_none(lease_until),
            first_attempt_at=_float_or_none(first),
        )

    def mark_submitted(self, campaign: str, index: int, key_id: int) -> Transition:
        """Record the provider's keyId; unconditional unless the chunk is already terminal."""
        changed, completed = self._mark_submitted(
            keys=[self._chunk_key(campaign, index), self._campaign_key(campaign)],
            args=[int(key_id)],
        )
        return Transition(changed=bool(changed), completed=bool(completed))

    def mark_failed(self, campaign: str, index: int, error: dict) -> Transition:
        changed, completed = self._mark_failed(
            keys=[self._chunk_key(campaign, index), self._campaign_key(campaign)],
            args=[orjson.dumps(error)],
        )
        return Transition(changed=bool(changed), completed=bool(completed))

    def mark_waiting(
        self, campaign: str, index: int, token: str, error: dict | None, transient: bool
    ) -> int:
        """Give the lease back (only when token holds it) and mark the chunk `waiting` (the
        message's own delay decides when it goes again). error (when given) becomes the last
        error; transient counts one more transient failure. Returns the chunk's
        transient_failures."""
        failures = self._mark_waiting(
            keys=[self._chunk_key(campaign, index)],
            args=[token, orjson.dumps(error) if error is not None else b"", 1 if transient else 0],
        )
        return int(failures)

    def reset_failed(self, campaign: str) -> list[int]:
        """Failed chunks back to pending (attempts and last error kept, transient failures
        zeroed), so the campaign is no longer complete. Returns the indices reset."""
        indices = self._indices(campaign)
        if not indices:
            return []
        keys = [self._campaign_key(campaign)]
        keys += [self._chunk_key(campaign, index) for index in indices]
        reset = self._reset_failed(keys=keys, args=indices)
        return sorted(int(index) for index in reset)

    def mark_enqueued(self, campaign: str) -> None:
        """Every chunk's message is in the queue. A submit that died between creating the
        campaign and enqueueing leaves this unset, and the next submit enqueues again."""
        self._client.hset(self._campaign_key(campaign), "enqueued", "1")

    def is_enqueued(self, campaign: str) -> bool:
        return self._client.hget(self._campaign_key(campaign), "enqueued") is not None

    # -- summaries ---------------------------------------------------------------------

    def outstanding(self, campaign: str) -> int | None:
        """Chunks not yet terminal (None for an unknown campaign): one HMGET."""
        return _outstanding(self._client.hmget(self._campaign_key(campaign), *_COUNTERS))

    def incomplete(self, campaigns: list[str]) -> list[str]:
        """Those of the campaigns that exist and still have chunks to finish, in the order
        given: one round trip for all of them."""
        pipe = self._client.pipeline(transaction=False)
        for campaign in campaigns:
            pipe.hmget(self._campaign_key(campaign), *_COUNTERS)
        return [campaign for campaign, counters in zip(campaigns, pipe.execute(), strict=True)
                if _outstanding(counters)]

    def counts(self, campaign: str) -> dict[str, int]:
        """Chunks per state; every known state is present, zero when none."""
        tally = Counter(record.state for record in self.chunks(campaign))
        return {state: tally.get(state, 0) for state in STATES} | dict(tally)

    def view(self, campaign: str) -> dict | None:
        """Exactly the contract's JSON object for submit --json and status --json (None for
        an unknown campaign). Callers already holding meta and chunks use campaign_view."""
        meta = self.meta(campaign)
        if meta is None:
            return None
        return campaign_view(meta, self.chunks(campaign))

    # -- keys --------------------------------------------------------------------------

    def _indices(self, campaign: str) -> list[int]:
        stored = self._client.hget(self._campaign_key(campaign), "indices")
        return [int(index) for index in orjson.loads(stored)] if stored else []

    def _index_key(self) -> str:
        return f"{self._prefix}:campaigns"

    def _campaign_key(self, campaign: str) -> str:
        return f"{self._prefix}:campaign:{campaign}"

    def _chunk_key(self, campaign: str, index: int) -> str:
        return f"{self._prefix}:campaign:{campaign}:chunk:{index}"


def campaign_view(meta: CampaignMeta, records: list[ChunkRecord]) -> dict[str, Any]:
    """The contract's JSON object from meta and chunk records already read (no Redis)."""
    return {
        "campaign": meta.campaign,
        "rows": meta.rows,
        "accepted": meta.accepted,
        "rejected": meta.rejected,
        "duplicates": meta.duplicates,
        "rejects_file": meta.rejects_file,
        "chunks": [
            {
                "index": record.index,
                "task_name": record.task_name,
                "count": record.count,
                "state": record.state,
                "key_id": record.key_id,
                "attempts": record.attempts,
                "error": record.error,
            }
            for record in records
        ],
    }


def _chunk_record(stored: dict[bytes, bytes]) -> ChunkRecord:
    def text(field: str) -> str | None:
        value = stored.get(field.encode())
        return value.decode() if value not in (None, b"") else None

    key_id = text("key_id")
    error = text("error")
    return ChunkRecord(
        index=int(text("index") or 0),
        task_name=text("task_name") or "",
        count=int(text("count") or 0),
        state=text("state") or "pending",
        key_id=int(key_id) if key_id is not None else None,
        attempts=int(text("attempts") or 0),
        transient_failures=int(text("transient_failures") or 0),
        error=orjson.loads(error) if error is not None else None,
        first_attempt_at=_float_or_none(text("first_attempt_at")),
        updated_at=_float_or_none(text("updated_at")),
        lease_until=_float_or_none(text("lease_until")),
        delivered_at=_float_or_none(text("delivered_at")),
    )


# A campaign hash's counters: its chunks, and how many of them were submitted or failed.
_COUNTERS = ("chunks", "submitted", "failed")


def _outstanding(counters: list[bytes | None]) -> int | None:
    """Chunks not yet terminal from the _COUNTERS values (None: no such campaign)."""
    total, submitted, failed = counters
    if total is None:
        return None
    return int(total) - int(submitted or 0) - int(failed or 0)


def _float_or_none(value: bytes | str | None) -> float | None:
    if value is None or value in (b"", ""):
        return None
    return float(value)
