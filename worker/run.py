"""`laaffic-batch worker`: Dramatiq's own worker processes on our actors.

Credentials, tuning variables and Redis are checked here first, so a misconfigured worker
stops with one line instead of failing every chunk; the resolved REDIS_URL is passed on so every
Dramatiq process shares the same (possibly embedded) server."""

from __future__ import annotations

import os
import sys

from worker.broker import QUEUE


def run_workers(processes: int, threads: int) -> int:
    from worker.client import Credentials
    from worker.connection import redis_client, resolve_redis_url
    from worker.settings import check_environment

    Credentials.from_env()  # raises CredentialsError with the variable's name
    check_environment()  # a bad tuning variable: ConfigError naming it
    url = resolve_redis_url()
    redis_client(url).ping()  # a Redis error here becomes the CLI's one-line message
    os.environ["REDIS_URL"] = url
    argv = [sys.executable, "-m", "dramatiq", "worker.actors", "--processes", str(processes),
            "--threads", str(threads), "--queues", QUEUE]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached
