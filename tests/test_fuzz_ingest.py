"""Hostile and broken input: random bytes, random CSV shapes, random encodings, huge fields
and lines. Planning either accounts for every row or refuses the file with one clear
line (a LaafficError naming it); never another exception, never a hang (each example is
small and the test has a timeout)."""

from __future__ import annotations

import csv
import io
import itertools
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ingest.config import load_config
from ingest.errors import LaafficError
from ingest.plan import plan_file

_counter = itertools.count()
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _config(directory: Path) -> object:
    path = directory / "campaign.toml"
    path.write_text(textwrap.dedent("""\
        [task]
        appId = "app"
        agentId = 41
        [batch]
        name = "fuzz"
        default_country_code = "46"
        chunk_size = 3
        """))
    return load_config(path)


def _plan_or_refuse(tmp_path: Path, name: str, content: bytes, note=lambda _: None) -> None:
    work = tmp_path / f"case{next(_counter)}"
    work.mkdir()
    path = work / name
    path.write_bytes(content)
    try:
        plan = plan_file(path, _config(work), data_dir=work / "data")
    except LaafficError as exc:
        note("refused")
        message = str(exc)
        assert message and "\n" not in message.strip()
        assert name in message or "column" in message, message
        return
    note("planned" if plan.accepted else "planned, none accepted")
    assert plan.rows == plan.accepted + plan.rejected + plan.duplicates
    assert sum(c.count for c in plan.chunks) == plan.accepted
    with plan.rejects_file.open(newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) == plan.rejected


@pytest.mark.timeout(240)
@FUZZ
@given(content=st.one_of(st.binary(max_size=3000),
                         st.binary(max_size=3000).map(lambda b: b"phone,name\n" + b)),
       name=st.sampled_from(["in.csv", "in.txt", "in.tsv", "in.jsonl", "in.xlsx",
                             "in.parquet", "in.csv.gz"]))
def test_random_bytes(tmp_path: Path, content: bytes, name: str) -> None:
    _plan_or_refuse(tmp_path, name, content, event)


phone_like = st.one_of(
    st.from_regex(r"\+?[0-9 ()./-]{0,20}", fullmatch=True),
    st.integers(0, 10**19).map(str),
)
cells = st.one_of(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20),
    st.text(max_size=5),  # control characters too, now and then
    st.sampled_from(["+46 70 123 45 67", "0701234567", "46701234567", "", '"', "\n", ";",
                     "\t", "|", ",", "4.6E+10", "phone"]),
)


@st.composite
def csv_tables(draw: st.DrawFn) -> list[list[str]]:
    """A header-or-not table of consistent width whose first column is phone-like."""
    width = draw(st.integers(0, 4))
    row = st.tuples(phone_like, st.lists(cells, min_size=width, max_size=width))
    rows = [[phone, *rest] for phone, rest in draw(st.lists(row, max_size=25))]
    if draw(st.booleans()):
        rows.insert(0, ["phone", *(f"c{i}" for i in range(width))])
    return rows


@pytest.mark.timeout(240)
@FUZZ
@given(rows=csv_tables(), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "gb18030"]))
def test_random_csv_shapes_and_encodings(tmp_path: Path, rows: list[list[str]],
                                         delimiter: str, encoding: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    content = buffer.getvalue().encode(encoding, errors="replace")
    _plan_or_refuse(tmp_path, "in.csv", content, event)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("content", [
    b"phone\n" + b"4" * 2_000_000 + b"\n",                       # a 2 MB field
    b"phone,name\n46701234567," + b"x" * 3_000_000 + b"\n",       # a 3 MB line
    b"phone\n" + b"46701234567\n" * 5 + b"\x00\x01\x02" * 1000,  # binary tail
    b'phone\n"46701234567\n' + b"a" * 100_000,                  # unterminated quote
    b"\n" * 100_000,                                            # only blank lines
    b"phone;name\r\n46701234567;A\r\n46701234568;B\r\n",         # CRLF, semicolons
])
def test_huge_fields_lines_and_broken_endings(tmp_path: Path, content: bytes) -> None:
    _plan_or_refuse(tmp_path, "in.csv", content)
