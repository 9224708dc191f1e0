"""docker-compose.yml must be valid: `docker compose config -q` where Docker Compose is
installed, and everywhere a structural check that every service runs a real command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from laaffic_batch.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_services_are_complete_and_commands_exist() -> None:
    services = _compose()["services"]
    assert {"redis", "worker", "sandbox"} <= set(services)
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd  # the guarantees need a persistent queue/ledger
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)
    for name, service in services.items():
        if name == "redis":
            continue
        assert "build" in service or "image" in service, name
        assert service["command"][0] in subcommands, f"{name}: unknown command"
        env = service.get("environment", {})
        if name != "sandbox":
            assert env.get("REDIS_URL", "").startswith("redis://redis:"), name
            assert "redis" in service.get("depends_on", []), name
    assert services["sandbox"].get("profiles") == ["sandbox"]
    # the worker scales: no fixed container name or host port to collide on
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert (ROOT / "Dockerfile").exists()


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not here")
def test_docker_compose_config_accepts_it() -> None:
    env = {"LAAFFIC_API_KEY": "k", "LAAFFIC_API_SECRET": "s", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
