"""Where a chunk's entries (the JSON array sent as numberInfoList) wait between planning
and submission. Entries are zlib-compressed: phone-number JSON shrinks several-fold, and
a 200,000-entry chunk is tens of megabytes raw."""

from __future__ import annotations

import zlib

import redis

# Level 1 already gets most of the gain on this repetitive JSON at a fraction of the CPU.
COMPRESSION_LEVEL = 1


class ChunkMissing(LookupError):
    """The chunk's entries are not stored (never put, deleted, or expired)."""


class ChunkStore:
    def __init__(self, client: redis.Redis, prefix: str = "laaffic") -> None:
        self._client = client
        self._prefix = prefix

    def put(self, campaign: str, index: int, entries_json: bytes, ttl: float) -> None:
        self._client.set(
            self._key(campaign, index),
            zlib.compress(entries_json, COMPRESSION_LEVEL),
            px=_milliseconds(ttl),
        )

    def get(self, campaign: str, index: int) -> bytes:
        stored = self._client.get(self._key(campaign, index))
        if stored is None:
            raise ChunkMissing(f"entries of chunk {index} of campaign {campaign} are gone")
        return zlib.decompress(stored)

    def expire(self, campaign: str, index: int, ttl: float) -> None:
        """Shorten the time left to ttl (after submission); never lengthens it."""
        key = self._key(campaign, index)
        wanted = _milliseconds(ttl)
        remaining = self._client.pttl(key)
        if remaining == -1 or remaining > wanted:  # -1: no expiry set; -2: no such key
            self._client.pexpire(key, wanted)

    def _key(self, campaign: str, index: int | str) -> str:
        return f"{self._prefix}:chunks:{campaign}:{index}"


def _milliseconds(ttl: float) -> int:
    if ttl <= 0:
        raise ValueError(f"ttl must be positive seconds, got {ttl}")
    return max(1, round(ttl * 1000))
