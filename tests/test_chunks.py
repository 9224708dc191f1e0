"""Chunk sizes and deterministic task names."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.chunks import API_MAX_NUMBERS, campaign_id, chunk_sizes, task_names


def test_sizes_are_even_and_under_the_cap() -> None:
    assert chunk_sizes(450_000, 200_000) == [150_000, 150_000, 150_000]
    assert chunk_sizes(400_001, 200_000) == [133_334, 133_334, 133_333]
    assert chunk_sizes(5, 200_000) == [5]
    assert chunk_sizes(0, 200_000) == []


def test_chunk_size_above_the_api_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="200000"):
        chunk_sizes(10, API_MAX_NUMBERS + 1)


@given(st.integers(1, API_MAX_NUMBERS), st.integers(0, 500), st.integers(0, API_MAX_NUMBERS))
def test_no_chunk_over_the_cap_and_counts_sum(size: int, whole: int, rest: int) -> None:
    total = size * whole + rest % size  # up to 500 chunks of any size
    sizes = chunk_sizes(total, size)
    assert sum(sizes) == total
    assert all(0 < s <= size for s in sizes)
    if sizes:
        assert max(sizes) - min(sizes) <= 1
        assert len(sizes) == -(-total // size)  # the fewest chunks possible


def test_task_names_follow_the_pattern() -> None:
    names = task_names("nov-promo", "3f9a1c2e77", 3)
    assert names == ["nov-promo-3f9a1c2e-001", "nov-promo-3f9a1c2e-002", "nov-promo-3f9a1c2e-003"]
    assert campaign_id("nov-promo", "3f9a1c2e77") == "nov-promo-3f9a1c2e"


@given(
    name=st.text(min_size=1, max_size=120).filter(lambda s: s.strip("-")),
    digest=st.text("0123456789abcdef", min_size=8, max_size=64),
    count=st.integers(1, 2000),
)
def test_names_unique_and_within_2_to_64(name: str, digest: str, count: int) -> None:
    names = task_names(name, digest, count)
    assert len(set(names)) == count
    assert all(2 <= len(n) <= 64 for n in names)
    assert all(n.startswith(campaign_id(name, digest, count) + "-") for n in names)
    assert all(re.search(rf"-{digest[:8]}-\d{{3,}}$", n) for n in names)


def test_a_long_prefix_is_shortened_but_the_hash_kept() -> None:
    names = task_names("x" * 100, "abcdef0123", 2)
    assert all(len(n) == 64 and n.endswith(("-abcdef01-001", "-abcdef01-002")) for n in names)
