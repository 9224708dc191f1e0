"""De-duplication across a whole file, first occurrence wins.

An open-addressing hash table (linear probing) in numpy arrays: per slot the number
(int64) and the data row of its first occurrence (int32 until rows need more), 12 bytes,
at most MAX_LOAD full. That table is all the memory that grows with the file. A batch is
placed with whole-array operations, one probe step for all its pending numbers at a
time, so the work per number is a few memory accesses however large the table (a sorted
array needs an O(N) insert per batch)."""

from __future__ import annotations

import numpy as np

MAX_LOAD = 0.7
_MIN_SLOTS = 1 << 10
_EMPTY = np.iinfo(np.int64).min  # a free slot's number; never a phone number
_INT32_MAX = np.iinfo(np.int32).max
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads any key pattern


def _slots_for(count: int) -> int:
    return max(_MIN_SLOTS, int(count / MAX_LOAD) + 1)


class SeenNumbers:
    """The numbers accepted so far, each with the data row where it was first seen."""

    def __init__(self, expected: int = 0) -> None:
        """expected: about how many distinct numbers will come (sizes the table once;
        it grows when the guess was low)."""
        self._count = 0
        self._numbers, self._first_rows = _new_table(_slots_for(expected), np.int32)

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._numbers.nbytes + self._first_rows.nbytes

    def add_batch(self, numbers: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record a batch of numbers in file order with their data rows (>= 1, rising).

        Returns (is_new, first_row): is_new[i] is True for the first occurrence of a number
        in the whole file so far; first_row[i] is the data row where that number was first
        seen (the row itself when new)."""
        numbers = np.ascontiguousarray(numbers, dtype=np.int64)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if len(numbers) == 0:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        if rows[-1] > _INT32_MAX and self._first_rows.dtype != np.int64:
            self._first_rows = self._first_rows.astype(np.int64)
        needed = self._count + len(numbers)
        if needed > len(self._numbers) * MAX_LOAD:
            self._grow(_slots_for(2 * needed))
        first_row = _place(self._numbers, self._first_rows, numbers, rows)
        is_new = first_row == rows
        self._count += int(np.count_nonzero(is_new))
        return is_new, first_row

    def _grow(self, slots: int) -> None:
        used = self._numbers != _EMPTY
        numbers, first_rows = self._numbers[used], self._first_rows[used].astype(np.int64)
        del used
        self._numbers, self._first_rows = _new_table(slots, self._first_rows.dtype)
        _place(self._numbers, self._first_rows, numbers, first_rows)


def _new_table(slots: int, row_type: type) -> tuple[np.ndarray, np.ndarray]:
    # Filled now, page by page in order: the random first touches of the inserts would
    # cost one page fault each, many times the whole fill for a big table.
    numbers = np.empty(slots, dtype=np.int64)
    numbers.fill(_EMPTY)
    first_rows = np.empty(slots, dtype=row_type)
    first_rows.fill(0)
    return numbers, first_rows


def _hash(numbers: np.ndarray, slots: int) -> np.ndarray:
    """A slot in [0, slots) per number: the high half of a multiplicative hash, scaled."""
    hashed = numbers.view(np.uint64) * _FIBONACCI
    hashed >>= np.uint64(32)
    hashed *= np.uint64(slots)
    hashed >>= np.uint64(32)
    return hashed.view(np.int64)


def _next(slot: np.ndarray, slots: int) -> np.ndarray:
    slot += 1
    slot[slot == slots] = 0
    return slot


def _place(table: np.ndarray, first_rows: np.ndarray, numbers: np.ndarray,
           rows: np.ndarray) -> np.ndarray:
    """Insert the numbers that are not in the table yet, the smallest row winning among
    equal numbers; return each number's row in the table afterwards."""
    # (Index arrays and take() throughout: numpy's boolean indexing is several times
    # slower on masks that are neither mostly true nor mostly false.)
    slots = len(table)
    out = np.empty(len(numbers), dtype=np.int64)
    pending = np.arange(len(numbers))
    slot = _hash(numbers, slots)
    wanted, wanted_rows = numbers, rows
    while pending.size:
        held = table.take(slot)
        done = held == wanted
        hit = np.flatnonzero(done)
        if hit.size:
            out[pending.take(hit)] = first_rows.take(slot.take(hit))
        claim = np.flatnonzero(held == _EMPTY)
        if claim.size:
            claim_slots, claim_numbers = slot.take(claim), wanted.take(claim)
            table[claim_slots] = claim_numbers  # one number per slot wins...
            won = np.flatnonzero(table.take(claim_slots) == claim_numbers)  # ...all its equals
            claim, claim_slots = claim.take(won), claim_slots.take(won)
            claim_rows = wanted_rows.take(claim).astype(first_rows.dtype, copy=False)
            # Equal numbers share a slot: written in falling row order, numpy leaves the
            # smallest row (checked, as that order is not promised).
            first_rows[claim_slots[::-1]] = claim_rows[::-1]
            landed = first_rows.take(claim_slots)
            late = landed > claim_rows
            if late.any():
                np.minimum.at(first_rows, claim_slots[late], claim_rows[late])
                landed = first_rows.take(claim_slots)
            out[pending.take(claim)] = landed
            done[claim] = True
        go_on = np.flatnonzero(~done)
        pending = pending.take(go_on)
        slot = _next(slot.take(go_on), slots)
        wanted, wanted_rows = numbers.take(pending), rows.take(pending)
    return out
