"""The rejects file and the duplicates file: every row that was not accepted, with why.

Written batch by batch with pyarrow's CSV writer, so millions of rejects cost no memory."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.csv as pacsv

REJECTS_SCHEMA = pa.schema(
    [("row", pa.int64()), ("value", pa.string()), ("reason_code", pa.string()),
     ("reason", pa.string())]
)
DUPLICATES_SCHEMA = pa.schema(
    [("row", pa.int64()), ("value", pa.string()), ("number", pa.string()),
     ("first_row", pa.int64())]
)


class RowLogWriter:
    """A CSV file with a fixed schema. Its header is written even when no rows come, so an
    empty rejects file still says what its columns are."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        self._writer = pacsv.CSVWriter(str(path), schema)

    def write(self, columns: dict[str, pa.Array]) -> None:
        batch = pa.RecordBatch.from_pydict(columns, schema=self.schema)
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> RowLogWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
