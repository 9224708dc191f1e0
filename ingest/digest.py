"""The content digest of an input file: what makes the same file give the same campaign.

BLAKE3 (a cryptographic hash, ~4 GB/s on one core, three times SHA-256 here) over the
file's bytes, on a thread of its own: the hash releases the GIL, so it runs beside the
parse. The command line starts it before its heavy imports (`start_digest`), when the second
core has nothing else to do; planning then picks up the same running digest."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import blake3

from ingest.errors import InputError

_READ_BYTES = 1 << 20
_running: dict[tuple[str, int, int], FileDigest] = {}
_lock = threading.Lock()


class FileDigest:
    """The hex digest of one file, computed in the background; result() waits for it."""

    def __init__(self, path: Path, key: tuple[str, int, int] | None = None) -> None:
        self._path = path
        self._key = key
        self._result: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="file-digest", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            hasher = blake3.blake3()
            buffer = memoryview(bytearray(_READ_BYTES))  # one buffer: no fresh pages per read
            with self._path.open("rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    hasher.update(buffer[:count])
            self._result = hasher.hexdigest()
        except OSError as exc:  # surfaced by result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        self.forget()  # taken: a later start_digest() hashes afresh
        if self._result is None:
            raise InputError(f"{self._path}: cannot be read: {self._error}")
        return self._result


    def forget(self) -> None:
        """Drop it from the running digests (a plan that failed will not ask for it), so a
        long-running watcher or intake does not keep one per failed file."""
        if self._key is not None:
            with _lock:
                if _running.get(self._key) is self:
                    del _running[self._key]


def start_digest(path: str | Path) -> FileDigest:
    """The digest of `path`, started now or already running for the same file (same
    path, size and modification time; a changed file is hashed again)."""
    path = Path(path)
    try:
        stat = os.stat(path)
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return FileDigest(path)  # result() reports the error, if reading fails too
    with _lock:
        digest = _running.get(key)
        if digest is None:
            digest = _running[key] = FileDigest(path, key)
        return digest


def file_digest(path: str | Path) -> str:
    """The digest of `path`, waiting for it."""
    return start_digest(path).result()
