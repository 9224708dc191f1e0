"""Request signing: the provider's worked example and the header set every call carries."""

from __future__ import annotations

import re
import time

from worker.signing import sign, signed_headers

# The provider's documented example: key bDqJFiq9, secret 7bz1lzh9, timestamp 1630468800.
EXAMPLE_KEY, EXAMPLE_SECRET, EXAMPLE_TS = "bDqJFiq9", "7bz1lzh9", "1630468800"
EXAMPLE_SIGN = "05d7a50893e22a5c4bb3216ae3396c7c"


def test_sign_matches_the_providers_worked_example() -> None:
    assert sign(EXAMPLE_KEY, EXAMPLE_SECRET, EXAMPLE_TS) == EXAMPLE_SIGN


def test_sign_depends_on_every_part() -> None:
    assert sign(EXAMPLE_KEY, EXAMPLE_SECRET, "1630468801") != EXAMPLE_SIGN
    assert sign(EXAMPLE_KEY, "7bz1lzh8", EXAMPLE_TS) != EXAMPLE_SIGN
    assert sign("bDqJFiq8", EXAMPLE_SECRET, EXAMPLE_TS) != EXAMPLE_SIGN


def test_signed_headers_for_a_given_moment() -> None:
    headers = signed_headers(EXAMPLE_KEY, EXAMPLE_SECRET, now=1630468800.9)
    assert headers == {
        "Content-Type": "application/json;charset=UTF-8",
        "Api-Key": EXAMPLE_KEY,
        "Timestamp": EXAMPLE_TS,  # whole seconds, truncated
        "Sign": EXAMPLE_SIGN,
    }


def test_signed_headers_use_the_current_time_in_seconds() -> None:
    headers = signed_headers("key", "secret")
    assert re.fullmatch(r"\d{10}", headers["Timestamp"])  # seconds, not milliseconds
    assert abs(int(headers["Timestamp"]) - time.time()) < 5
    assert headers["Sign"] == sign("key", "secret", headers["Timestamp"])
    assert "secret" not in headers.values()
