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


def test_a_batch_bigger_than_a_placing_group_matches_first_occurrences() -> None:
    # Batches are placed GROUP numbers at a time; equal numbers in different groups of
    # one batch must still resolve to the first row.
    from ingest.dedupe import GROUP

    rng = np.random.default_rng(11)
    numbers = rng.integers(10**10, 10**10 + GROUP, size=3 * GROUP + 5)
    rows = np.arange(1, len(numbers) + 1)
    new, first = SeenNumbers(expected=10).add_batch(numbers, rows)
    distinct, first_index, inverse = np.unique(numbers, return_index=True,
                                               return_inverse=True)
    assert first.tolist() == rows[first_index][inverse].tolist()
    assert int(new.sum()) == len(distinct)
