"""Planning: a contact file and a config in, an accounted-for plan out.

Every data row ends in exactly one of three places: accepted (an entry in a chunk),
rejected (the rejects file, with a reason) or duplicate (a later row whose valid
number was already accepted; the duplicates file). The checks run in this order, so
a row's reason is the first rule it breaks: number rules, required texts,
do-not-call lists, strict validation, then de-duplication against accepted rows."""

from __future__ import annotations

import hashlib
import shutil
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
from ingest.digest import start_digest
from ingest.entries import entries_schema
from ingest.errors import InputError
from ingest.memory import bulk_mode
from ingest.numbers import (
    EMPTY_TEXT,
    NULL_TEXT,
    REASON_CODES,
    REASONS,
    arrow_array,
    arrow_strings,
    normalise_to_int64,
    numbers_as_digits,
    numpy_bools,
    reason_code,
    reason_names,
    utf8_bytes,
)
from ingest.readers import ContactTable, open_contacts, prefetch
from ingest.rejects import DUPLICATES_SCHEMA, REJECTS_SCHEMA, RowLogWriter

# Rows per batch while planning: the per-batch arrays stay cache-sized (the hash table's
# probes are much faster for it) and the pipeline's memory small.
BATCH_ROWS = 250_000
# The de-duplication table is sized up front from the file's size for at most this many rows
# (an estimate from the first rows can be far off); beyond that it grows as it fills.
PRESIZE_MAX_ROWS = 20_000_000
TEXT_MAX_CHARS = 30  # the API truncates longer values anyway; we do it visibly
PREVIEW_ENTRIES = 5
DIGEST_VERSION = b"laaffic-batch/plan/2"  # 2: the file digest is BLAKE3

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


def _campaign_digest(file_digest: str, config: CampaignConfig, run_id: str,
                     sheet: str | int | None) -> str:
    h = hashlib.sha256(DIGEST_VERSION)
    for part in (file_digest.encode(), config.fingerprint(), run_id.encode(),
                 str(sheet if sheet is not None else "").encode()):
        h.update(b"\0")
        h.update(part)
    return h.hexdigest()


_REASON_TEXTS = arrow_strings([REASONS[name] if name else None for name in REASON_CODES])


def _reason_columns(codes: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """reason_code and reason for rejected rows' int8 codes."""
    return reason_names(codes), _REASON_TEXTS.take(arrow_array(codes))


@dataclass
class _Prepared:
    """A batch with its numbers normalised (done ahead, on the normalising thread)."""

    batch: pa.RecordBatch
    numbers: np.ndarray
    codes: np.ndarray


class _Planner:
    def __init__(self, columns: ColumnMap, config: CampaignConfig, work_dir: Path,
                 keep_entries: bool, expected_numbers: int) -> None:
        batch = config.batch
        self.columns = columns
        self.country_code = batch.default_country_code
        self.required = list(batch.required_texts)
        self.text_keys = list(columns.texts)  # text1..text10 order: map_columns keeps it
        self.suppressed = self._load_suppression(config)
        self.validator = self._strict_validator(config)
        self.seen = SeenNumbers(expected_numbers)
        self.rows = 0
        self.accepted = 0
        self.truncated = 0
        self.reason_counts = np.zeros(len(REASON_CODES), dtype=np.int64)
        self.preview: list[dict[str, str]] = []
        self.rejects = RowLogWriter(work_dir / "rejects.csv", REJECTS_SCHEMA)
        self.duplicates = RowLogWriter(work_dir / "duplicates.csv", DUPLICATES_SCHEMA)
        self.entries_schema = entries_schema(self.text_keys)
        self.entries_path = work_dir / "entries.arrow" if keep_entries else None
        self.entries = (pa.ipc.new_file(str(self.entries_path), self.entries_schema)
                        if self.entries_path else None)

    @property
    def needed_columns(self) -> list[str]:
        return [self.columns.phone, *(self.columns.texts[key] for key in self.text_keys)]

    @property
    def reasons(self) -> Counter[str]:
        counts = {str(REASON_CODES[code]): int(count)
                  for code, count in enumerate(self.reason_counts) if count}
        return Counter(dict(sorted(counts.items())))  # ties in most_common: by name

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

    def prepare(self, batch: pa.RecordBatch) -> _Prepared:
        """The part of a batch's work that needs no earlier batch: numbers and their codes."""
        result = normalise_to_int64(batch.column(self.columns.phone), self.country_code)
        return _Prepared(batch, result.numbers, result.codes)

    def close(self) -> None:
        self.rejects.close()
        self.duplicates.close()
        if self.entries is not None:
            self.entries.close()

    def add(self, prepared: _Prepared) -> None:
        batch, numbers, codes = prepared.batch, prepared.numbers, prepared.codes
        row_base = self.rows + 1  # data row of the batch's first row
        self.rows += batch.num_rows
        # Later rules only look at rows the earlier ones left valid.
        for key in self.required:
            codes[self._missing_text(batch, key, codes == 0)] = reason_code("missing_text")
        if self.suppressed is not None and len(self.suppressed):
            valid = np.flatnonzero(codes == 0)
            hits = _in_sorted(self.suppressed, numbers[valid])
            codes[valid[hits]] = reason_code("suppressed")
        if self.validator is not None:
            valid = np.flatnonzero(codes == 0)
            codes[valid] = self.validator.reason_codes(numbers_as_digits(numbers[valid]))

        raw = batch.column(self.columns.phone)
        self._write_rejects(raw, codes, row_base)
        valid_idx = np.flatnonzero(codes == 0)
        is_new, first_rows = self.seen.add_batch(numbers[valid_idx], valid_idx + row_base)
        duplicate = np.flatnonzero(~is_new)
        if duplicate.size:
            dup_idx = valid_idx.take(duplicate)
            self.duplicates.write({
                "row": arrow_array(dup_idx + row_base),
                "value": raw.take(arrow_array(dup_idx)),
                "number": numbers_as_digits(numbers.take(dup_idx)),
                "first_row": arrow_array(first_rows.take(duplicate)),
            })
            valid_idx = valid_idx.compress(is_new)
        self._accept(batch, numbers, valid_idx)

    def _missing_text(self, batch: pa.RecordBatch, key: str, valid: np.ndarray) -> np.ndarray:
        text = batch.column(self.columns.texts[key])
        blank = pc.equal(pc.utf8_trim_whitespace(text), EMPTY_TEXT)
        return valid & numpy_bools(blank)

    def _write_rejects(self, raw: pa.Array, codes: np.ndarray, row_base: int) -> None:
        rejected_idx = np.flatnonzero(codes)
        if not len(rejected_idx):
            return
        rejected_codes = codes.take(rejected_idx)
        self.reason_counts += np.bincount(rejected_codes, minlength=len(REASON_CODES))
        names, texts = _reason_columns(rejected_codes)
        self.rejects.write({
            "row": arrow_array(rejected_idx + row_base),
            "value": raw.take(arrow_array(rejected_idx)),
            "reason_code": names,
            "reason": texts,
        })

    def _accept(self, batch: pa.RecordBatch, numbers: np.ndarray, idx: np.ndarray) -> None:
        """The accepted rows idx: counted, and kept as entries (a dry run keeps only the
        first few, for the preview)."""
        if not len(idx):
            return
        self.accepted += len(idx)
        texts = {key: batch.column(self.columns.texts[key]) for key in self.text_keys}
        self.truncated += sum(_count_too_long(text, idx) for text in texts.values())
        if self.entries is not None:
            entries = self._entries(numbers, texts, idx)
            self.entries.write_batch(entries)
        elif len(self.preview) < PREVIEW_ENTRIES:
            entries = self._entries(numbers, texts, idx[:PREVIEW_ENTRIES])
        else:
            return
        if len(self.preview) < PREVIEW_ENTRIES:
            self._add_preview(entries)

    def _entries(self, numbers: np.ndarray, texts: dict[str, pa.Array],
                 idx: np.ndarray) -> pa.RecordBatch:
        indices = arrow_array(idx)
        columns: dict[str, pa.Array] = {"calleeNumber": numbers_as_digits(numbers[idx])}
        for key, text in texts.items():
            columns[key] = _entry_text(text.take(indices))
        return pa.RecordBatch.from_pydict(columns, schema=self.entries_schema)

    def _add_preview(self, entries: pa.RecordBatch) -> None:
        for entry in entries.slice(0, PREVIEW_ENTRIES - len(self.preview)).to_pylist():
            self.preview.append({k: v for k, v in entry.items() if v})


def _same(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch


def _in_sorted(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per value: is it in sorted_values (sorted, not empty)? A binary search each, where
    np.isin would sort sorted_values again on every call."""
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values.take(at) == values


def _entry_text(values: pa.Array) -> pa.Array:
    """A text as the API gets it: trimmed, at most TEXT_MAX_CHARS, null when empty."""
    value = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(values), 0, TEXT_MAX_CHARS)
    return pc.if_else(pc.equal(value, EMPTY_TEXT), NULL_TEXT, value)


def _count_too_long(text: pa.Array, idx: np.ndarray) -> int:
    """How many of the rows idx have a text longer than TEXT_MAX_CHARS once trimmed. Only
    values of more than TEXT_MAX_CHARS bytes can be, so only those are looked at."""
    offsets, _ = utf8_bytes(text)
    long_rows = np.flatnonzero(np.diff(offsets) > TEXT_MAX_CHARS)
    if long_rows.size:  # ...and accepted
        long_rows = long_rows.compress(_in_sorted(idx, long_rows))
    if not long_rows.size:
        return 0
    values = pc.utf8_trim_whitespace(text.take(arrow_array(long_rows)))
    lengths = np.frombuffer(pc.utf8_length(values).buffers()[1], dtype=np.int32)
    return int(np.count_nonzero(lengths[: len(values)] > TEXT_MAX_CHARS))


def expected_numbers(table: ContactTable, sample: pa.RecordBatch | None = None) -> int:
    """How many numbers plan_file sizes the de-duplication table for up front: the rows
    estimated from the file's size and first rows (`sample`, if already read), capped."""
    return min(table.estimated_rows(sample), PRESIZE_MAX_ROWS)


def plan_file(path: str | Path, config: CampaignConfig, *, data_dir: Path, run_id: str = "",
              sheet: str | int | None = None, keep_entries: bool = False,
              on_progress: ProgressCallback | None = None) -> Plan:
    """Read, normalise, validate and de-duplicate `path`, write the rejects file, and plan
    chunks and names. With keep_entries the accepted entries are kept in an Arrow file
    (Plan.entries_file) for the chunk store; a dry run does without."""
    path = Path(path)
    table = open_contacts(path, sheet=sheet)
    sample = table.sample()
    columns = map_columns(table.columns, config.columns, source=str(path),
                          sample=sample, has_header=table.has_header)
    file_digest = start_digest(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    work_dir = data_dir / f".plan-{uuid.uuid4().hex[:12]}"
    work_dir.mkdir()
    try:
        # The de-duplication table is sized for the whole file up front (growing it
        # means placing every number again); its memory is only touched as it fills.
        planner = _Planner(columns, config, work_dir, keep_entries,
                           expected_numbers(table, sample))
        try:
            # Three stages, each on its own thread, a batch or two apart (Arrow and numpy
            # release the GIL): parsing, normalising, and here de-duplicating and writing.
            batches = table.batches(BATCH_ROWS, planner.needed_columns)
            with bulk_mode(), prefetch(batches, _same) as parsed, \
                    prefetch(parsed, planner.prepare) as prepared:
                for item in prepared:
                    planner.add(item)
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
        file_digest.forget()
        raise
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int) if sizes else []
    reasons = planner.reasons
    rejected = sum(reasons.values())
    return Plan(
        campaign=campaign,
        source=path,
        rows=planner.rows,
        accepted=planner.accepted,
        rejected=rejected,
        duplicates=planner.duplicates.rows,
        truncated_texts=planner.truncated,
        reject_reasons=dict(reasons.most_common()),
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
