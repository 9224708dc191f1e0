"""The layering the design promises: ingest is pure data work, production code never
imports the sandbox, and `laaffic-batch --help` stays light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    return set(out.stdout.split())


def test_ingest_imports_no_redis_dramatiq_or_http() -> None:
    modules = [p.stem for p in (ROOT / "ingest").glob("*.py") if p.stem != "__init__"]
    loaded = _modules_after("\n".join(f"import ingest.{m}" for m in modules))
    assert not {"redis", "dramatiq", "requests", "urllib3", "http.client"} & loaded
    assert not any(m.startswith(("worker", "laaffic_batch")) for m in loaded)


def test_production_code_never_imports_the_sandbox() -> None:
    modules = [f"worker.{p.stem}" for p in (ROOT / "worker").glob("*.py")
               if p.stem != "__init__"]
    # worker.actors builds its broker on import: with REDIS_URL set (to a port nothing
    # listens on; nothing connects at import) no embedded Redis is started for it.
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:1"}
    loaded = _modules_after("\n".join(f"import {m}" for m in modules)
                            + "\nimport laaffic_batch.cli", env=env)
    assert {"worker.actors", "worker.webhook", "worker.run"} <= loaded
    assert "laaffic_batch.sandbox" not in loaded


def test_help_imports_nothing_heavy() -> None:
    loaded = _modules_after("import laaffic_batch.cli as c\nc.build_parser()")
    assert not {"pandas", "pyarrow", "dramatiq", "redis", "phonenumbers"} & loaded


def test_chunk_json_is_built_without_pandas() -> None:
    # pyarrow imports pandas to inspect a plain Python value it is handed (0.2 s, 30 MB
    # on every submit); the entries JSON is built from Arrow values only.
    loaded = _modules_after(
        "import pyarrow as pa\n"
        "from ingest.numbers import arrow_strings\n"
        "from ingest.entries import entries_json\n"
        "texts = [arrow_strings(['46701234567', '46701234568']),"
        " arrow_strings(['Anna \"A\"', None])]\n"
        "body = entries_json(pa.Table.from_arrays(texts, names=['calleeNumber', 'text1']))\n"
        "assert body.startswith(b'[{\"calleeNumber\":\"46701234567\",\"text1\":\"Anna')")
    assert "pandas" not in loaded
