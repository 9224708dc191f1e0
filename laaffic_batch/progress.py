"""Progress bars on stderr for work that takes more than a second.

One display per command, a bar per stage (reading the file, storing the chunks). It
appears only on a terminal, once the command has run for LAAFFIC_PROGRESS_AFTER_S
(default 1 s), so quick runs and logs stay clean."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from worker.settings import env_float

ProgressCallback = Callable[[int, int], None]  # (done, total)


class ProgressDisplay:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.show_after = env_float("LAAFFIC_PROGRESS_AFTER_S", 1.0)
        self._bar: Any = None

    def stage(self, description: str, unit: str = "bytes") -> ProgressCallback:
        """A callback for one stage's bar: unit "bytes" shows sizes, any other word counts
        ("12/46 chunks")."""
        task: Any = None

        def update(done: int, total: int) -> None:
            nonlocal task
            if not self._showing():
                return
            total = max(total, 1)
            done = min(done, total)
            if task is None:
                task = self._bar.add_task(description, total=total, amount="")
            self._bar.update(task, completed=done, total=total,
                             amount=_amount(done, total, unit))

        return update

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def _showing(self) -> bool:
        if self._bar is None:
            if not sys.stderr.isatty() or time.monotonic() - self.started < self.show_after:
                return False
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[amount]}"), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.start()
        return True


def _amount(done: int, total: int, unit: str) -> str:
    if unit == "bytes":
        from rich.filesize import decimal

        return f"{decimal(done)}/{decimal(total)}"
    return f"{done:,}/{total:,} {unit}"


@contextmanager
def progress_display() -> Iterator[ProgressDisplay]:
    display = ProgressDisplay()
    try:
        yield display
    finally:
        display.close()
