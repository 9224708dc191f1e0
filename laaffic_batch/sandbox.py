"""A local HTTP server that speaks the LAAFFIC group-call API, for tests, the demo and dry
runs against something real. It signs nothing but checks everything the provider checks that
matters here (key, Sign, Timestamp, body rules, unique task names, the concurrency limit) and
can misbehave on request (Faults) so retries and reconciliation get exercised.

API:    POST /v3/voice/group/call/send/agent, POST /v3/voice/group/call/query,
        GET /v3/voice/group/call/detail/{id}
Admin (no auth, loopback clients only): GET /_sandbox/tasks[?numbers=0], GET /_sandbox/stats,
        POST /_sandbox/faults (JSON: Faults fields, replaces them), POST /_sandbox/reset
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import math
import os
import random
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from ingest.errors import LaafficError
from laaffic_batch.redact import mask_numbers_in
from worker.errors import STATUS_REASONS
from worker.signing import sign

log = logging.getLogger("laaffic_batch.sandbox")

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_API_SECRET = "sandbox-secret"
DEFAULT_PORT = 8787
SEND_PATH = "/v3/voice/group/call/send/agent"
QUERY_PATH = "/v3/voice/group/call/query"
DETAIL_PREFIX = "/v3/voice/group/call/detail/"
TIMESTAMP_TOLERANCE = 300  # seconds either side, as the provider allows
API_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
FIRST_JOB_ID = 5_000_001
MAX_PAGE_SIZE = 100
TASK_CALLING, TASK_COMPLETED = 1, 2


@dataclass
class Faults:
    fail_rate: float = 0.0  # sends answered with a transient failure, NOT recorded
    lose_rate: float = 0.0  # sends recorded whose answer is lost (dropped connection or 504)
    latency: float = 0.0  # seconds added before answering a send
    max_concurrent: int | None = None  # more running tasks than this -> -37
    task_duration: float = 5.0  # seconds a task counts as running (and takes to complete)
    permanent_agents: dict[int, str] = field(default_factory=dict)  # agentId -> status to answer
    seed: int | None = None  # RNG seed for reproducible fault patterns

    def __post_init__(self) -> None:
        for name in ("fail_rate", "lose_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency < 0 or self.task_duration < 0:
            raise ValueError("latency and task_duration must not be negative")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1 (or null for no limit)")
        self.permanent_agents = {int(agent): str(status)
                                 for agent, status in self.permanent_agents.items()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Faults:
        """From JSON (POST /_sandbox/faults): unknown keys are errors, agent ids may be text."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known))}")
        return cls(**raw)


@dataclass
class _Task:
    job_id: int
    task_name: str
    numbers: list[str]
    created_at: float  # Unix seconds
    timestamp: str  # the Timestamp header of the send that created it
    app_id: Any
    agent_id: int
    display_num: Any
    send_time: Any

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_at).replace(microsecond=0)

    def running(self, now: float, duration: float) -> bool:
        return now - self.created_at < duration

    def record(self, now: float, duration: float) -> dict[str, Any]:
        """The query endpoint's view: progress grows linearly over `duration` seconds."""
        count = len(self.numbers)
        progress = 1.0 if duration <= 0 else min(1.0, max(0.0, now - self.created_at) / duration)
        called = count if progress >= 1.0 else int(count * progress)
        # A per-task success share (55..84 %), stable so repeated queries agree.
        success = int(called * (0.55 + (self.job_id * 7919 % 30) / 100))
        return {
            "jobId": self.job_id,
            "taskName": self.task_name,
            "status": TASK_COMPLETED if progress >= 1.0 else TASK_CALLING,
            "numCnt": count,
            "callNum": called,
            "success": success,
            "fail": called - success,
            "rate": f"{progress * 100:.2f}",
            "createdTime": self.created.strftime(API_TIME_FORMAT),
        }

    def detail(self, now: float, duration: float) -> dict[str, Any]:
        record = self.record(now, duration)
        finished = record["status"] == TASK_COMPLETED
        finish_time = datetime.fromtimestamp(self.created_at + duration).replace(microsecond=0)
        return {
            **record,
            "appId": self.app_id,
            "agentId": self.agent_id,
            "displayNum": self.display_num,
            "sendTime": self.send_time,
            "callTotal": record["callNum"],
            "successRate": f"{100 * record['success'] / record['callNum']:.2f}"
                           if record["callNum"] else "0.00",
            "finishTime": finish_time.strftime(API_TIME_FORMAT) if finished else None,
        }

    def admin_view(self, with_numbers: bool) -> dict[str, Any]:
        view: dict[str, Any] = {
            "jobId": self.job_id, "taskName": self.task_name, "count": len(self.numbers),
            "createdTime": self.created.strftime(API_TIME_FORMAT), "timestamp": self.timestamp,
            "appId": self.app_id, "agentId": self.agent_id,
        }
        if with_numbers:
            view["numbers"] = list(self.numbers)
        return view


class _State:
    """Everything the handler threads share; every mutation holds `lock`."""

    def __init__(self, api_key: str, api_secret: str, faults: Faults) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.lock = threading.Lock()
        self.faults = faults
        self.reset()

    def reset(self) -> None:
        """Forget every task and counter and restart the RNG; the faults stay."""
        with self.lock:
            self.rng = random.Random(self.faults.seed)
            self.tasks: list[_Task] = []
            self.by_name: dict[str, _Task] = {}
            self.by_id: dict[int, _Task] = {}
            self.next_job_id = FIRST_JOB_ID
            self.counts: Counter[str] = Counter()

    def set_faults(self, faults: Faults) -> None:
        with self.lock:
            self.faults = faults
            if faults.seed is not None:
                self.rng = random.Random(faults.seed)

    def roll(self, rate: float) -> bool:
        with self.lock:
            return rate > 0 and self.rng.random() < rate

    def pick(self, options: list[str]) -> str:
        with self.lock:
            return self.rng.choice(options)

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def admin_views(self, with_numbers: bool) -> list[dict[str, Any]]:
        """Recorded tasks, oldest first (GET /_sandbox/tasks and SandboxServer.tasks())."""
        with self.lock:
            tasks = list(self.tasks)
        return [task.admin_view(with_numbers) for task in tasks]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            numbers = sum(len(task.numbers) for task in self.tasks)
            distinct = len({n for task in self.tasks for n in task.numbers})
            faults = {kind.removeprefix("fault:"): n for kind, n in self.counts.items()
                      if kind.startswith("fault:")}
            return {
                "tasks": len(self.tasks),
                "numbers": numbers,
                "distinct_numbers": distinct,
                "connections": self.counts["connections"],
                "sends": self.counts["sends"],
                "queries": self.counts["queries"],
                "details": self.counts["details"],
                "faults_served": sum(faults.values()),
                "faults": faults,
            }


@dataclass
class _Answer:
    http_status: int
    payload: Any = None  # JSON-able, or str for a plain-text body (proxy-style errors)
    drop: bool = False  # close the connection without answering
    note: str = ""  # for the log line; never phone numbers


def _api_answer(status: str, reason: str | None = None, data: Any = None) -> _Answer:
    """The send endpoint's envelope: {"status": "...", "reason": "...", "data": ...}."""
    payload: dict[str, Any] = {"status": status, "reason": reason or STATUS_REASONS[status]}
    if data is not None:
        payload["data"] = data
    return _Answer(200, payload, note=f"status={status}")


def _code_answer(code: str, msg: str | None = None, data: Any = None) -> _Answer:
    """The query/detail endpoints' envelope: {"code": 0, "msg": "...", "data": ...}."""
    payload: dict[str, Any] = {"code": int(code), "msg": msg or STATUS_REASONS[code]}
    if data is not None:
        payload["data"] = data
    return _Answer(200, payload, note=f"code={code}")


def _task_problems(task: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The status and the violations of a send body: a missing required field is a parameter
    exception (-22), as is any bad field other than the numbers, whose problems are bad data
    (-21). The field rules are the config checker's, so both sides agree on them."""
    missing = [f"body.{key} is missing: it is required" for key in ("taskName", "numberInfoList")
               if task.get(key) is None]
    if missing:
        return "-22", missing
    # Imported here: the sandbox must start even while the config module is being worked on.
    from ingest.config import task_errors

    problems = task_errors(task, prefix="body")
    numbers_only = all(p.startswith("body.numberInfoList") for p in problems)
    return ("-21" if numbers_only else "-22"), problems


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # else each keep-alive answer stalls ~40 ms (Nagle + ACK)
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    @property
    def state(self) -> _State:
        return self.server.state

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.monotonic()
        body = self._read_body()
        url = urlsplit(self.path)
        try:
            answer = self._route(url.path, parse_qs(url.query), body)
        except Exception:  # a sandbox bug must not look like a provider answer to the client
            log.exception("sandbox error handling %s %s", self.command, url.path)
            answer = _Answer(500, "sandbox internal error", note="internal error")
        try:
            self._respond(answer)
        except OSError:  # the client went away; nothing to answer
            self.close_connection = True
        log.info("%s %s -> %s %s %.0fms", self.command, url.path,
                 "dropped" if answer.drop else answer.http_status,
                 mask_numbers_in(answer.note), 1000 * (time.monotonic() - started))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self, path: str, query: dict[str, list[str]], body: bytes) -> _Answer:
        method = self.command
        if path.startswith("/_sandbox/"):
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                return _Answer(403, {"error": "admin endpoints answer loopback clients only"})
            return self._admin(method, path, query, body)
        if method == "POST" and path == SEND_PATH:
            return self._send(body)
        if method == "POST" and path == QUERY_PATH:
            return self._query(body)
        if method == "GET" and path.startswith(DETAIL_PREFIX):
            return self._detail(path.removeprefix(DETAIL_PREFIX))
        return _Answer(404, {"error": f"no such endpoint: {method} {path}"}, note="not found")

    def _auth_problem(self) -> str | None:
        """-1 for a wrong key or Sign, -16 for a Timestamp off by more than the tolerance."""
        api_key = self.headers.get("Api-Key", "")
        timestamp = self.headers.get("Timestamp", "")
        given = self.headers.get("Sign", "")
        if api_key != self.state.api_key or not timestamp or not given:
            return "-1"
        if given.lower() != sign(api_key, self.state.api_secret, timestamp):
            return "-1"
        try:
            skew = abs(time.time() - int(timestamp))
        except ValueError:
            return "-16"
        return "-16" if skew > TIMESTAMP_TOLERANCE else None

    def _refused(self, counter: str) -> _Answer | None:
        """Count a query/detail request; the code-envelope refusal if its auth is wrong.
        (Sends check auth after their faults, so _send does not use this.)"""
        self.state.count(counter)
        problem = self._auth_problem()
        return _code_answer(problem) if problem else None

    def _send(self, body: bytes) -> _Answer:
        state = self.state
        state.count("sends")
        faults = state.faults
        if faults.latency:
            time.sleep(faults.latency)
        if state.roll(faults.fail_rate):
            state.count("fault:fail")
            kind = state.pick(["500", "502", "-18"])
            if kind == "-18":
                return _api_answer("-18")
            return _Answer(int(kind), f"simulated HTTP {kind}", note=f"fault fail HTTP {kind}")
        problem = self._auth_problem()
        if problem:
            return _api_answer(problem)
        try:
            task = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _api_answer("-22", "Parameter exception: the body is not JSON")
        if not isinstance(task, dict):
            return _api_answer("-22", "Parameter exception: the body is not a JSON object")
        status, problems = _task_problems(task)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            answer = _api_answer(status, f"{STATUS_REASONS[status]}: {problems[0]}{more}")
            answer.note += f" {problems[0]}{more}"
            return answer
        return self._record(task, faults)

    def _record(self, task: dict[str, Any], faults: Faults) -> _Answer:
        """Unique name, permanent agents, the concurrency limit; then record and answer."""
        state = self.state
        try:
            name = str(task["taskName"])
            agent_id = int(task["agentId"])
            numbers = [str(entry["calleeNumber"]) for entry in task["numberInfoList"]]
        except (KeyError, TypeError, ValueError) as exc:
            return _api_answer("-22", f"Parameter exception: {type(exc).__name__} {exc}")
        now = time.time()
        refusal: str | None = None
        with state.lock:
            if name in state.by_name:
                refusal = "-41"
            elif agent_id in faults.permanent_agents:
                refusal = faults.permanent_agents[agent_id]
            elif faults.max_concurrent is not None and faults.max_concurrent <= sum(
                    t.running(now, faults.task_duration) for t in state.tasks):
                refusal = "-37"
            else:
                job_id = state.next_job_id
                state.next_job_id += 1
                recorded = _Task(job_id, name, numbers, now, self.headers.get("Timestamp", ""),
                                 task.get("appId"), agent_id, task.get("displayNum"),
                                 task.get("sendTime"))
                state.tasks.append(recorded)
                state.by_name[name] = state.by_id[job_id] = recorded
        if refusal is not None:
            if refusal != "-41":
                state.count("fault:busy" if refusal == "-37" else "fault:permanent")
            return _api_answer(refusal, STATUS_REASONS.get(refusal, "simulated failure"))
        note = f"status=0 task={name} jobId={job_id} numbers={len(numbers)}"
        if state.roll(faults.lose_rate):
            state.count("fault:lose")
            if state.pick(["drop", "504"]) == "drop":
                return _Answer(200, drop=True, note=f"{note} fault lose (connection closed)")
            return _Answer(504, "simulated HTTP 504 Gateway Timeout", note=f"{note} fault lose 504")
        answer = _api_answer("0", "success", job_id)
        answer.note = note
        return answer

    def _query(self, body: bytes) -> _Answer:
        refused = self._refused("queries")
        if refused is not None:
            return refused
        state = self.state
        try:
            query = orjson.loads(body)
            current, size = int(query.get("current", 1)), int(query.get("size", 10))
            params = query.get("params") or {}
            start = datetime.strptime(params["strTime"], API_TIME_FORMAT)
            end = datetime.strptime(params["endTime"], API_TIME_FORMAT)
            search = str(params.get("searchCondition") or "").lower()
            statuses = {int(s) for s in params.get("statusList") or []}
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            return _code_answer("-22", f"Parameter exception: {type(exc).__name__} {exc}")
        if current < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return _code_answer("-22", f"Parameter exception: current >= 1 and size "
                                       f"1..{MAX_PAGE_SIZE}, please")
        now, duration = time.time(), state.faults.task_duration
        with state.lock:
            tasks = list(state.tasks)
        matching = [t.record(now, duration) for t in reversed(tasks)  # newest first
                    if search in t.task_name.lower() and start <= t.created <= end]
        matching = [r for r in matching if not statuses or r["status"] in statuses]
        page = matching[(current - 1) * size: current * size]
        answer = _code_answer("0", "success", {
            "records": page, "total": len(matching), "size": size, "current": current,
            "pages": math.ceil(len(matching) / size),
        })
        answer.note += f" total={len(matching)} page={current}"
        return answer

    def _detail(self, raw_id: str) -> _Answer:
        refused = self._refused("details")
        if refused is not None:
            return refused
        state = self.state
        with state.lock:
            task = state.by_id.get(int(raw_id)) if raw_id.isdigit() else None
        if task is None:
            return _code_answer("-24")
        return _code_answer("0", "success", task.detail(time.time(), state.faults.task_duration))

    def _admin(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> _Answer:
        state = self.state
        if method == "GET" and path == "/_sandbox/tasks":
            with_numbers = query.get("numbers", ["1"])[-1] not in ("0", "false", "no")
            return _Answer(200, state.admin_views(with_numbers), note="admin tasks")
        if method == "GET" and path == "/_sandbox/stats":
            return _Answer(200, state.stats(), note="admin stats")
        if method == "POST" and path == "/_sandbox/faults":
            try:
                raw = orjson.loads(body or b"{}")
                if not isinstance(raw, dict):
                    raise ValueError("send a JSON object of fault settings")
                faults = Faults.from_dict(raw)
            except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
                return _Answer(400, {"error": str(exc)}, note="admin faults rejected")
            state.set_faults(faults)
            return _Answer(200, asdict(faults), note="admin faults replaced")
        if method == "POST" and path == "/_sandbox/reset":
            state.reset()
            return _Answer(200, {"reset": True}, note="admin reset")
        return _Answer(404, {"error": f"no such admin endpoint: {method} {path}"})

    def _respond(self, answer: _Answer) -> None:
        if answer.drop:
            self.close_connection = True  # the client sees the connection close, no answer
            return
        if isinstance(answer.payload, str):
            data, content_type = answer.payload.encode(), "text/plain; charset=utf-8"
        else:
            data = orjson.dumps(answer.payload, option=orjson.OPT_NON_STR_KEYS)
            content_type = "application/json;charset=UTF-8"
        self.send_response(answer.http_status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs one line per request, without the body

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s %s", self.address_string(), mask_numbers_in(format % args))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # many worker threads connect at once; 5 would drop SYNs

    def __init__(self, address: tuple[str, int], state: _State) -> None:
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        self.state.count("connections")
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections so stop() leaves no thread waiting on a socket."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SandboxServer:
    """The sandbox in threads of this process: `with SandboxServer() as api: api.url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str = DEFAULT_API_KEY,
                 api_secret: str = DEFAULT_API_SECRET, faults: Faults | None = None) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self._state = _State(api_key, api_secret, faults or Faults())
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._httpd else "not started"
        return f"SandboxServer({where}, api_key={self.api_key!r})"

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def faults(self) -> Faults:
        return self._state.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._state.set_faults(faults)

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        try:
            self._httpd = _HTTPServer((self.host, self.port), self._state)
        except OSError as exc:
            raise LaafficError(f"sandbox cannot listen on {self.host}:{self.port}: "
                               f"{exc.strerror or exc}; choose another --port") from exc
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="laaffic-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def tasks(self) -> list[dict]:
        """Recorded tasks, oldest first: jobId, taskName, count, numbers, createdTime, ..."""
        return self._state.admin_views(with_numbers=True)

    def stats(self) -> dict[str, Any]:
        return self._state.stats()

    def reset(self) -> None:
        """Forget every task and counter; the faults stay."""
        self._state.reset()


def _agent_status(text: str) -> tuple[int, str]:
    agent, sep, status = text.partition("=")
    if not sep or not agent.strip().isdigit() or not status.strip():
        raise argparse.ArgumentTypeError(f"expected AGENT=STATUS such as 41=-60, got {text!r}")
    return int(agent), status.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Faults()  # one place for the fault defaults: the dataclass
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port to listen on (default %(default)s; 0 picks a free one)")
    parser.add_argument("--api-key", default=os.environ.get("LAAFFIC_API_KEY") or DEFAULT_API_KEY,
                        help="Api-Key to accept (default: $LAAFFIC_API_KEY or sandbox-key)")
    parser.add_argument("--api-secret",
                        default=os.environ.get("LAAFFIC_API_SECRET") or DEFAULT_API_SECRET,
                        help="secret to check Sign with (default: $LAAFFIC_API_SECRET or "
                             "sandbox-secret)")
    parser.add_argument("--fail-rate", type=float, default=defaults.fail_rate,
                        help="fraction of sends failing transiently (HTTP 500/502, -18)")
    parser.add_argument("--lose-rate", type=float, default=defaults.lose_rate,
                        help="fraction of sends recorded but answered with nothing or a 504")
    parser.add_argument("--latency", type=float, default=defaults.latency,
                        help="seconds added to each send")
    parser.add_argument("--max-concurrent", type=int, default=defaults.max_concurrent,
                        help="running tasks allowed at once; more are answered -37")
    parser.add_argument("--task-duration", type=float, default=defaults.task_duration,
                        help="seconds a task runs (for progress and --max-concurrent)")
    parser.add_argument("--permanent", type=_agent_status, action="append", default=[],
                        metavar="AGENT=STATUS",
                        help="answer sends for this agentId with this status, e.g. 41=-60")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="RNG seed for the faults")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT."""
    try:
        faults = Faults(fail_rate=args.fail_rate, lose_rate=args.lose_rate, latency=args.latency,
                        max_concurrent=args.max_concurrent, task_duration=args.task_duration,
                        permanent_agents=dict(args.permanent), seed=args.seed)
    except ValueError as exc:
        raise LaafficError(f"sandbox fault option: {exc}") from exc
    if not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s sandbox %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with SandboxServer(args.host, args.port, args.api_key, args.api_secret, faults) as api:
            print(f"LAAFFIC sandbox listening on {api.url} (Api-Key {args.api_key}); "
                  "stop with Ctrl-C", flush=True)
            while not stopping.wait(0.5):
                pass
    finally:
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
    return 0
