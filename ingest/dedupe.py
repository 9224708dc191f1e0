"""De-duplication across a whole file, first occurrence wins.

An open-addressing hash table (linear probing) in one numpy int64 array: slot s holds a
number at [2s] and the data row of its first occurrence at [2s + 1], so both share a
cache line; at most MAX_LOAD full, 16 bytes a slot. That table is all the memory that
grows with the file. Numbers are placed with whole-array operations, one probe step for
all pending numbers at a time; the cost is the one cache miss of a number's first probe
(the later reads and writes of its slot hit the same line), so numbers go in groups
whose slots stay in the CPU cache between those steps.

A free slot holds number 0 (never an accepted phone number), so a new table is plain
zeroed memory: nothing to fill before the first number goes in."""

from __future__ import annotations

import numpy as np

from ingest.memory import populate_in_background

MAX_LOAD = 0.7
BYTES_PER_SLOT = 16
# Numbers placed together: the lines their slots touch (64 bytes each) must stay cached
# from the first probe to the last write; 64k numbers are 4 MB, within L2 + L3.
GROUP = 1 << 16
_MIN_SLOTS = 1 << 10
_EMPTY = 0  # a free slot's number; accepted numbers have 6+ digits, no leading 0
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads any key pattern


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
        for start in range(0, len(numbers), GROUP):
            end = start + GROUP
            first_row[start:end] = _place(self._table, numbers[start:end], rows[start:end])
        is_new = first_row == rows
        self._count += int(np.count_nonzero(is_new))
        return is_new, first_row

    @property
    def _slots(self) -> int:
        return len(self._table) // 2

    def _grow(self, slots: int) -> None:
        pairs = self._table.reshape(-1, 2)
        used = pairs[:, 0] != _EMPTY
        numbers, first_rows = pairs[used, 0], pairs[used, 1]  # copies
        del pairs, used
        self._table = _new_table(slots)
        _place(self._table, numbers, first_rows)


def _new_table(slots: int) -> np.ndarray:
    # Zero pages, made resident on another thread while the file is being read: the
    # first batch's numbers land all over the table, and would wait for every page.
    table = np.zeros(2 * slots, dtype=np.int64)
    populate_in_background(table)
    return table


def _number_index(numbers: np.ndarray, slots: int) -> np.ndarray:
    """Where each number's home slot keeps its number: 2 * (a slot in [0, slots)), from
    the high half of a multiplicative hash, scaled."""
    hashed = numbers.view(np.uint64) * _FIBONACCI
    hashed >>= np.uint64(32)
    hashed *= np.uint64(slots)
    hashed >>= np.uint64(32)
    hashed <<= np.uint64(1)
    return hashed.view(np.int64)


def _place(table: np.ndarray, numbers: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Insert the numbers that are not in the table yet, the smallest row winning among
    equal numbers; return each number's row in the table afterwards."""
    # (Index arrays and take() throughout: numpy's boolean indexing is several times
    # slower on masks that are neither mostly true nor mostly false.)
    end = len(table)
    out = np.empty(len(numbers), dtype=np.int64)
    pending = np.arange(len(numbers))
    at = _number_index(numbers, end // 2)
    wanted, wanted_rows = numbers, rows
    while pending.size:
        held = table.take(at)
        done = held == wanted
        hit = np.flatnonzero(done)
        if hit.size:
            out[pending.take(hit)] = table.take(at.take(hit) + 1)
        claim = np.flatnonzero(held == _EMPTY)
        if claim.size:
            claim_at, claim_numbers = at.take(claim), wanted.take(claim)
            table[claim_at] = claim_numbers  # one number per slot wins...
            won = np.flatnonzero(table.take(claim_at) == claim_numbers)  # ...all its equals
            claim, claim_at = claim.take(won), claim_at.take(won)
            claim_rows = wanted_rows.take(claim)
            row_at = claim_at + 1
            # Equal numbers share a slot: written in falling row order, numpy leaves the
            # smallest row (checked, as that order is not promised).
            table[row_at[::-1]] = claim_rows[::-1]
            landed = table.take(row_at)
            late = landed > claim_rows
            if late.any():
                np.minimum.at(table, row_at[late], claim_rows[late])
                landed = table.take(row_at)
            out[pending.take(claim)] = landed
            done[claim] = True
        go_on = np.flatnonzero(~done)
        pending = pending.take(go_on)
        at = at.take(go_on)
        at += 2  # the next slot, wrapping round
        at[at == end] = 0
        wanted, wanted_rows = numbers.take(pending), rows.take(pending)
    return out
