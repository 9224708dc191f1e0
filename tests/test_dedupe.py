"""De-duplication across batches: first occurrence wins, with its row remembered."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ingest.dedupe import SeenNumbers


def test_first_occurrence_wins_across_batches() -> None:
    seen = SeenNumbers()
    new, first = seen.add_batch(np.array([5, 7, 5]), np.array([1, 2, 3]))
    assert new.tolist() == [True, True, False]
    assert first.tolist() == [1, 2, 1]
    new, first = seen.add_batch(np.array([9, 7]), np.array([4, 5]))
    assert new.tolist() == [True, False]
    assert first.tolist() == [4, 2]
    assert len(seen) == 3


def test_the_table_grows_past_its_first_guess_and_keeps_every_row() -> None:
    rng = np.random.default_rng(5)
    numbers = rng.integers(10**5, 10**5 + 30_000, size=50_000)
    seen = SeenNumbers(expected=100)
    first: dict[int, int] = {}
    for start in range(0, len(numbers), 7_000):
        batch = numbers[start:start + 7_000]
        rows = np.arange(start + 1, start + len(batch) + 1)
        new, first_row = seen.add_batch(batch, rows)
        for value, row, is_new, got in zip(batch.tolist(), rows.tolist(), new, first_row,
                                           strict=True):
            assert is_new == (value not in first)
            first.setdefault(value, row)
            assert got == first[value]
    assert len(seen) == len(first)


def test_rows_beyond_32_bits_are_remembered_exactly() -> None:
    seen = SeenNumbers()
    start = 2**31 - 2
    new, first = seen.add_batch(np.array([5, 6, 5, 7]), np.arange(start, start + 4))
    assert new.tolist() == [True, True, False, True]
    assert first.tolist() == [start, start + 1, start, start + 3]
    new, first = seen.add_batch(np.array([7, 8]), np.array([2**40, 2**40 + 1]))
    assert first.tolist() == [start + 3, 2**40 + 1]


@given(st.lists(st.lists(st.integers(1, 30), max_size=20), max_size=6))
def test_matches_a_plain_set(batches: list[list[int]]) -> None:
    seen = SeenNumbers()
    reference: dict[int, int] = {}
    row = 0
    for batch in batches:
        rows = np.arange(row + 1, row + len(batch) + 1)
        new, first = seen.add_batch(np.array(batch, dtype=np.int64), rows)
        for value, r, is_new, first_row in zip(batch, rows, new, first, strict=True):
            assert is_new == (value not in reference)
            reference.setdefault(value, int(r))
            assert first_row == reference[value]
        row += len(batch)
    assert len(seen) == len(reference)


def test_a_big_batch_with_many_repeats_matches_first_occurrences() -> None:
    # Far more numbers than the table was sized for, most of them repeated within the
    # batch: the table grows once, and every repeat resolves to its first row.
    rng = np.random.default_rng(11)
    numbers = rng.integers(10**10, 10**10 + 65_536, size=200_005)
    rows = np.arange(1, len(numbers) + 1)
    new, first = SeenNumbers(expected=10).add_batch(numbers, rows)
    distinct, first_index, inverse = np.unique(numbers, return_index=True,
                                               return_inverse=True)
    assert first.tolist() == rows[first_index][inverse].tolist()
    assert int(new.sum()) == len(distinct)


def test_the_compiled_kernel_refuses_arrays_it_would_overrun() -> None:
    import pytest
    from ingest.dedupe_kernel import place

    numbers = np.array([5, 6], dtype=np.int64)
    with pytest.raises(ValueError, match="table"):
        place(np.zeros(3, dtype=np.int64), numbers, numbers, np.empty(2, dtype=np.int64))
    with pytest.raises(ValueError, match="as long as numbers"):
        place(np.zeros(8, dtype=np.int64), numbers, numbers[:1], np.empty(2, dtype=np.int64))
