"""Graceful shutdown: for the long-running loops (watch, intake) SIGTERM or SIGINT sets an
event, and the loop finishes the work in hand and exits; a worker started as a process
group (the demo, tests) is stopped through its leader."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM/SIGINT, so the loop finishes the work in hand and exits.
    Signal handlers exist only in the main thread; elsewhere the event is just returned."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own group: the signal goes to the leader (Dramatiq's
    main process forwards SIGTERM to its workers; signalling the whole group would make
    them see it twice and kill themselves hard), SIGKILL to the whole group if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig) if sig == signal.SIGKILL else os.kill(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything left behind in the group
