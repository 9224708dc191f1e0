# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Placing numbers in the de-duplication table (compiled: see ingest/dedupe.py for the
table's layout and why)."""

from libc.stdint cimport int64_t, uint64_t

# How far ahead slots are fetched: enough memory round trips in flight to hide their
# latency, few enough that a fetched line is still cached when its number's turn comes.
PREFETCH_AHEAD = 16
cdef Py_ssize_t _AHEAD = PREFETCH_AHEAD
cdef uint64_t FIBONACCI = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: spreads any key pattern

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define PREFETCH_FOR_WRITE(address) __builtin_prefetch((address), 1, 3)
    #else
    #define PREFETCH_FOR_WRITE(address) ((void)(address))
    #endif
    """
    void PREFETCH_FOR_WRITE(const void *address) nogil


cdef inline Py_ssize_t home(int64_t number, uint64_t slots) noexcept nogil:
    """Where a number's home slot keeps its number: 2 * (a slot in [0, slots)), from the
    high half of a multiplicative hash, scaled."""
    cdef uint64_t hashed = (<uint64_t>number * FIBONACCI) >> 32
    return <Py_ssize_t>((hashed * slots) >> 32) * 2


def place(int64_t[::1] table, const int64_t[::1] numbers, const int64_t[::1] rows,
          int64_t[::1] first_row) -> int:
    """Insert each number not in the table yet, with its row, in order (so among equal
    numbers the first placed wins); first_row[i] is the row the table holds for
    numbers[i] afterwards. A free slot holds 0, numbers are > 0, and the table has a
    free slot left. Returns how many numbers were new."""
    cdef Py_ssize_t end = table.shape[0], count = numbers.shape[0], i, at
    cdef uint64_t slots = end // 2
    cdef int64_t number, held, added = 0
    if end < 2 or end % 2 or slots >= (<uint64_t>1 << 32):
        raise ValueError("the table must hold 1 to 2**32 - 1 slots of two int64 each")
    if rows.shape[0] < count or first_row.shape[0] < count:
        raise ValueError("rows and first_row must be as long as numbers")
    with nogil:
        for i in range(count):
            if i + _AHEAD < count:
                PREFETCH_FOR_WRITE(&table[home(numbers[i + _AHEAD], slots)])
            number = numbers[i]
            at = home(number, slots)
            while True:
                held = table[at]
                if held == number:
                    first_row[i] = table[at + 1]
                    break
                if held == 0:
                    table[at] = number
                    table[at + 1] = rows[i]
                    first_row[i] = rows[i]
                    added += 1
                    break
                at += 2  # the next slot, wrapping round
                if at == end:
                    at = 0
    return added
