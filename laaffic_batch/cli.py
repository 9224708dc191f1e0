"""The `laaffic-batch` command line.

Commands import what they need when they run, so `--help` and a dry run start fast.
Errors the user can cause end in one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.errors import LaafficError, one_line

PROG = "laaffic-batch"
EXIT_OK = 0  # --wait exit codes (3 failed, 4 timeout) live in laaffic_batch/follow.py


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def cmd_submit(args: argparse.Namespace) -> int:
    from ingest.digest import start_digest

    start_digest(args.file)  # on the idle core while the heavy imports below load
    from ingest.config import load_config
    from laaffic_batch.progress import progress_display

    config = load_config(args.config)
    path = Path(args.file)
    sheet = _sheet(args.sheet)
    if args.dry_run:
        from ingest.plan import plan_file
        from worker.paths import data_dir

        with progress_display() as display:
            plan = plan_file(path, config, data_dir=data_dir(), run_id=args.run_id or "",
                             sheet=sheet, on_progress=display.stage(f"reading {path.name}"))
        if args.json:
            _print_json(plan.to_json())
        else:
            from laaffic_batch.render import render_plan

            print(render_plan(plan))
        return EXIT_OK
    from laaffic_batch.follow import follow_campaign
    from worker.submission import submit_file

    with progress_display() as display:
        plan, outcome = submit_file(
            path, config, run_id=args.run_id or "", sheet=sheet, at=args.at,
            on_progress=display.stage(f"reading {path.name}"),
            on_store_progress=display.stage("storing chunks", unit="chunks"))
    print(outcome.message, file=sys.stderr)
    return follow_campaign(plan.campaign, wait=args.wait, timeout=args.timeout,
                           as_json=args.json)


def _sheet(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def cmd_status(args: argparse.Namespace) -> int:
    from laaffic_batch.follow import follow_campaign

    return follow_campaign(args.campaign, wait=False, timeout=None, as_json=args.json)


def cmd_retry(args: argparse.Namespace) -> int:
    from worker.submission import retry_failed

    reset = retry_failed(args.campaign)
    print(f"{args.campaign}: re-driving {len(reset)} failed chunk(s)"
          + (f": {', '.join(str(i) for i in reset)}" if reset else ""), file=sys.stderr)
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from worker.watch import run_watch

    return run_watch(Path(args.inbox), Path(args.config), marker=args.marker,
                     interval=args.interval, once=args.once)


def cmd_intake(args: argparse.Namespace) -> int:
    from worker.jobs import run_intake

    return run_intake(stream=args.stream, group=args.group, consumer=args.consumer,
                      once=args.once)


def cmd_report(args: argparse.Namespace) -> int:
    from worker.reports import write_report

    path = write_report(args.campaign, Path(args.out) if args.out else None)
    print(f"{args.campaign}: report written to {path}", file=sys.stderr)
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    from worker.provider_progress import campaign_progress, render_progress

    progress = campaign_progress(args.campaign)
    if args.json:
        _print_json(progress)
    else:
        print(render_progress(progress))
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    from worker.run import run_workers

    return run_workers(processes=args.processes, threads=args.threads)


def cmd_sandbox(args: argparse.Namespace) -> int:
    # The sandbox parses its own flags here, so building the main parser (--help) never
    # imports the sandbox module.
    from laaffic_batch.sandbox import add_arguments, run

    parser = argparse.ArgumentParser(prog=f"{PROG} sandbox",
                                     description="A local simulated LAAFFIC API.")
    add_arguments(parser)
    return run(parser.parse_args(args.sandbox_args))


def cmd_demo(args: argparse.Namespace) -> int:
    from laaffic_batch.demo import run_demo

    return run_demo(rows=args.rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Get very large contact lists called by LAAFFIC AI voice agents.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = sub.add_parser("submit", help="plan a contact file and submit it in chunks")
    submit.add_argument("file", help=".csv/.tsv/.txt(.gz), .xlsx, .parquet or .jsonl")
    submit.add_argument("--config", required=True, help="campaign config (TOML)")
    submit.add_argument("--dry-run", action="store_true", help="plan and print; send nothing")
    submit.add_argument("--wait", action="store_true",
                        help="return when every chunk is submitted or failed")
    submit.add_argument("--timeout", type=float, default=None, help="seconds --wait may take")
    submit.add_argument("--run-id", default=None, help="make a deliberate new run of the same file")
    submit.add_argument("--sheet", default=None, help="xlsx sheet name or 0-based index")
    submit.add_argument("--at", default=None,
                        help="start submitting at this ISO time, e.g. 2026-11-24T01:30:00+01:00")
    submit.add_argument("--json", action="store_true", help="print the contract's JSON")
    submit.set_defaults(handler=cmd_submit)

    status = sub.add_parser("status", help="a campaign's chunks, task names and keyIds")
    status.add_argument("campaign")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_status)

    retry = sub.add_parser("retry", help="re-drive a campaign's failed chunks")
    retry.add_argument("campaign")
    retry.set_defaults(handler=cmd_retry)

    worker = sub.add_parser("worker", help="run Dramatiq workers until SIGTERM/SIGINT")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(handler=cmd_worker)

    watch = sub.add_parser("watch", help="submit contact files dropped into a folder")
    watch.add_argument("inbox", help="the folder to watch")
    watch.add_argument("--config", required=True, help="campaign config (TOML) for its files")
    watch.add_argument("--marker", action="store_true",
                       help="take NAME only once NAME.ready exists")
    watch.add_argument("--interval", type=float, default=2.0,
                       help="seconds between scans (and the size-stability check)")
    watch.add_argument("--once", action="store_true", help="one scan, then exit")
    watch.set_defaults(handler=cmd_watch)

    intake = sub.add_parser("intake", help="consume jobs pushed to the Redis stream")
    intake.add_argument("--stream", default="laaffic:jobs")
    intake.add_argument("--group", default="laaffic-batch")
    intake.add_argument("--consumer", default=None, help="consumer name (default host-pid)")
    intake.add_argument("--once", action="store_true", help="drain what is there, then exit")
    intake.set_defaults(handler=cmd_intake)

    report = sub.add_parser("report", help="write a campaign's report (JSON and CSV)")
    report.add_argument("campaign")
    report.add_argument("--out", default=None, help="report.json path (CSV beside it)")
    report.set_defaults(handler=cmd_report)

    progress = sub.add_parser("progress", help="ask the provider how each task is doing")
    progress.add_argument("campaign")
    progress.add_argument("--json", action="store_true")
    progress.set_defaults(handler=cmd_progress)

    # Listed for --help only: main() hands `sandbox ...` to cmd_sandbox before parsing.
    sub.add_parser("sandbox", help="a local simulated LAAFFIC API (see sandbox --help)",
                   add_help=False)

    demo = sub.add_parser("demo", help="the whole job end to end on embedded defaults")
    demo.add_argument("--rows", type=int, default=300_000)
    demo.set_defaults(handler=cmd_demo)
    return parser


def _one_line(exc: BaseException) -> str:
    return one_line(exc) or type(exc).__name__


def configure_process() -> None:
    """Settings that must be made before numpy and pyarrow load (workers inherit them)."""
    # - numpy's OpenBLAS would start a thread per core that spins for a while: CPU taken
    #   from planning, for linear algebra nothing here does.
    # - Arrow's default allocator (mimalloc) hands freed pages back within milliseconds,
    #   and its I/O buffers take the pool chosen at start-up, so each block read would
    #   fault in fresh memory; glibc's malloc keeps them (see ingest/memory.py).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


def main(argv: Sequence[str] | None = None) -> int:
    configure_process()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"]:
        # argparse's REMAINDER would not pass on leading options: hand them over as they are.
        args = argparse.Namespace(handler=cmd_sandbox, sandbox_args=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except LaafficError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not type(exc).__module__.startswith("redis"):
            raise  # a bug: keep the traceback
        print(f"{PROG}: error: {_redis_in_use()} failed: {_one_line(exc)}; check REDIS_URL "
              "(host, password, TLS) and that the server is running", file=sys.stderr)
        return 2


def _redis_in_use() -> str:
    """Names the Redis a command used, for its error line, without starting one
    (resolve_redis_url() would start the embedded Redis when REDIS_URL is unset)."""
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        from worker.connection import redact_url

        return f"Redis at {redact_url(configured)}"
    from worker.paths import data_dir

    return f"the embedded Redis in {data_dir()}"


if __name__ == "__main__":
    sys.exit(main())
