"""De-duplication across a whole file, first occurrence wins.

Numbers are kept as int64 (18 digits fit) in one sorted array with the data row of
their first occurrence beside it: 12 bytes per distinct number, which is all the
memory that grows with the file. Each batch is de-duplicated internally with
np.unique, looked up with a binary search and merged in with one insert pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SeenNumbers:
    numbers: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    first_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.numbers)

    def add_batch(self, numbers: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record a batch of valid numbers (in file order, with their data rows).

        Returns (is_new, first_row): is_new[i] is True for the first occurrence of a number
        in the whole file so far; first_row[i] is the data row where that number was first
        accepted (the row itself when new)."""
        if len(numbers) == 0:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        uniq, first_idx, inverse = np.unique(numbers, return_index=True, return_inverse=True)
        first_row_in_batch = rows[first_idx]
        pos = np.searchsorted(self.numbers, uniq)
        known = np.zeros(len(uniq), dtype=bool)
        in_range = pos < len(self.numbers)
        known[in_range] = self.numbers[pos[in_range]] == uniq[in_range]
        first_row_uniq = first_row_in_batch.copy()
        first_row_uniq[known] = self.first_rows[pos[known]]
        first_row = first_row_uniq[inverse]
        is_new = (first_row == rows)
        fresh = ~known
        if fresh.any():
            self.numbers = np.insert(self.numbers, pos[fresh], uniq[fresh])
            self.first_rows = np.insert(self.first_rows, pos[fresh], first_row_in_batch[fresh])
        return is_new, first_row

    def contains(self, numbers: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.numbers, numbers)
        found = np.zeros(len(numbers), dtype=bool)
        in_range = pos < len(self.numbers)
        found[in_range] = self.numbers[pos[in_range]] == numbers[in_range]
        return found
