"""Planning: a contact file and a config in, an accounted-for plan out.

Every data row ends in exactly one of three places: accepted (an entry in a chunk),
rejected (the rejects file, with a reason) or duplicate (a later row whose valid
number was already accepted; the duplicates file). The checks run in this order, so
a row's reason is the first rule it breaks: number rules, required texts,
do-not-call lists, strict validation, then de-duplication against accepted rows."""

from __future__ import annotations

import hashlib
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.chunks import campaign_id, chunk_sizes, task_names
from ingest.columns import ColumnMap, map_columns
from ingest.config import CampaignConfig
from ingest.dedupe import SeenNumbers
from ingest.entries import entries_schema
from ingest.errors import InputError
from ingest.numbers import REASONS, normalise_numbers
from ingest.readers import ContactTable, open_contacts
from ingest.rejects import DUPLICATES_SCHEMA, REJECTS_SCHEMA, RowLogWriter

TEXT_MAX_CHARS = 30  # the API truncates longer values anyway; we do it visibly
PREVIEW_ENTRIES = 5
DIGEST_VERSION = b"laaffic-batch/plan/1"

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ChunkSpec:
    index: int  # 0-based, as in the contract's JSON
    task_name: str
    count: int
    start: int  # offset of its first entry among the accepted entries


@dataclass
class Plan:
    campaign: str
    digest: str
    source: Path
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    truncated_texts: int
    reject_reasons: dict[str, int]
    chunks: list[ChunkSpec]
    rejects_file: Path
    duplicates_file: Path
    entries_file: Path | None
    columns: ColumnMap
    preview: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The contract's object, with every chunk still `planned`."""
        return {
            "campaign": self.campaign,
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "rejects_file": str(self.rejects_file),
            "chunks": [
                {"index": c.index, "task_name": c.task_name, "count": c.count,
                 "state": "planned", "key_id": None, "attempts": 0, "error": None}
                for c in self.chunks
            ],
        }


class _FileDigest:
    """SHA-256 of the file's bytes, computed on a second thread while the file is parsed
    (hashlib releases the GIL on large buffers, so it costs the parse no time)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._result: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            with path.open("rb") as f:
                self._result = hashlib.file_digest(f, "sha256").hexdigest()
        except OSError as exc:  # surfaced by result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None or self._result is None:
            raise InputError(f"{self._path}: cannot be read: {self._error}")
        return self._result


def _campaign_digest(file_digest: str, config: CampaignConfig, run_id: str,
                     sheet: str | int | None) -> str:
    h = hashlib.sha256(DIGEST_VERSION)
    for part in (file_digest.encode(), config.fingerprint(), run_id.encode(),
                 str(sheet if sheet is not None else "").encode()):
        h.update(b"\0")
        h.update(part)
    return h.hexdigest()


def _reason_texts(codes: pa.Array) -> pa.Array:
    known = list(REASONS)
    texts = pa.array([REASONS[c] for c in known], pa.string())
    return pc.take(texts, pc.index_in(codes, value_set=pa.array(known, pa.string())))


class _Planner:
    def __init__(self, table: ContactTable, columns: ColumnMap, config: CampaignConfig,
                 work_dir: Path, keep_entries: bool) -> None:
        batch = config.batch
        self.table = table
        self.columns = columns
        self.country_code = batch.default_country_code
        self.required = list(batch.required_texts)
        self.text_keys = sorted(columns.texts, key=lambda k: int(k[4:]))
        self.suppressed = self._load_suppression(config)
        self.validator = self._strict_validator(config)
        self.seen = SeenNumbers()
        self.rows = 0
        self.accepted = 0
        self.truncated = 0
        self.reasons: Counter[str] = Counter()
        self.preview: list[dict[str, str]] = []
        self.rejects = RowLogWriter(work_dir / "rejects.csv", REJECTS_SCHEMA)
        self.duplicates = RowLogWriter(work_dir / "duplicates.csv", DUPLICATES_SCHEMA)
        self.entries_schema = entries_schema(self.text_keys)
        self.entries_path = work_dir / "entries.arrow" if keep_entries else None
        self.entries = (pa.ipc.new_file(str(self.entries_path), self.entries_schema)
                        if self.entries_path else None)

    @staticmethod
    def _load_suppression(config: CampaignConfig) -> np.ndarray | None:
        if not config.batch.suppress:
            return None
        from ingest.suppress import load_suppression

        return load_suppression(config.batch.suppress, config.batch.default_country_code)

    @staticmethod
    def _strict_validator(config: CampaignConfig) -> Any:
        if config.batch.validation != "strict":
            return None
        from ingest.strict import StrictValidator  # heavy metadata: only when asked for

        return StrictValidator(mobile_only=config.batch.mobile_only)

    def close(self) -> None:
        self.rejects.close()
        self.duplicates.close()
        if self.entries is not None:
            self.entries.close()

    def add(self, batch: pa.RecordBatch) -> None:
        n = batch.num_rows
        rows = np.arange(self.rows + 1, self.rows + n + 1, dtype=np.int64)
        self.rows += n
        raw = batch.column(self.columns.phone)
        norm = normalise_numbers(raw, self.country_code)
        digits, reason = norm.digits, norm.reason

        texts: dict[str, pa.Array] = {}
        too_long: dict[str, pa.Array] = {}
        for key in self.text_keys:
            value = pc.utf8_trim_whitespace(batch.column(self.columns.texts[key]))
            too_long[key] = pc.greater(pc.utf8_length(value), TEXT_MAX_CHARS)
            texts[key] = pc.utf8_slice_codeunits(value, 0, TEXT_MAX_CHARS)
        for key in self.required:
            missing = pc.and_(pc.is_null(reason), pc.equal(texts[key], ""))
            reason = pc.if_else(missing, pa.scalar("missing_text"), reason)

        if self.suppressed is not None and len(self.suppressed):
            reason = self._mark_suppressed(reason, digits)
        if self.validator is not None:
            valid = pc.is_null(reason)
            verdicts = self.validator.check(pc.filter(digits, valid))
            reason = pc.replace_with_mask(reason, valid, verdicts)

        valid_mask = pc.is_null(reason).to_numpy(zero_copy_only=False)
        valid_idx = np.flatnonzero(valid_mask)
        numbers = pc.cast(pc.filter(digits, valid_mask), pa.int64()).to_numpy()
        is_new, first_row = self.seen.add_batch(numbers, rows[valid_idx])
        accepted_idx = valid_idx[is_new]
        dup_idx = valid_idx[~is_new]

        self._write_rejects(rows, raw, reason, valid_mask)
        if len(dup_idx):
            self.duplicates.write({
                "row": pa.array(rows[dup_idx]),
                "value": pc.take(raw, dup_idx),
                "number": pc.take(digits, dup_idx),
                "first_row": pa.array(first_row[~is_new]),
            })
        self._accept(digits, texts, too_long, accepted_idx)

    def _mark_suppressed(self, reason: pa.Array, digits: pa.Array) -> pa.Array:
        valid = pc.is_null(reason)
        numbers = pc.cast(pc.filter(digits, valid), pa.int64()).to_numpy()
        hits = pa.array(np.isin(numbers, self.suppressed))
        verdicts = pc.if_else(hits, pa.scalar("suppressed"), pa.scalar(None, pa.string()))
        return pc.replace_with_mask(reason, valid, verdicts)

    def _write_rejects(self, rows: np.ndarray, raw: pa.Array, reason: pa.Array,
                       valid_mask: np.ndarray) -> None:
        rejected_idx = np.flatnonzero(~valid_mask)
        if not len(rejected_idx):
            return
        codes = pc.take(reason, rejected_idx)
        values, counts = np.unique(codes.to_numpy(zero_copy_only=False), return_counts=True)
        self.reasons.update({str(v): int(n) for v, n in zip(values, counts, strict=True)})
        self.rejects.write({
            "row": pa.array(rows[rejected_idx]),
            "value": pc.take(raw, rejected_idx),
            "reason_code": codes,
            "reason": _reason_texts(codes),
        })

    def _accept(self, digits: pa.Array, texts: dict[str, pa.Array],
                too_long: dict[str, pa.Array], idx: np.ndarray) -> None:
        if not len(idx):
            return
        self.accepted += len(idx)
        columns: dict[str, pa.Array] = {"calleeNumber": pc.take(digits, idx)}
        for key in self.text_keys:
            value = pc.take(texts[key], idx)
            columns[key] = pc.if_else(pc.equal(value, ""), pa.scalar(None, pa.string()), value)
            self.truncated += pc.sum(pc.take(too_long[key], idx)).as_py() or 0
        entries = pa.RecordBatch.from_pydict(columns, schema=self.entries_schema)
        if self.entries is not None:
            self.entries.write_batch(entries)
        if len(self.preview) < PREVIEW_ENTRIES:
            for entry in entries.slice(0, PREVIEW_ENTRIES - len(self.preview)).to_pylist():
                self.preview.append({k: v for k, v in entry.items() if v})


def plan_file(path: str | Path, config: CampaignConfig, *, data_dir: Path, run_id: str = "",
              sheet: str | int | None = None, keep_entries: bool = False,
              on_progress: ProgressCallback | None = None) -> Plan:
    """Read, normalise, validate and de-duplicate `path`, write the rejects file, and plan
    chunks and names. With keep_entries the accepted entries are kept in an Arrow file
    (Plan.entries_file) for the chunk store; a dry run does without."""
    path = Path(path)
    table = open_contacts(path, sheet=sheet)
    columns = map_columns(table.columns, config.columns, source=str(path),
                          sample=table.sample(), has_header=table.has_header)
    file_digest = _FileDigest(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    work_dir = data_dir / f".plan-{uuid.uuid4().hex[:12]}"
    work_dir.mkdir()
    try:
        planner = _Planner(table, columns, config, work_dir, keep_entries)
        try:
            for batch in table.batches():
                planner.add(batch)
                if on_progress is not None:
                    on_progress(table.bytes_read, table.size_bytes)
        finally:
            planner.close()
        if planner.rows == 0:
            raise InputError(f"{path}: has no data rows; nothing to call")
        digest = _campaign_digest(file_digest.result(), config, run_id, sheet)
        sizes = chunk_sizes(planner.accepted, config.batch.chunk_size)
        names = task_names(config.batch.name, digest, len(sizes))
        campaign = campaign_id(config.batch.name, digest, max(len(sizes), 1))
        out_dir = _publish(work_dir, data_dir / campaign)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int) if sizes else []
    rejected = sum(planner.reasons.values())
    return Plan(
        campaign=campaign,
        digest=digest,
        source=path,
        rows=planner.rows,
        accepted=planner.accepted,
        rejected=rejected,
        duplicates=planner.duplicates.rows,
        truncated_texts=planner.truncated,
        reject_reasons=dict(planner.reasons.most_common()),
        chunks=[ChunkSpec(i, name, size, int(start))
                for i, (name, size, start) in enumerate(zip(names, sizes, starts, strict=True))],
        rejects_file=out_dir / "rejects.csv",
        duplicates_file=out_dir / "duplicates.csv",
        entries_file=out_dir / "entries.arrow" if keep_entries else None,
        columns=columns,
        preview=planner.preview,
    )


def _publish(work_dir: Path, out_dir: Path) -> Path:
    """Move the plan's files to the campaign's folder, replacing an earlier plan of the
    same campaign (same input, so the same content)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in work_dir.iterdir():
        item.replace(out_dir / item.name)
    work_dir.rmdir()
    return out_dir
