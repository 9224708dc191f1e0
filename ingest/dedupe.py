"""De-duplication across a whole file, first occurrence wins.

An open-addressing hash table (linear probing) in one numpy int64 array: slot s holds a
number at [2s] and the data row of its first occurrence at [2s + 1], so both share a
cache line; at most MAX_LOAD full, 16 bytes a slot. That table is all the memory that
grows with the file. A compiled kernel (dedupe_kernel.place) places the numbers one at a
time, in file order, so the first occurrence is simply the one placed first. The cost is
the one memory round trip of a number's first probe in a table far bigger than the CPU
caches; the kernel asks for the slots of the numbers a few places ahead, so those round
trips overlap instead of following one another.

A free slot holds number 0 (never an accepted phone number), so a new table is plain
zeroed memory: nothing to fill before the first number goes in."""

from __future__ import annotations

import numpy as np

from ingest.dedupe_kernel import place
from ingest.memory import populate_in_background

MAX_LOAD = 0.7
BYTES_PER_SLOT = 16
_MIN_SLOTS = 1 << 10
_EMPTY = 0  # a free slot's number; accepted numbers have 6+ digits, no leading 0


def _slots_for(count: int) -> int:
    return max(_MIN_SLOTS, int(count / MAX_LOAD) + 1)


def table_bytes(expected: int) -> int:
    """The memory of a table sized for `expected` numbers (what SeenNumbers(expected)
    holds until more than that many distinct numbers arrive)."""
    return _slots_for(expected) * BYTES_PER_SLOT


class SeenNumbers:
    """The numbers accepted so far, each with the data row where it was first seen."""

    def __init__(self, expected: int = 0) -> None:
        """expected: about how many distinct numbers will come (sizes the table once;
        it grows when the guess was low)."""
        self._count = 0
        self._table = _new_table(_slots_for(expected))

    def __len__(self) -> int:
        return self._count

    def add_batch(self, numbers: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record a batch of numbers (> 0) in file order with their data rows (>= 1, rising).

        Returns (is_new, first_row): is_new[i] is True for the first occurrence of a number
        in the whole file so far; first_row[i] is the data row where that number was first
        seen (the row itself when new)."""
        numbers = np.ascontiguousarray(numbers, dtype=np.int64)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if len(numbers) and numbers.min() <= _EMPTY:
            raise ValueError("numbers must be positive (0 marks a free slot)")
        needed = self._count + len(numbers)
        if needed > self._slots * MAX_LOAD:
            self._grow(_slots_for(2 * needed))
        first_row = np.empty(len(numbers), dtype=np.int64)
        self._count += place(self._table, numbers, rows, first_row)
        return first_row == rows, first_row

    @property
    def _slots(self) -> int:
        return len(self._table) // 2

    def _grow(self, slots: int) -> None:
        pairs = self._table.reshape(-1, 2)
        used = pairs[:, 0] != _EMPTY
        numbers, first_rows = pairs[used, 0], pairs[used, 1]  # copies
        del pairs, used
        self._table = _new_table(slots)
        place(self._table, numbers, first_rows, np.empty(len(numbers), dtype=np.int64))


def _new_table(slots: int) -> np.ndarray:
    # Zero pages, made resident on another thread while the file is being read: the
    # first batch's numbers land all over the table, and would wait for every page.
    table = np.zeros(2 * slots, dtype=np.int64)
    populate_in_background(table)
    return table
