"""Request signing for the LAAFFIC API: Sign = md5(Api-Key + secret + Timestamp)."""

from __future__ import annotations

import hashlib
import time

CONTENT_TYPE = "application/json;charset=UTF-8"


def sign(api_key: str, api_secret: str, timestamp: str) -> str:
    """The 32-character lowercase MD5 hex digest of key, secret and timestamp, concatenated."""
    # MD5 is the provider's choice, not ours; usedforsecurity=False keeps FIPS builds working.
    text = f"{api_key}{api_secret}{timestamp}".encode()
    return hashlib.md5(text, usedforsecurity=False).hexdigest()


def signed_headers(api_key: str, api_secret: str, now: float | None = None) -> dict[str, str]:
    """Headers for one request. Call it per attempt: the provider rejects stale timestamps (-16)."""
    timestamp = str(int(time.time() if now is None else now))  # Unix SECONDS, not milliseconds
    return {
        "Content-Type": CONTENT_TYPE,
        "Api-Key": api_key,
        "Timestamp": timestamp,
        "Sign": sign(api_key, api_secret, timestamp),
    }
