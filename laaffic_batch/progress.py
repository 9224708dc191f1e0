"""A progress bar on stderr for work that takes more than a second.

It appears only on a terminal, after the first second, so quick runs and logs
stay clean."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SHOW_AFTER_SECONDS = 1.0


class ByteProgress:
    def __init__(self, description: str) -> None:
        self.description = description
        self.started = time.monotonic()
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            if not sys.stderr.isatty() or time.monotonic() - self.started < SHOW_AFTER_SECONDS:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 DownloadColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=max(total, 1))
        self._bar.update(self._task, completed=min(done, total), total=max(total, 1))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def byte_progress(description: str) -> Iterator[ByteProgress]:
    bar = ByteProgress(description)
    try:
        yield bar
    finally:
        bar.close()
