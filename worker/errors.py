"""The exception tree the retry policy reads, and the rules that sort an answer into it.

SubmitError
  AlreadyExists   -41, -20: the task exists; reconcile by name, never rename to get around it
  TransientError  network errors, timeouts, HTTP 5xx/429, -16, -18: retry soon, signing afresh
  ProviderBusy    -37: too many concurrent tasks on the account; retry much later
  PermanentError  everything else, unknown statuses and unexpected bodies: mark failed
"""

from __future__ import annotations

from typing import Any

from ingest.errors import LaafficError

# What the provider's status codes mean (the seed's table); used for reasons and the sandbox.
STATUS_REASONS: dict[str, str] = {
    "0": "success",
    "-1": "Authentication error",
    "-2": "Restricted IP access",
    "-16": "Timestamp expires",
    "-18": "Port program unusual",
    "-20": "Data existing",
    "-21": "Data validation exception",
    "-22": "Parameter exception",
    "-23": "Data caps",
    "-24": "Data unexisting",
    "-26": "Getting fee failed",
    "-34": "There is no callable number when the task was ended last time",
    "-37": "The group call task you submitted exceeds the maximum concurrent task limit",
    "-38": "Conversion text and language type are required",
    "-39": "Failed to obtain the text language type",
    "-41": "Task name already exists",
    "-42": "Recall is allowed only when the task is canceled or completed",
    "-60": "The AI speech template does not exist",
    "-68": "AI Agent industry intent does not match recall intent",
}
# Hints added to reasons whose cause is not obvious from the provider's wording.
STATUS_HINTS: dict[str, str] = {
    "-1": "check LAAFFIC_API_KEY and LAAFFIC_API_SECRET",
    "-2": "this machine's IP is not allowed on the account",
    "-26": "billing problem: check the account balance",
}
ALREADY_EXISTS_STATUSES = frozenset({"-41", "-20"})
TRANSIENT_STATUSES = frozenset({"-16", "-18"})
BUSY_STATUSES = frozenset({"-37"})


class SubmitError(Exception):
    """An API call that did not succeed. `status` is the provider's status (None when no answer
    carried one: transport errors, bare HTTP errors); `reason` is one line, never a secret."""

    def __init__(self, status: str | None, reason: str, http_status: int | None = None) -> None:
        self.status = status
        self.reason = reason
        self.http_status = http_status
        super().__init__(self._message())

    def _message(self) -> str:
        text = self.reason if self.status is None else f"status {self.status}: {self.reason}"
        return text if self.http_status in (None, 200) else f"{text} (HTTP {self.http_status})"

    def as_error(self) -> dict[str, Any]:
        """The `error` field of a failed chunk: {"status": "-60", "reason": "..."}."""
        return {"status": self.status, "reason": self.reason}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status!r}, reason={self.reason!r}, "
                f"http_status={self.http_status!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the fields when pickled (Dramatiq results, multiprocessing).
        return (type(self), (self.status, self.reason, self.http_status))


class AlreadyExists(SubmitError):
    """-41 / -20: a task with this name exists; find it by name and record its id."""


class TransientError(SubmitError):
    """Worth retrying soon with a fresh signature."""


class ProviderBusy(SubmitError):
    """-37: the account runs too many tasks at once; retry after a long delay."""


class PermanentError(SubmitError):
    """Retrying cannot help: fail the chunk with this status and reason."""


class CredentialsError(LaafficError):
    """LAAFFIC_API_KEY or LAAFFIC_API_SECRET is missing."""


def normalize_status(value: Any) -> str | None:
    """The provider sends status as "-41" or -41 (and code as 0 or "0"): compare as strings."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | str):
        text = str(value).strip()
        return text or None
    return None


def describe(status: str, reason: str | None) -> str:
    """The provider's reason (or the table's when it sent none), plus a hint where useful."""
    text = (reason or "").strip() or STATUS_REASONS.get(status, "unknown status")
    hint = STATUS_HINTS.get(status)
    return f"{text} ({hint})" if hint else text


def classify(status: str | None, reason: str, http_status: int | None = None) -> SubmitError:
    """Sort a non-success answer into the tree. HTTP 5xx and 429 are transient whatever the
    body says; otherwise the provider's status decides; no status at all is permanent."""
    if http_status is not None and (http_status >= 500 or http_status == 429):
        return TransientError(status, reason, http_status)
    if status in ALREADY_EXISTS_STATUSES:
        return AlreadyExists(status, reason, http_status)
    if status in TRANSIENT_STATUSES:
        return TransientError(status, reason, http_status)
    if status in BUSY_STATUSES:
        return ProviderBusy(status, reason, http_status)
    return PermanentError(status, reason, http_status)
