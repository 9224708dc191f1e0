"""Text-file sniffing: read a byte sample of a (possibly gzipped) file and detect its encoding.

UTF-8 (with or without BOM) is checked first; legacy encodings are *detected* with
charset-normalizer restricted to the ones contact lists really arrive in (cp1252 from Western
Excel, GB18030 from Chinese Excel), and UTF-16/32 are taken only when a BOM says so (Excel's
"Unicode text" export is UTF-16 LE with a BOM)."""

from __future__ import annotations

import codecs
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ingest.errors import InputError

HEAD_BYTES = 1 << 20
# Extra pieces from the middle and the end of a plain file, so a legacy byte that first
# appears after the head still steers detection.
PROBE_BYTES = 256 << 10
LEGACY_ENCODINGS = ("cp1252", "gb18030")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Files that are often renamed to .csv by mistake: name them instead of "binary garbage".
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0", "an old binary Office file (.xls?)"),
    (b"PAR1", "a Parquet file"),
    (b"\x1f\x8b", "gzip-compressed data (name it .csv.gz)"),
    (b"%PDF", "a PDF document"),
)


@dataclass(frozen=True)
class TextSample:
    """The first bytes of a text file (decompressed), plus newline-aligned probes further in."""

    head: bytes
    probes: tuple[bytes, ...]
    complete: bool  # head holds the whole (decompressed) file


def read_sample(path: Path, gzipped: bool) -> TextSample:
    """Read the head of the file (and, for plain files, probes from the middle and end)."""
    try:
        if gzipped:
            with gzip.open(path, "rb") as stream:
                head = stream.read(HEAD_BYTES + 1)
            return TextSample(head[:HEAD_BYTES], (), len(head) <= HEAD_BYTES)
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(HEAD_BYTES)
            probes = []
            if size > HEAD_BYTES + 2 * PROBE_BYTES:
                for start in (size // 2, size - PROBE_BYTES):
                    stream.seek(start)
                    probes.append(_whole_lines(stream.read(PROBE_BYTES)))
        return TextSample(head, tuple(p for p in probes if p), size <= HEAD_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path.name}: cannot read the file ({exc}); check it is not "
                         "truncated or still being written") from exc


def _whole_lines(piece: bytes) -> bytes:
    """Drop the partial lines at both ends of a piece cut from the middle of a file.
    Newline bytes never occur inside a UTF-8, cp1252 or GB18030 character."""
    first, last = piece.find(b"\n"), piece.rfind(b"\n")
    return piece[first + 1 : last + 1] if 0 <= first < last else b""


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start announces, if any."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def detect_encoding(name: str, sample: TextSample) -> str:
    """Python codec name for the sample: utf-8-sig, utf-16, utf-32, utf-8, cp1252 or gb18030.
    Raises InputError for binary data or an encoding outside those."""
    head = sample.head
    if not head.strip(b" \t\r\n" + codecs.BOM_UTF8):
        raise InputError(f"{name}: the file is empty; export the contact list again")
    announced = bom_encoding(head)
    if announced:
        return announced
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise InputError(f"{name}: this is {what}, not delimited text; "
                             "save it as CSV or give it its real extension")
    pieces = (head, *sample.probes)
    if any(b"\x00" in piece for piece in pieces):
        raise InputError(f"{name}: contains NUL bytes, so it looks binary rather than text; "
                         "if it is UTF-16 text, save it with a BOM or as UTF-8")
    if _all_decode(sample, "utf-8"):
        return "utf-8"
    import charset_normalizer  # only for legacy encodings; UTF-8 files start faster

    joined = b"\n".join(pieces)
    match = charset_normalizer.from_bytes(joined, cp_isolation=list(LEGACY_ENCODINGS)).best()
    if match is None or not _all_decode(sample, match.encoding):
        raise InputError(f"{name}: the text is not UTF-8, cp1252 or GB18030 (or is binary); "
                         "save the file as CSV UTF-8")
    return match.encoding


def _all_decode(sample: TextSample, encoding: str) -> bool:
    """Whether every piece decodes strictly (a character cut by the head's end is allowed)."""
    finals = (sample.complete,) + (True,) * len(sample.probes)
    try:
        for piece, final in zip((sample.head, *sample.probes), finals, strict=True):
            codecs.getincrementaldecoder(encoding)().decode(piece, final=final)
    except UnicodeDecodeError:
        return False
    return True


def decode_sample(sample: TextSample, encoding: str) -> str:
    """The head as text, a character cut off by the sample's end dropped."""
    return codecs.getincrementaldecoder(encoding)(errors="strict").decode(
        sample.head, final=sample.complete)


def looks_binary(text: str) -> bool:
    """Control characters other than tab/newline/form-feed mark binary data."""
    if not text:
        return False
    controls = len(_CONTROL_CHARACTERS.findall(text))
    return controls > max(2, len(text) // 1000)


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")  # not \t \n \f \r


def is_valid_utf8(values: pa.Array) -> bool:
    """Whether every value of a string array that was not checked when read (pyarrow's CSV
    reader with check_utf8=False) is valid UTF-8.

    pyarrow checks value by value, a third of its whole parse for short contact fields.
    Here an all-ASCII column (phone numbers nearly always) costs one pass of numpy; other
    columns are checked as one long string, which is valid value by value exactly when no
    value starts inside a character (with a continuation byte)."""
    _, offsets_buffer, data_buffer = values.buffers()
    if data_buffer is None or len(values) == 0:
        return True
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[
        values.offset : values.offset + len(values) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buffer, dtype=np.uint8)[first:last]
    if not data.size or data.max() < 0x80:
        return True
    whole = pa.StringArray.from_buffers(
        1, pa.py_buffer(np.array([first, last], dtype=np.int32)), data_buffer)
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    starts = offsets[:-1].compress(offsets[:-1] < offsets[1:]) - first
    return not np.any((data.take(starts) & 0xC0) == 0x80)
