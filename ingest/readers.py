"""Open a contact file of any supported format and stream its rows as all-text Arrow batches.

Every column comes out as pa.string() without nulls (an empty cell is ""), so a phone number
never passes through a float: spreadsheet and Parquet/JSON numbers are rendered as their exact
integer digits, or in scientific notation when they are too large to be exact (>= 10**15)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import itertools
import json
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import python_calamine

from ingest.columns import DELIMITERS, generated_names, looks_like_phone, unique_column_names
from ingest.encoding import (
    decode_sample,
    detect_encoding,
    is_valid_utf8,
    looks_binary,
    read_sample,
)
from ingest.errors import InputError, one_line
from ingest.numbers import arrow_array, arrow_strings

DEFAULT_BATCH_ROWS = 500_000
# pyarrow's streaming CSV reader reads ~32 blocks ahead: 1 MiB blocks bound that to ~35 MB
# while parsing as fast as bigger ones. A single row must fit in one block.
BLOCK_BYTES = 1 << 20
DELIMITED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}  # -> delimiter tried first
EXCEL_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"})
JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})
SUPPORTED = ".csv, .tsv, .txt (optionally .gz), .xlsx, .parquet or .jsonl"
# Delimiter for a single-column text file: never present in real text, so a comma or
# semicolon inside a value cannot split it.
_NO_DELIMITER = "\x1f"
_SNIFF_ROWS = 200
_KEY_SCAN_LINES = 1000
# Numbers at or above this may have lost digits in a float (Excel keeps 15 significant).
EXACT_FLOAT_LIMIT = 10**15
_ORJSON_INT_LIMIT = 2.0**63  # orjson parses larger integer literals as floats
_JSON_GROUP_LINES = 4096
_WORKBOOK_GROUP_ROWS = 1 << 15  # Python objects for this many rows are alive at once
_SPLIT_MAX = 1 << 29  # characters: the joined text must fit an Arrow string (2 GiB of UTF-8)


@dataclass(kw_only=True, eq=False)
class ContactTable:
    """An opened contact file: what was detected, and a way to stream its data rows."""

    path: Path
    format: str  # "csv" (any delimited text), "xlsx" (any workbook), "parquet", "jsonl"
    columns: list[str]  # header names, or column1, column2, ... without a header
    has_header: bool
    encoding: str | None = None  # detected text encoding (None for workbooks and Parquet)
    delimiter: str | None = None  # None when not delimited text (or a single column)
    sheet: str | None = None  # the worksheet read, for workbooks
    size_bytes: int
    bytes_read: int = 0  # progress through the file while batches() runs; approximate

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([(name, pa.string()) for name in self.columns])

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS,
                columns: Iterable[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The data rows in file order, batch_rows per batch (the last may be shorter).
        `columns`: only these, in this order (fewer to re-cut and hand on).
        Raises InputError when the file turns out unreadable part-way."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        wanted = list(dict.fromkeys(columns)) if columns is not None else None
        self.bytes_read = 0
        stream = self._read(batch_rows, wanted)
        if wanted is not None:
            stream = (batch if batch.schema.names == wanted else batch.select(wanted)
                      for batch in stream)
        yield from rebatch(stream, batch_rows)
        self.bytes_read = self.size_bytes

    def sample(self, rows: int = 1000) -> pa.RecordBatch:
        """The first data rows (fewer if the file is shorter), e.g. for column detection."""
        stream = self.batches(rows)
        try:
            first = next(stream, None)
        finally:
            stream.close()
        return first if first is not None else pa.RecordBatch.from_pylist([], schema=self.schema)

    def estimated_rows(self, sample: pa.RecordBatch | None = None) -> int:
        """About how many data rows the file holds, to size work ahead; 0 when unknown.
        `sample`: the first rows, if already read."""
        return 0

    def _read(self, batch_rows: int,
              wanted: list[str] | None) -> Iterator[pa.RecordBatch]:
        """The data rows; `wanted`: the columns needed (a reader may leave out the others)."""
        raise NotImplementedError

    def _wanted(self, wanted: list[str] | None) -> tuple[list[int], pa.Schema]:
        """The positions of the wanted columns (all when None) and their batches' schema:
        readers that convert cell by cell convert only those."""
        names = wanted or self.columns
        return ([self.columns.index(name) for name in names],
                pa.schema([(name, pa.string()) for name in names]))


T = TypeVar("T")
U = TypeVar("U")


@contextmanager
def prefetch(items: Iterator[T], work: Callable[[T], U],
             depth: int = 1) -> Iterator[Iterator[U]]:
    """work(item) for each item, on a background thread that runs up to `depth` results
    ahead of the consumer (Arrow and numpy release the GIL, so reading and computing
    overlap). An exception on that thread is raised to the consumer; leaving the block
    stops the thread and closes `items`."""
    results: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(entry: tuple[Any, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                results.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((work(item), None)):
                    return
            put((finished, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator[U]:
        while True:
            result, error = results.get()
            if error is not None:
                raise error
            if result is finished:
                return
            yield result

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()


def rebatch(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Re-cut a stream of record batches into batches of exactly batch_rows (the last one
    shorter), combining small ones and slicing big ones; row order is kept."""
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows < batch_rows:
            continue
        combined = _combine(pending)
        offset = 0
        while combined.num_rows - offset >= batch_rows:
            yield combined.slice(offset, batch_rows)
            offset += batch_rows
        pending_rows = combined.num_rows - offset
        pending = [combined.slice(offset)] if pending_rows else []
    if pending_rows:
        yield _combine(pending)


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def open_contacts(path: str | Path, sheet: str | int | None = None) -> ContactTable:
    """Open a contact file, detecting format (by extension), encoding, delimiter and header.

    `sheet` picks a workbook's worksheet by name or 0-based index (default: the first).
    Raises InputError, one line naming the file, when it cannot be used."""
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise InputError(f"{label}: no such file; check the path")
    if not path.is_file():
        raise InputError(f"{label}: not a regular file; give the path of a contact file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{label}: the file is empty; export the contact list again")
    suffixes = [suffix.lower() for suffix in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    kind = (suffixes[-2] if gzipped and len(suffixes) > 1 else suffixes[-1]) if suffixes else ""
    if kind in EXCEL_SUFFIXES and not gzipped:
        return _open_workbook(path, label, size, sheet)
    if sheet is not None:
        raise InputError(f"{label}: a sheet was given but this is not an Excel workbook; "
                         "drop the sheet option")
    if kind == ".parquet" and not gzipped:
        return _open_parquet(path, label, size)
    if kind in JSON_LINES_SUFFIXES:
        return _open_json_lines(path, label, size, gzipped)
    if kind in DELIMITED_SUFFIXES:
        return _open_delimited(path, label, size, gzipped, DELIMITED_SUFFIXES[kind])
    shown = "".join(path.suffixes[-2:] if gzipped else path.suffixes[-1:]) or "no extension"
    raise InputError(f"{label}: unknown file type ({shown}); use {SUPPORTED}")


# --- delimited text -------------------------------------------------------------------------


@dataclass(kw_only=True, eq=False)
class DelimitedTable(ContactTable):
    gzipped: bool = False

    def _read(self, batch_rows: int,
              wanted: list[str] | None) -> Iterator[pa.RecordBatch]:
        label = str(self.path)
        bad_rows: list[Any] = []

        def remember_bad_row(row: Any) -> str:
            bad_rows.append(row)
            return "error"

        read_options = pa_csv.ReadOptions(
            column_names=self.columns, skip_rows_after_names=1 if self.has_header else 0,
            block_size=BLOCK_BYTES, encoding=_arrow_encoding(self.encoding),
            use_threads=False)  # parsing is no faster threaded; read-ahead costs memory
        parse_options = pa_csv.ParseOptions(
            delimiter=self.delimiter or _NO_DELIMITER, newlines_in_values=True,
            invalid_row_handler=remember_bad_row)
        # Only the wanted columns are converted (and checked as UTF-8): the others of a
        # wide CRM export would cost time and never reach a call. Text that pyarrow reads
        # natively is checked here, faster than its own check (see is_valid_utf8).
        check_utf8 = _arrow_encoding(self.encoding) == "utf8"
        convert_options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(self.columns, pa.string()),
            include_columns=wanted or self.columns, check_utf8=False,
            strings_can_be_null=False, quoted_strings_can_be_null=False)
        rows = 0
        with pa.OSFile(str(self.path)) as raw:
            stream = pa.CompressedInputStream(raw, "gzip") if self.gzipped else raw
            try:
                reader = pa_csv.open_csv(stream, read_options=read_options,
                                         parse_options=parse_options,
                                         convert_options=convert_options)
                for batch in reader:
                    if check_utf8 and not all(map(is_valid_utf8, batch.columns)):
                        raise InputError(f"{label}: bytes that are not valid UTF-8 at or after "
                                         f"data row {rows + 1}; re-save the file as CSV UTF-8")
                    rows += batch.num_rows
                    self.bytes_read = min(raw.tell(), self.size_bytes)
                    yield batch
            except UnicodeDecodeError as exc:
                raise InputError(f"{label}: bytes that are not valid {self.encoding} at or "
                                 f"after data row {rows + 1}; re-save the file as CSV UTF-8"
                                 ) from exc
            except (pa.ArrowInvalid, OSError, EOFError, zlib.error) as exc:
                raise InputError(self._parse_failure(exc, rows, bad_rows)) from exc

    def estimated_rows(self, sample: pa.RecordBatch | None = None) -> int:
        text_bytes = _gzip_text_bytes(self.path) if self.gzipped else self.size_bytes
        if not text_bytes:
            return 0
        sample = self.sample() if sample is None else sample
        if sample.num_rows == 0:
            return 0
        # Field bytes plus one delimiter or newline per field; quotes make it a bit low.
        row_bytes = sum(pc.sum(pc.binary_length(column)).as_py() or 0
                        for column in sample.columns) + sample.num_rows * sample.num_columns
        return int(text_bytes * sample.num_rows / max(row_bytes, 1))

    def _parse_failure(self, exc: Exception, rows: int, bad_rows: list[Any]) -> str:
        label, message = str(self.path), one_line(exc)
        where = f"at or after data row {rows + 1}"  # pyarrow reports the block, not the row
        if bad_rows:
            row = bad_rows[0]
            shape = "the header has" if self.has_header else "the first row has"
            return (f"{label}: a row {where} has {row.actual_columns} fields where {shape} "
                    f"{row.expected_columns} ({one_line(row.text)[:80]!r}); fix that row or "
                    f"quote values that contain {_delimiter_name(self.delimiter)}")
        if "straddl" in message:
            return (f"{label}: a row {where} is longer than {BLOCK_BYTES >> 20} MiB; "
                    "this does not look like a contact list")
        if self.gzipped and not isinstance(exc, pa.ArrowInvalid):
            return f"{label}: the gzip data is corrupt or truncated {where} ({message})"
        return f"{label}: cannot parse the file {where} ({message})"


def _gzip_text_bytes(path: Path) -> int:
    """The uncompressed size a gzip file records in its last 4 bytes (modulo 4 GiB, and of
    its last member only), or 0 when that cannot be the whole text: sizing work ahead
    from it saves growing the de-duplication table, which costs twice its memory."""
    try:
        with path.open("rb") as raw:
            raw.seek(-4, io.SEEK_END)
            recorded = int.from_bytes(raw.read(4), "little")
    except OSError:
        return 0
    # Text compresses, so a recorded size below the compressed one has wrapped round.
    return recorded if recorded >= path.stat().st_size else 0


def _open_delimited(path: Path, label: str, size: int, gzipped: bool,
                    preferred: str) -> DelimitedTable:
    sample = read_sample(path, gzipped)
    encoding = detect_encoding(label, sample)
    try:
        text = decode_sample(sample, encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: the text is not valid {encoding}; "
                         "save the file as CSV UTF-8") from exc
    if looks_binary(text):
        raise InputError(f"{label}: contains control characters, so it looks binary rather "
                         "than text; export the contact list as CSV")
    delimiter, rows = _sniff(label, text, sample.complete, preferred)
    if not rows:
        raise InputError(f"{label}: the file is empty; export the contact list again")
    first = rows[0]
    has_header = not any(looks_like_phone(cell) for cell in first)
    columns = unique_column_names(first) if has_header else generated_names(len(first))
    if has_header and sample.complete and len(rows) == 1:
        raise InputError(f"{label}: has a header row ({', '.join(columns)}) but no data rows; "
                         "export the contacts again")
    return DelimitedTable(path=path, format="csv", columns=columns, has_header=has_header,
                          encoding=encoding, delimiter=delimiter, size_bytes=size,
                          gzipped=gzipped)


def _sniff(label: str, text: str, complete: bool,
           preferred: str) -> tuple[str | None, list[list[str]]]:
    """The delimiter whose split gives the most consistent field counts over the first rows
    (at least two fields; the preferred one wins ties), with those rows. No delimiter when
    none splits consistently: the file is one column."""
    order = (preferred, *(d for d in DELIMITERS if d != preferred))
    best: tuple[tuple[float, int], str, list[list[str]]] | None = None
    for delimiter in order:
        rows = _first_rows(text, delimiter, complete)
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(len(row) == width for row in rows) / len(rows)
        score = (consistency, width)
        if consistency >= 0.5 and (best is None or score > best[0]):
            best = (score, delimiter, rows)
    if best is not None:
        return best[1], best[2]
    rows = _first_rows(text, _NO_DELIMITER, complete)
    if rows is None:
        raise InputError(f"{label}: cannot split the text into rows (unbalanced quotes or a "
                         "huge field?); export the contact list as CSV again")
    return None, rows


def _first_rows(text: str, delimiter: str, complete: bool) -> list[list[str]] | None:
    """Up to _SNIFF_ROWS non-blank rows parsed like pyarrow parses them (a row the sample
    cut short is dropped); None if the csv module cannot parse the sample."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) > _SNIFF_ROWS:
                return rows[:_SNIFF_ROWS]
    except csv.Error:
        return None
    if not complete and rows:
        rows.pop()
    return rows


def _arrow_encoding(encoding: str | None) -> str:
    """pyarrow reads UTF-8 natively (and skips its BOM); others go through Python's codec."""
    return "utf8" if encoding in (None, "utf-8", "utf-8-sig") else encoding


def _delimiter_name(delimiter: str | None) -> str:
    names = {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a pipe"}
    return names.get(delimiter or "", "a delimiter")


# --- workbooks ------------------------------------------------------------------------------


@dataclass(kw_only=True, eq=False)
class WorkbookTable(ContactTable):
    _worksheet: Any = field(default=None, repr=False)  # the loaded calamine sheet

    def estimated_rows(self, sample: pa.RecordBatch | None = None) -> int:
        return int(self._worksheet.height)

    def _read(self, batch_rows: int,
              wanted: list[str] | None) -> Iterator[pa.RecordBatch]:
        rows = _nonblank_rows(self._worksheet.iter_rows())
        if self.has_header:
            next(rows, None)
        indices, schema = self._wanted(wanted)
        total = max(self._worksheet.height, 1)
        count = 0
        # A group of rows at a time, converted a column at a time (a function call per
        # cell cost more than calamine's own parse); batches() joins groups into batches.
        while group := list(itertools.islice(rows, min(batch_rows, _WORKBOOK_GROUP_ROWS))):
            count += len(group)
            full = min(map(len, group)) > max(indices)  # else short rows: missing is ""
            columns = [_cells_text([row[index] for row in group] if full else
                                   [row[index] if index < len(row) else "" for row in group])
                       for index in indices]
            self.bytes_read = self.size_bytes * count // total
            yield _text_batch(columns, schema)


def _open_workbook(path: Path, label: str, size: int, sheet: str | int | None) -> WorkbookTable:
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError as exc:
        raise InputError(f"{label}: the workbook is password-protected; save a copy "
                         "without a password") from exc
    except Exception as exc:  # calamine raises several unrelated types for a corrupt file
        raise InputError(f"{label}: not a readable Excel workbook ({one_line(exc)}); "
                         "open and save it again in Excel, or export CSV") from exc
    names: list[str] = list(workbook.sheet_names)
    chosen = _choose_sheet(label, names, sheet)
    worksheet = workbook.get_sheet_by_name(chosen)
    rows = _nonblank_rows(worksheet.iter_rows())
    first = next(rows, None)
    if first is None:
        raise InputError(f"{label}: sheet {chosen!r} is empty; put the contacts on it or "
                         "choose another sheet")
    first_texts = [cell_text(cell) for cell in first]
    has_header = not any(looks_like_phone(cell) for cell in first_texts)
    columns = (unique_column_names(first_texts) if has_header
               else generated_names(len(first_texts)))
    if has_header and next(rows, None) is None:
        raise InputError(f"{label}: sheet {chosen!r} has a header row ({', '.join(columns)}) "
                         "but no data rows; export the contacts again")
    return WorkbookTable(path=path, format="xlsx", columns=columns, has_header=has_header,
                         sheet=chosen, size_bytes=size, _worksheet=worksheet)


def _choose_sheet(label: str, names: list[str], sheet: str | int | None) -> str:
    if not names:
        raise InputError(f"{label}: the workbook has no worksheets")
    if sheet is None:
        return names[0]
    if isinstance(sheet, str) and sheet in names:
        return sheet
    if isinstance(sheet, str) and sheet.strip().isdigit():
        sheet = int(sheet)  # a sheet index given as text, e.g. from the command line
    if isinstance(sheet, int) and 0 <= sheet < len(names):
        return names[sheet]
    which = f"number {sheet} (0-based)" if isinstance(sheet, int) else repr(sheet)
    listed = ", ".join(repr(name) for name in names)
    raise InputError(f"{label}: no sheet {which}; the sheets are {listed}")


def _nonblank_rows(rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """Rows with at least one non-empty cell (spreadsheets pad ranges with blank rows)."""
    for row in rows:
        if row.count("") + row.count(None) < len(row):
            yield row


def _cells_text(cells: list[Any]) -> list[str] | pa.Array:
    """cell_text of each cell; text cells (the usual phone and name columns) as they are,
    a column of numbers (Excel keeps every number as a float) converted in one go."""
    kinds = set(map(type, cells))
    if kinds <= {str}:
        return cells
    if kinds == {float}:
        return _float_column_text(arrow_array(np.array(cells, dtype=np.float64)))
    if kinds <= {str, int}:
        return [cell if type(cell) is str else str(cell) for cell in cells]
    return [cell_text(cell) for cell in cells]


def cell_text(value: Any) -> str:
    """One spreadsheet or JSON cell as text, never via a lossy float rendering."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "TRUE" if value else "FALSE"  # as Excel shows it
    if kind is int:
        return str(value)
    if kind is float:
        return float_text(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def float_text(value: float | None) -> str:
    """A float as text: whole numbers below 10**15 as exact digits, larger ones in scientific
    notation (their low digits may be lost, so they must not look exact), NaN as empty."""
    if value is None or value != value:
        return ""
    if value.is_integer() and abs(value) < EXACT_FLOAT_LIMIT:
        return str(int(value))
    return format(value, ".15g")


def _text_batch(columns: list[list[str] | pa.Array], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [_text_array(values) if isinstance(values, list) else values for values in columns],
        schema=schema)


def _text_array(values: list[str]) -> pa.Array:
    """Python strings as an Arrow string array, joined into one string and split again by
    Arrow: pa.array() on a list would first import pandas to look for pandas objects in
    it (0.2 s and 30 MB), and convert value by value."""
    joined = "\x00".join(values)
    if len(joined) > _SPLIT_MAX:
        return pa.array(values, pa.string())
    if len(values) < 2 or joined.count("\x00") != len(values) - 1:  # or NUL in a value
        return arrow_strings(values)
    return pc.split_pattern(arrow_strings([joined]), "\x00").flatten()


# --- Parquet --------------------------------------------------------------------------------


@dataclass(kw_only=True, eq=False)
class ParquetTable(ContactTable):
    row_count: int = 0

    def estimated_rows(self, sample: pa.RecordBatch | None = None) -> int:
        return self.row_count

    def _read(self, batch_rows: int,
              wanted: list[str] | None) -> Iterator[pa.RecordBatch]:
        label = str(self.path)
        indices, schema = self._wanted(wanted)
        rows = 0
        try:
            with _parquet_file(self.path) as parquet:
                total = max(parquet.metadata.num_rows, 1)
                # Parquet reads by column: the unwanted ones are not even decoded. Columns
                # are asked for by name, so only where names are unique and no column is
                # nested (several leaves); otherwise every column is read.
                names = parquet.schema_arrow.names
                flat = (parquet.metadata.num_columns == len(names) == len(set(names)))
                chosen = [names[index] for index in indices] if flat else None
                for batch in parquet.iter_batches(batch_size=batch_rows, columns=chosen):
                    rows += batch.num_rows
                    self.bytes_read = self.size_bytes * rows // total
                    # (Asked for by name, the columns come in the order asked for.)
                    columns = (batch.columns if flat
                               else [batch.column(index) for index in indices])
                    yield pa.RecordBatch.from_arrays([arrow_text(column) for column in columns],
                                                     schema=schema)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{label}: cannot read the Parquet data after row {rows} "
                             f"({one_line(exc)})") from exc


def _parquet_file(path: Path) -> Any:
    import pyarrow.parquet as pq  # only for Parquet input: a dry run of a CSV starts faster

    return pq.ParquetFile(path)


def _open_parquet(path: Path, label: str, size: int) -> ParquetTable:
    try:
        with _parquet_file(path) as parquet:
            names = list(parquet.schema_arrow.names)
            row_count = parquet.metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{label}: not a readable Parquet file ({one_line(exc)})") from exc
    columns = unique_column_names(names)
    if not columns:
        raise InputError(f"{label}: the Parquet file has no columns")
    if row_count == 0:
        raise InputError(f"{label}: has columns ({', '.join(columns)}) but no rows; "
                         "export the contacts again")
    return ParquetTable(path=path, format="parquet", columns=columns, has_header=True,
                        size_bytes=size, row_count=row_count)


def arrow_text(array: pa.Array) -> pa.Array:
    """Any Arrow column as non-null strings: integers and decimals exactly, floats by
    float_text, booleans as true/false, dates and timestamps in ISO form."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        return arrow_text(array.dictionary_decode())
    if pa.types.is_floating(kind):
        return _float_column_text(array)
    if pa.types.is_null(kind):
        return pa.array([""] * len(array), pa.string())
    if pa.types.is_timestamp(kind):
        text = pc.replace_substring(pc.cast(array, pa.string()), " ", "T", max_replacements=1)
        return pc.fill_null(text, "")
    if (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_boolean(kind) or pa.types.is_decimal(kind)
            or pa.types.is_date(kind) or pa.types.is_time(kind)):
        return pc.fill_null(pc.cast(array, pa.string()), "")
    # Binary, nested and exotic types: their JSON (or plain text) form, value by value.
    return pa.array([_json_text(value) for value in array.to_pylist()], pa.string())


def _float_column_text(array: pa.Array) -> pa.Array:
    """Vectorised float_text: whole numbers below the limit via int64, the rest in Python."""
    values = pc.cast(array, pa.float64())
    exact = pc.fill_null(pc.and_(pc.equal(pc.floor(values), values),
                                 pc.less(pc.abs(values), float(EXACT_FLOAT_LIMIT))), False)
    digits = pc.cast(pc.cast(pc.if_else(exact, values, 0.0), pa.int64()), pa.string())
    inexact = pc.invert(exact)
    rest = [float_text(value) for value in pc.filter(values, inexact).to_pylist()]
    if not rest:
        return digits
    return pc.replace_with_mask(digits, inexact, _text_array(rest))


# --- JSON lines -----------------------------------------------------------------------------


@dataclass(kw_only=True, eq=False)
class JsonLinesTable(ContactTable):
    gzipped: bool = False
    keys: list[str] = field(default_factory=list)  # the JSON key behind each column
    lines_per_byte: float = 0.0  # in the text sampled at open time

    def estimated_rows(self, sample: pa.RecordBatch | None = None) -> int:
        # Without it the de-duplication table would grow by doubling as lines come in,
        # each time placing every number again and holding both tables for a moment.
        text_bytes = _gzip_text_bytes(self.path) if self.gzipped else self.size_bytes
        return int(text_bytes * self.lines_per_byte)

    def _read(self, batch_rows: int,
              wanted: list[str] | None) -> Iterator[pa.RecordBatch]:
        indices, schema = self._wanted(wanted)
        # Keys first seen after the lines scanned at open time are not columns: ignored.
        keys = [self.keys[index] for index in indices]
        columns: list[list[str]] = [[] for _ in indices]
        label = str(self.path)
        with self.path.open("rb") as raw:
            for lines, records in _json_groups(raw, label, self.gzipped, self.encoding):
                for key, values in zip(keys, columns, strict=True):
                    column = [record.get(key, "") for record in records]
                    if set(map(type, column)) != {str}:  # numbers, null, ...: rarely
                        column = [_cell(value, line, key)
                                  for value, line in zip(column, lines, strict=True)]
                    values.extend(column)
                if len(columns[0]) >= batch_rows:
                    self.bytes_read = min(raw.tell(), self.size_bytes)
                    yield _text_batch(columns, schema)
                    for values in columns:
                        values.clear()
        if columns[0]:
            yield _text_batch(columns, schema)


def _open_json_lines(path: Path, label: str, size: int, gzipped: bool) -> JsonLinesTable:
    text = read_sample(path, gzipped)
    encoding = detect_encoding(label, text)
    sampled = b"".join((text.head, *text.probes))
    keys: dict[str, None] = {}  # insertion-ordered set
    records = 0
    with path.open("rb") as raw:
        for _, group in _json_groups(raw, label, gzipped, encoding, _KEY_SCAN_LINES):
            for record in group[: _KEY_SCAN_LINES - records]:
                keys.update(dict.fromkeys(record))
            records += len(group)
            if records >= _KEY_SCAN_LINES:
                break
    if not records:
        raise InputError(f"{label}: the file has no JSON lines; export the contacts again")
    if not keys:
        raise InputError(f"{label}: the JSON objects have no keys; each line needs at least "
                         "the phone number, e.g. {\"phone\": \"46701234567\"}")
    return JsonLinesTable(path=path, format="jsonl", columns=unique_column_names(list(keys)),
                          has_header=True, encoding=encoding, size_bytes=size,
                          gzipped=gzipped, keys=list(keys),
                          lines_per_byte=sampled.count(b"\n") / max(len(sampled), 1))


def _json_groups(raw: io.BufferedReader, label: str, gzipped: bool, encoding: str | None,
                 group_lines: int = _JSON_GROUP_LINES,
                 ) -> Iterator[tuple[list[Any], list[dict[str, Any]]]]:
    """The non-blank lines, a group at a time: (lines, their objects); InputError naming
    the line where one is not a JSON object. (Parsed in groups by a list comprehension:
    per-line function calls and generators cost more than orjson's parse itself.)"""
    stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
    if encoding not in (None, "utf-8", "utf-8-sig"):
        stream = io.TextIOWrapper(stream, encoding=encoding, newline=None)
    line_number = 0
    first_number, lines = 1, []
    try:
        for line_number, line in enumerate(stream, start=1):
            if line_number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf" if isinstance(line, bytes) else "\ufeff")
            if not line.strip():
                line = None  # kept as a gap, so that positions stay line numbers
            elif not lines:
                first_number = line_number
            if lines or line is not None:
                lines.append(line)
            if len(lines) >= group_lines:
                yield _parsed_group(lines, first_number, label)
                lines = []
        if lines:
            yield _parsed_group(lines, first_number, label)
    except UnicodeDecodeError as exc:
        raise InputError(f"{label}: line {line_number + 1} is not valid {encoding}; "
                         "save the file as UTF-8") from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{label}: the gzip data is corrupt or truncated after line "
                         f"{line_number} ({one_line(exc)})") from exc


def _parsed_group(lines: list[Any], first_number: int,
                  label: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """(the non-blank lines, their objects); lines[i] is line first_number + i (None where
    blank)."""
    present = [line for line in lines if line is not None]
    loads = orjson.loads
    try:
        records = [loads(line) for line in present]
    except ValueError:  # orjson.JSONDecodeError is a ValueError: find the line
        for offset, line in enumerate(lines):
            if line is not None:
                _parse_json(line, label, first_number + offset)
        raise
    if set(map(type, records)) != {dict}:
        at = 0
        for offset, line in enumerate(lines):
            if line is None:
                continue
            if type(records[at]) is not dict:
                raise InputError(f"{label}: line {first_number + offset} is a JSON "
                                 f"{type(records[at]).__name__}, not an object; write one "
                                 "object per line, e.g. {\"phone\": \"46701234567\"}")
            at += 1
    return present, records


def _cell(value: Any, line: bytes | str, key: str) -> str:
    """One JSON value as a cell. orjson turns integers beyond 64 bits into floats: their
    exact digits come from parsing the line again."""
    if type(value) is float and abs(value) >= _ORJSON_INT_LIMIT:
        value = json.loads(line, parse_int=str).get(key, "")
    return json_value_text(value)


def _parse_json(line: bytes | str, label: str, line_number: int) -> Any:
    try:
        return orjson.loads(line)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise InputError(f"{label}: line {line_number} is not valid JSON "
                         f"({one_line(exc)})") from exc


def json_value_text(value: Any) -> str:
    """A JSON value as a cell: strings as is, integers exactly, floats by float_text,
    booleans true/false, null empty, arrays and objects as compact JSON."""
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return float_text(value)
    if value is None:
        return ""
    return _json_text(value)


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    try:
        return orjson.dumps(value, default=str).decode()
    except TypeError:
        return str(value)
