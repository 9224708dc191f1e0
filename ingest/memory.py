"""How bulk work (planning, storing chunks) uses memory: process-wide malloc and Arrow
settings for its length, and making a big array's pages resident ahead of use.

Fresh memory is expensive here: the kernel zeroes each page on first touch, and in a VM
the host backs it too (about 2 ms per MB measured on the CI machine, so a 10M-row file's
de-duplication table alone cost half a second of a thread that everything waited on)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

# Three process-wide settings for the length of bulk work (a plan, storing its chunks):
# - glibc's malloc returns big freed blocks to the kernel at once, so every batch's numpy
#   temporaries would come back as fresh pages, each page fault slow (more so in a VM):
#   on a 10M-row file that was more kernel time than the parse. Freed memory is kept for
#   reuse instead, and released at the end. The thresholds are set back to glibc's
#   defaults afterwards, but not quite as they were: once they are set, glibc stops
#   raising its mmap and trim thresholds by itself, for the rest of the process.
# - Arrow's default pool (mimalloc) also hands freed pages back within milliseconds; its
#   buffers come from that same tuned malloc instead (0.3-0.5 CPU-s on 10M rows). The
#   CLI already starts with the system pool as Arrow's default (cli.configure_process),
#   which its I/O buffers need too; the swap here is for callers that did not start
#   through the CLI, and the earlier pool is put back afterwards.
# - The cyclic garbage collector would walk all objects again and again for the few
#   containers a batch makes; it is paused, and resumed afterwards.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
_DEFAULT_TRIM_THRESHOLD = 128 * 1024  # glibc's defaults
_DEFAULT_MMAP_THRESHOLD = 128 * 1024


@contextlib.contextmanager
def bulk_mode() -> Iterator[None]:
    libc = glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, 256 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TOP_PAD, 64 << 20)
    arrow_pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        pa.set_memory_pool(arrow_pool)
        if libc is not None:
            libc.mallopt(_M_TOP_PAD, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
            libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT_MMAP_THRESHOLD)
            libc.malloc_trim(0)


def glibc() -> Any:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError, AttributeError):  # not glibc, or not POSIX
        return None
    try:
        return ctypes.CDLL(None)  # the process's own C library
    except OSError:
        return None


_MADV_POPULATE_WRITE = 23  # Linux 5.14+: fault pages in, writable, contents untouched
_POPULATE_STEP = 2 << 20
_POPULATE_MIN_BYTES = 4 << 20


def populate_in_background(array: np.ndarray) -> None:
    """Fault `array`'s pages in on a thread of its own (madvise releases the GIL), so the
    code that fills it at random does not stop on a page fault every few numbers, and
    the zeroing overlaps other work. Contents are not changed, so the array may be used
    meanwhile. Does nothing where the kernel or C library cannot."""
    if array.nbytes < _POPULATE_MIN_BYTES:
        return
    libc = glibc()
    if libc is None:
        return
    threading.Thread(target=_populate, args=(libc, array), name="populate",
                     daemon=True).start()


def _populate(libc: Any, array: np.ndarray) -> None:
    # (`array` is held here until done, so its memory cannot be freed underneath.)
    page = os.sysconf("SC_PAGE_SIZE")
    start = (array.ctypes.data + page - 1) // page * page
    end = array.ctypes.data + array.nbytes
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for at in range(start, end, _POPULATE_STEP):
        length = min(_POPULATE_STEP, end - at) // page * page
        if length and madvise(at, length, _MADV_POPULATE_WRITE) != 0:
            return  # an older kernel (EINVAL): pages are faulted in as they are used
