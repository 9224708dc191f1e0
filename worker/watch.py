"""`laaffic-batch watch INBOX --config CFG [--marker]`: submit contact files dropped into a folder.

A file's way through the inbox:
  INBOX/NAME  --(complete)-->  INBOX/processing/NAME  -->  INBOX/done/NAME
                                                      \\->  INBOX/failed/NAME
- Complete means: size and mtime unchanged since the previous scan (at least one interval
  earlier) and not empty, or, with --marker, `NAME.ready` exists (the marker is removed once
  the file is claimed). Temp and side names are never taken (see `is_contact_file`).
- Claiming is an atomic rename into processing/; a watcher that loses the race gets
  FileNotFoundError and moves on. Whoever works on a file in processing/ holds an flock on
  it, so a watcher resuming processing/ never works on a file another live watcher holds.
- Sidecar config: `NAME.toml` (contacts.csv -> contacts.csv.toml) or, also accepted, the
  name without its data suffixes plus .toml (contacts.csv / contacts.csv.gz ->
  contacts.toml); both present is an error. Its tables are deep-merged over the main config
  (relative paths resolve against the main config's folder). Upload it before the data file
  (or use --marker); it travels with the file as NAME.toml.
- done/ gets NAME, NAME.result.json (the contract's JSON, rewritten once every chunk is
  terminal) and NAME.rejects.csv; failed/ gets NAME and NAME.error.txt (one line). A name
  already taken there gets a time-stamp prefix, so nothing is overwritten.
- Files are planned with run id "" (as `submit` without --run-id): the same file with the
  same config dropped again is the same campaign, and nothing is called twice.
- Errors that are not the input's fault (Redis down, disk full) leave the file in
  processing/; it is retried every interval and after a restart."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson

from ingest.config import CampaignConfig, config_from_mapping, read_toml
from ingest.errors import ConfigError, LaafficError, one_line
from laaffic_batch.logs import get_logger
from worker.connection import redis_client
from worker.ledger import TERMINAL_STATES, Ledger
from worker.paths import replace_json_file
from worker.shutdown import stop_on_signals
from worker.submission import SubmitOutcome, submit_file

PROCESSING, DONE, FAILED = "processing", "done", "failed"
MARKER_SUFFIX = ".ready"
SIDECAR_SUFFIX = ".toml"
RESULT_SUFFIX = ".result.json"
ERROR_SUFFIX = ".error.txt"
REJECTS_SUFFIX = ".rejects.csv"
# Names browsers, editors and upload tools give files that are not finished (or not data).
IGNORED_ENDINGS = (".part", ".tmp", ".crdownload", ".filepart", ".partial", ".download",
                   ".swp", MARKER_SUFFIX, SIDECAR_SUFFIX, RESULT_SUFFIX, ERROR_SUFFIX)
DATA_SUFFIX_BEFORE_GZ = ".gz"

Signature = tuple[int, int]  # (size, mtime_ns)


def is_contact_file(name: str) -> bool:
    """False for dotfiles, Office lock files (~$...) and temp, marker, sidecar and result
    names: those are never taken as contact lists."""
    if name.startswith((".", "~$")):
        return False
    return not name.lower().endswith(IGNORED_ENDINGS)


def sidecar_names(name: str) -> list[str]:
    """Sidecar names for a data file, preferred first: NAME.toml, then the name without its
    data suffix(es) plus .toml (contacts.csv.gz -> contacts.toml)."""
    names = [name + SIDECAR_SUFFIX]
    base = name[: -len(DATA_SUFFIX_BEFORE_GZ)] if name.lower().endswith(".gz") else name
    base = base.rsplit(".", 1)[0] if "." in base else ""
    if base and not base.startswith("."):
        names.append(base + SIDECAR_SUFFIX)
    return names


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """override's tables merged key by key into base's; any other value replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """True while this process holds the only flock on the file still at `path`; False when
    it is gone or another watcher holds it. The lock dies with its process."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, IsADirectoryError):
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = False
        else:
            try:  # it may have been finished and moved away between open and flock
                held = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                held = False
        yield held
    finally:
        os.close(fd)



def _free_name(folder: Path, name: str) -> str:
    """name, or a time-stamped variant when folder already has a file of that name."""
    if not (folder / name).exists():
        return name
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    for attempt in range(1, 1000):
        candidate = f"{stamp}-{name}" if attempt == 1 else f"{stamp}-{attempt}-{name}"
        if not (folder / candidate).exists():
            return candidate
    raise FileExistsError(errno.EEXIST, "no free name", str(folder / name))


class Watcher:
    def __init__(self, inbox: Path, config_path: Path, *, marker: bool, interval: float,
                 stop: threading.Event, log: Any) -> None:
        if not inbox.is_dir():
            raise ConfigError(f"{inbox}: the inbox folder does not exist; create it first")
        self.inbox = inbox
        self.processing, self.done, self.failed = (inbox / PROCESSING, inbox / DONE,
                                                   inbox / FAILED)
        for folder in (self.processing, self.done, self.failed):
            folder.mkdir(exist_ok=True)
        self.config_path = config_path
        self.config_dir = config_path.expanduser().resolve().parent
        self.config_raw = read_toml(config_path)
        # A bad main config stops us before any file.
        self.config = config_from_mapping(self.config_raw, str(config_path),
                                          base_dir=self.config_dir)
        self.marker = marker
        self.interval = interval
        self.stop = stop
        self.log = log
        self.ledger = Ledger(redis_client())
        self.following: dict[str, Path] = {}  # campaign -> its result.json
        self.left_for_retry = 0

    # -- the loop ------------------------------------------------------------------------

    def run(self, once: bool) -> int:
        self.log.info("watch.started", inbox=str(self.inbox), marker=self.marker,
                      interval=self.interval)
        if not once:
            self._follow_unfinished_results()
        previous: dict[str, Signature] = {}
        first = True
        while True:
            self.left_for_retry = 0
            self._resume_processing()
            current = self._snapshot()
            for name in self._ready(previous, current):
                if self.stop.is_set():
                    break
                claimed = self._claim(name)
                if claimed is not None:
                    self._handle(claimed)
            previous = current
            # stability needs two looks one interval apart, even for a single --once scan
            if once and (self.marker or not first):
                break
            first = False
            self._follow()
            if self.stop.wait(self.interval):
                break
        self.log.info("watch.stopped", inbox=str(self.inbox))
        return 1 if once and self.left_for_retry else 0

    def _snapshot(self) -> dict[str, Signature]:
        found: dict[str, Signature] = {}
        try:
            with os.scandir(self.inbox) as entries:
                for entry in entries:
                    if not is_contact_file(entry.name):
                        continue
                    try:
                        if entry.is_file():
                            stat = entry.stat()
                            found[entry.name] = (stat.st_size, stat.st_mtime_ns)
                    except FileNotFoundError:
                        continue  # taken by another watcher meanwhile
        except OSError as exc:
            self.log.error("watch.scan_failed", inbox=str(self.inbox), error=one_line(exc))
        return found

    def _ready(self, previous: dict[str, Signature], current: dict[str, Signature]) -> list[str]:
        if self.marker:
            return sorted(name for name in current
                          if (self.inbox / (name + MARKER_SUFFIX)).exists())
        # An empty file is an upload that has not started writing yet.
        return sorted(name for name, signature in current.items()
                      if signature[0] > 0 and previous.get(name) == signature)

    def _claim(self, name: str) -> Path | None:
        target = self.processing / name
        if target.exists():
            return None  # a file of that name is still being worked on: take it afterwards
        try:
            os.rename(self.inbox / name, target)
        except FileNotFoundError:
            return None  # another watcher took it
        except OSError as exc:  # e.g. no write permission: the file stays where it is
            self.log.warning("watch.claim_failed", file=name, error=one_line(exc))
            return None
        if self.marker:
            (self.inbox / (name + MARKER_SUFFIX)).unlink(missing_ok=True)
        return target

    def _resume_processing(self) -> None:
        """Files a crashed watcher (or a transient error) left in processing/."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.processing)
                           if is_contact_file(entry.name) and entry.is_file())
        except OSError as exc:
            self.log.error("watch.scan_failed", inbox=str(self.processing),
                           error=one_line(exc))
            return
        for name in names:
            if self.stop.is_set():
                return
            self._handle(self.processing / name)

    # -- one file ------------------------------------------------------------------------

    def _handle(self, path: Path) -> None:
        try:
            with exclusive(path) as mine:
                if not mine:
                    return
                try:
                    config = self._config_for(self._adopt_sidecar(path.name))
                    plan, outcome = submit_file(path, config, run_id="")
                except LaafficError as exc:
                    self._fail(path, one_line(exc))
                    return
                self._succeed(path, outcome, plan.rejects_file)
        except Exception as exc:  # not the input's fault: keep it and retry
            self.left_for_retry += 1
            self.log.warning("watch.retry", file=path.name,
                             error=f"{type(exc).__name__}: {one_line(exc)}")

    def _adopt_sidecar(self, name: str) -> Path | None:
        """The file's sidecar, moved into processing/ as NAME.toml (idempotent, so a
        resumed file finds it there)."""
        adopted = self.processing / (name + SIDECAR_SUFFIX)
        if adopted.exists():
            return adopted
        present = [self.inbox / n for n in sidecar_names(name) if (self.inbox / n).is_file()]
        if len(present) > 1:
            raise ConfigError(f"{name}: both {present[0].name} and {present[1].name} are "
                              "next to it; keep one sidecar config")
        if not present:
            return None
        try:
            os.rename(present[0], adopted)
        except FileNotFoundError:
            return None
        return adopted

    def _config_for(self, sidecar: Path | None) -> CampaignConfig:
        if sidecar is None:
            return self.config
        merged = deep_merge(self.config_raw, read_toml(sidecar))
        source = f"{sidecar.name} (over {self.config_path.name})"
        return config_from_mapping(merged, source, base_dir=self.config_dir)

    def _succeed(self, path: Path, outcome: SubmitOutcome, rejects: Path) -> None:
        view = self.ledger.view(outcome.campaign)
        if view is None:
            raise RuntimeError(f"campaign {outcome.campaign} is not in the ledger")
        name = _free_name(self.done, path.name)
        result = self.done / (name + RESULT_SUFFIX)
        replace_json_file(result, view)
        if rejects.is_file():
            shutil.copyfile(rejects, self.done / (name + REJECTS_SUFFIX))
        self._move_sidecar(path.name, self.done / (name + SIDECAR_SUFFIX))
        os.rename(path, self.done / name)  # last: until here a restart redoes the file
        self.log.info("watch.submitted", file=path.name, campaign=outcome.campaign,
                      created=outcome.created, rows=view["rows"], accepted=view["accepted"],
                      rejected=view["rejected"], duplicates=view["duplicates"],
                      chunks=len(view["chunks"]))
        if not all(chunk["state"] in TERMINAL_STATES for chunk in view["chunks"]):
            self.following[outcome.campaign] = result

    def _fail(self, path: Path, reason: str) -> None:
        name = _free_name(self.failed, path.name)
        (self.failed / (name + ERROR_SUFFIX)).write_text(reason + "\n", encoding="utf-8")
        self._move_sidecar(path.name, self.failed / (name + SIDECAR_SUFFIX))
        os.rename(path, self.failed / name)
        self.log.warning("watch.failed", file=path.name, reason=reason)

    def _move_sidecar(self, name: str, target: Path) -> None:
        with suppress(FileNotFoundError):
            os.rename(self.processing / (name + SIDECAR_SUFFIX), target)

    # -- campaigns in flight -------------------------------------------------------------

    def _follow_unfinished_results(self) -> None:
        """After a restart: results in done/ whose chunks were not all terminal yet."""
        for result in self.done.glob("*" + RESULT_SUFFIX):
            try:
                view = orjson.loads(result.read_bytes())
                if not all(c["state"] in TERMINAL_STATES for c in view["chunks"]):
                    self.following[view["campaign"]] = result
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not one of ours, or edited by hand

    def _follow(self) -> None:
        """Rewrite NAME.result.json once its campaign is complete, with the final states."""
        for campaign, result in list(self.following.items()):
            try:
                outstanding = self.ledger.outstanding(campaign)  # one HMGET per scan
                if outstanding is None:
                    del self.following[campaign]  # gone from the ledger: nothing will change
                    continue
                if outstanding:
                    continue
                view = self.ledger.view(campaign)
                if view is not None and result.exists():
                    replace_json_file(result, view)
                del self.following[campaign]
            except Exception as exc:  # Redis hiccup: try on the next scan
                self.log.warning("watch.follow_retry", campaign=campaign,
                                 error=f"{type(exc).__name__}: {one_line(exc)}")
                continue
            if view is not None:
                chunks = view["chunks"]
                self.log.info("watch.completed", file=result.name.removesuffix(RESULT_SUFFIX),
                              campaign=campaign,
                              submitted=sum(c["state"] == "submitted" for c in chunks),
                              failed=sum(c["state"] == "failed" for c in chunks))


def run_watch(inbox: Path, config_path: Path, *, marker: bool, interval: float,
              once: bool) -> int:
    """Watch `inbox` until SIGTERM/SIGINT (or one scan with once); 0 when stopped cleanly,
    1 when --once left a file in processing/ for a later retry."""
    if interval <= 0:
        raise ConfigError(f"--interval {interval:g} must be a positive number of seconds")
    with stop_on_signals() as stop:
        watcher = Watcher(inbox, config_path, marker=marker, interval=interval, stop=stop,
                          log=get_logger())
        return watcher.run(once)
