"""Where the Redis behind broker, ledger and intake is, and how to connect to it."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import AuthenticationError, AuthorizationError
from redis.retry import Retry

from worker.embedded import ensure_embedded_redis
from worker.paths import data_dir

# Long enough for blocking reads (XREADGROUP BLOCK, BRPOP) of up to ~25 s on this client.
SOCKET_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 5.0
HEALTH_CHECK_INTERVAL_S = 30
# About 20 s of reconnect attempts: a Redis restart is ridden out, not turned into errors.
RETRIES = 10

_announced_urls: set[str] = set()
_announce_lock = threading.Lock()


def resolve_redis_url() -> str:
    """REDIS_URL when set; otherwise the embedded Redis under the data dir (started if need
    be), announced once per process on stderr so nobody mistakes it for their own server."""
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        return configured
    directory = data_dir()
    url = ensure_embedded_redis(directory)
    with _announce_lock:
        if url not in _announced_urls:
            _announced_urls.add(url)
            print(
                f"laaffic-batch: REDIS_URL is unset; using the embedded Redis at {url} "
                f"(data in {directory})",
                file=sys.stderr,
            )
    return url


class _RetryUnlessRefused(Retry):
    """Retries connection errors with backoff, except a refused login: redis-py counts a
    wrong password as a connection error, and it would take the whole backoff (~20 s) to
    report something no retry can mend."""

    def call_with_retry(self, do: Callable[[], Any], fail: Callable[..., Any],
                        is_retryable: Callable[[Exception], bool] | None = None,
                        with_failure_count: bool = False) -> Any:
        def retryable(error: Exception) -> bool:
            if isinstance(error, AuthenticationError | AuthorizationError):
                return False
            return is_retryable is None or is_retryable(error)

        return super().call_with_retry(do, fail, retryable, with_failure_count)


def redis_client(url: str | None = None) -> redis.Redis:
    """A client for url (default: resolve_redis_url()). Passwords and rediss:// (TLS) come
    from the URL; transient connection errors are retried with backoff. Replies are bytes."""
    retry = _RetryUnlessRefused(ExponentialWithJitterBackoff(base=0.1, cap=3.0), RETRIES)
    return redis.Redis.from_url(
        url or resolve_redis_url(),
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_keepalive=True,
        health_check_interval=HEALTH_CHECK_INTERVAL_S,
        retry=retry,
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def redact_url(url: str) -> str:
    """The URL with any password replaced by ****, fit for messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable Redis URL>"
    netloc = parts.netloc
    if parts.password is not None:
        host_port = f"[{host}]" if ":" in host else host
        if port is not None:
            host_port += f":{port}"
        netloc = f"{parts.username or ''}:****@{host_port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(key, "****" if key.lower() == "password" else value) for key, value in pairs],
            safe="*",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
