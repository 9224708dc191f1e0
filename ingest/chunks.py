"""Chunk sizes and deterministic names.

A campaign id is `<batch.name>-<8 hex>`; task names add `-<NNN>`. The hex comes from
a digest of the file content, the config and the run id, so the same input always
yields the same names: the provider's unique task names then make a re-submission
harmless instead of calling everyone twice."""

from __future__ import annotations

import math

API_MAX_NUMBERS = 200_000  # the API takes at most this many numbers per task
TASK_NAME_MAX = 64  # the API's cap on taskName
HASH_CHARS = 8
MIN_INDEX_WIDTH = 3  # chunk numbers are 001, 002, ...; wider only past 999 chunks


def chunk_sizes(total: int, chunk_size: int) -> list[int]:
    """Split `total` entries into the fewest chunks of at most `chunk_size`, sizes as even
    as possible (they differ by at most one, larger ones first)."""
    if not 1 <= chunk_size <= API_MAX_NUMBERS:
        raise ValueError(f"chunk_size must be 1..{API_MAX_NUMBERS}, got {chunk_size}")
    if total <= 0:
        return []
    count = math.ceil(total / chunk_size)
    base, extra = divmod(total, count)
    return [base + 1 if i < extra else base for i in range(count)]


def _index_width(chunk_count: int) -> int:
    return max(MIN_INDEX_WIDTH, len(str(chunk_count)))


def _prefix(name: str, chunk_count: int) -> str:
    # Room left for "-<hash>-<NNN>"; the user's prefix is shortened to fit, never the hash.
    room = TASK_NAME_MAX - 1 - HASH_CHARS - 1 - _index_width(chunk_count)
    return name[:room].rstrip("-") or "t"


def campaign_id(name: str, digest: str, chunk_count: int = 1) -> str:
    return f"{_prefix(name, chunk_count)}-{digest[:HASH_CHARS]}"


def task_names(name: str, digest: str, chunk_count: int) -> list[str]:
    width = _index_width(chunk_count)
    campaign = campaign_id(name, digest, chunk_count)
    return [f"{campaign}-{i:0{width}d}" for i in range(1, chunk_count + 1)]
