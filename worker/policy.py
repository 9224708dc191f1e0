"""How long to wait before trying a chunk again. Worker-level tuning comes from the
environment (the campaign config says how many attempts and how old is too old).

- transient failures: exponential backoff with jitter (Dramatiq's compute_backoff),
  counted against the chunk's attempt budget;
- provider busy (-37), account cap reached, chunk leased by another worker: a wait that
  costs no attempt, bounded only by the campaign's max_age."""

from __future__ import annotations

import random
from dataclasses import dataclass

from dramatiq.common import compute_backoff

from worker.settings import env_int


@dataclass(frozen=True)
class RetryPolicy:
    backoff_min_ms: int = 2_000
    backoff_max_ms: int = 300_000
    busy_ms: int = 60_000
    cap_wait_ms: int = 1_000

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            backoff_min_ms=env_int("LAAFFIC_RETRY_MIN_MS", cls.backoff_min_ms),
            backoff_max_ms=env_int("LAAFFIC_RETRY_MAX_MS", cls.backoff_max_ms),
            busy_ms=env_int("LAAFFIC_BUSY_RETRY_MS", cls.busy_ms),
            cap_wait_ms=env_int("LAAFFIC_CAP_WAIT_MS", cls.cap_wait_ms),
        )

    def transient_delay_ms(self, failures: int) -> int:
        _, delay = compute_backoff(max(failures - 1, 0), factor=self.backoff_min_ms,
                                   max_backoff=self.backoff_max_ms)
        return int(delay)

    def busy_delay_ms(self) -> int:
        return int(self.busy_ms * random.uniform(0.8, 1.2))

    def cap_delay_ms(self, waiting: int = 1, limit: int = 1) -> int:
        """Wait for a slot under the account's in-flight cap. With many chunks queued
        behind few slots the wait grows (up to 10x), so a large backlog re-checks the cap a
        bounded number of times per second instead of spinning through Redis."""
        scale = min(max(waiting / (max(limit, 1) * 50), 1.0), 10.0)
        return int(self.cap_wait_ms * scale * random.uniform(0.5, 1.5))
