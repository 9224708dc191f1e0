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
