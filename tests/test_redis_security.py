"""REDIS_URL with a password and with TLS (rediss://): the whole pipeline works through
it, and the password never appears in any output."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pipeline_support import (
    pipeline_env,
    run_cli,
    running_worker,
    write_config,
    write_contacts,
)
from redis_support import free_port, redis_server_binary, start_redis_server

from laaffic_batch.sandbox import SandboxServer

PASSWORD = "s3cret-redis-pass-91"


def _run_campaign(tmp_path: Path, url: str, sandbox: SandboxServer) -> str:
    env = pipeline_env(url, sandbox, tmp_path / "data")
    contacts = write_contacts(tmp_path / "in.csv", 30)
    config = write_config(tmp_path / "c.toml", chunk_size=10)
    with running_worker(env, tmp_path / "worker.log"):
        result = run_cli(["submit", str(contacts), "--config", str(config), "--wait",
                          "--timeout", "60", "--json"], env)
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert all(c["state"] == "submitted" for c in view["chunks"])
    return result.stdout + result.stderr + (tmp_path / "worker.log").read_text()


def test_password_protected_redis(tmp_path: Path, sandbox: SandboxServer) -> None:
    port = free_port()
    server = start_redis_server(tmp_path, port, password=PASSWORD)
    try:
        output = _run_campaign(tmp_path, f"redis://:{PASSWORD}@127.0.0.1:{port}/0", sandbox)
        assert PASSWORD not in output
        wrong = pipeline_env(f"redis://:wrong-{PASSWORD}@127.0.0.1:{port}/0", sandbox,
                             tmp_path / "data")
        refused = run_cli(["status", "anything-12345678"], wrong)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        assert PASSWORD not in refused.stderr and "REDIS_URL" in refused.stderr
    finally:
        server.terminate()
        server.wait(10)


def _make_certs(directory: Path) -> tuple[Path, Path, Path]:
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "redis.key", directory / "redis.csr", directory / "redis.crt"
    run = lambda *args: subprocess.run(["openssl", *args], check=True,  # noqa: E731
                                       capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=laaffic-test-ca", "-keyout", str(ca_key), "-out", str(ca_crt))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
        "-out", str(csr))
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(crt))
    return ca_crt, crt, key


def test_tls_redis(tmp_path: Path, sandbox: SandboxServer) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ca, crt, key = _make_certs(tmp_path)
    port = free_port()
    try:
        server = subprocess.Popen(
            [redis_server_binary(), "--port", "0", "--tls-port", str(port), "--bind",
             "127.0.0.1", "--tls-cert-file", str(crt), "--tls-key-file", str(key),
             "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--requirepass",
             PASSWORD, "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except OSError as exc:
        pytest.skip(f"redis-server cannot start: {exc}")
    url = (f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_cert_reqs=required"
           f"&ssl_ca_certs={ca}")
    import time

    import redis

    deadline = time.monotonic() + 10
    while True:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            pytest.skip(f"this redis-server has no TLS support: {output[-200:]}")
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            break
        except redis.RedisError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)
    try:
        output = _run_campaign(tmp_path, url, sandbox)
        assert PASSWORD not in output
    finally:
        server.terminate()
        server.wait(10)
