"""Memory set-up for bulk planning: Arrow's pool and the collector put back, array
contents never changed."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pyarrow as pa

from ingest.memory import bulk_mode, populate_in_background


def test_bulk_mode_puts_arrows_pool_and_the_collector_back() -> None:
    pool = pa.default_memory_pool()
    assert gc.isenabled()
    with bulk_mode():
        assert not gc.isenabled()
        assert pa.default_memory_pool().backend_name == pa.system_memory_pool().backend_name
    assert gc.isenabled()
    assert pa.default_memory_pool().backend_name == pool.backend_name


def test_populating_keeps_what_is_written_before_and_meanwhile() -> None:
    array = np.zeros(8 << 20, dtype=np.int64)  # 64 MiB, past the minimum size
    array[::1000] = np.arange(len(array[::1000]))
    populate_in_background(array)
    array[1::1000] = 7  # written while pages are being faulted in
    for thread in threading.enumerate():
        if thread.name == "populate":
            thread.join()
    assert np.array_equal(array[::1000], np.arange(len(array[::1000])))
    assert np.all(array[1::1000] == 7)
    assert np.count_nonzero(array) == len(array[::1000]) - 1 + len(array[1::1000])
