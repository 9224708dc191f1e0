"""Reading contact files: real files written by real writers, read back as all-text batches."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import InputError
from ingest.readers import ContactTable, float_text, open_contacts, prefetch


def read_rows(table: ContactTable, batch_rows: int = 500_000) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for batch in table.batches(batch_rows):
        for column in batch.columns:
            assert column.type == pa.string()
            assert column.null_count == 0
        rows.extend(batch.to_pylist())
    return rows


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def open_gzipped(path: Path, data: bytes) -> ContactTable:
    """A .csv.gz holding data, opened (sniffed from its head only: gzip files are not
    probed further in, so bad bytes late in one are met while streaming)."""
    with gzip.open(path, "wb") as stream:
        stream.write(data)
    return open_contacts(path)


# --- delimited text ---------------------------------------------------------------------------


def test_plain_csv_reads_header_and_rows_in_order(tmp_path: Path) -> None:
    path = write(tmp_path / "contacts.csv", b"phone,name\n+46701234567,Anna\n0701234568,Bo\n")
    table = open_contacts(path)
    assert table.columns == ["phone", "name"]
    assert table.has_header
    assert (table.encoding, table.delimiter) == ("utf-8", ",")
    assert table.size_bytes == path.stat().st_size
    # Leading + and leading zeros survive: nothing is parsed as a number.
    assert read_rows(table) == [{"phone": "+46701234567", "name": "Anna"},
                                {"phone": "0701234568", "name": "Bo"}]
    assert table.bytes_read == table.size_bytes


@pytest.mark.parametrize(("delimiter", "suffix"), [(";", ".csv"), ("\t", ".tsv"), ("|", ".txt"),
                                                   ("\t", ".txt"), (",", ".txt")])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str, suffix: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["phone", "name", "city"])
    writer.writerow(["46701234567", "Smith, John", "Malmö"])  # a comma inside a value
    writer.writerow(["46701234568", "Doe; Jane", ""])
    path = write(tmp_path / f"contacts{suffix}", buffer.getvalue().encode())
    table = open_contacts(path)
    assert table.delimiter == delimiter
    assert read_rows(table) == [
        {"phone": "46701234567", "name": "Smith, John", "city": "Malmö"},
        {"phone": "46701234568", "name": "Doe; Jane", "city": ""},
    ]


def test_utf8_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    path = write(tmp_path / "excel.csv", "phone;name\n46701234567;Åsa\n".encode("utf-8-sig"))
    table = open_contacts(path)
    assert table.encoding == "utf-8-sig"
    assert table.columns == ["phone", "name"]
    assert read_rows(table) == [{"phone": "46701234567", "name": "Åsa"}]


def test_cp1252_is_detected_and_decoded(tmp_path: Path) -> None:
    text = "phone,first_name,city\n46701234567,Renée,Tromsø\n46701234568,Søren,Zürich\n"
    table = open_contacts(write(tmp_path / "legacy.csv", text.encode("cp1252")))
    assert table.encoding == "cp1252"
    assert [row["first_name"] for row in read_rows(table)] == ["Renée", "Søren"]
    assert [row["city"] for row in read_rows(table)] == ["Tromsø", "Zürich"]


def test_gb18030_is_detected_and_decoded(tmp_path: Path) -> None:
    text = "电话,姓名,城市\n8613800138000,张三,北京\n8613800138001,李四,上海\n"
    table = open_contacts(write(tmp_path / "china.csv", text.encode("gb18030")))
    assert table.encoding == "gb18030"
    assert table.columns == ["电话", "姓名", "城市"]
    assert read_rows(table) == [{"电话": "8613800138000", "姓名": "张三", "城市": "北京"},
                                {"电话": "8613800138001", "姓名": "李四", "城市": "上海"}]


def test_utf16_unicode_text_export(tmp_path: Path) -> None:
    # Excel's "Unicode text": UTF-16 LE with a BOM, tab-delimited, CRLF line ends.
    text = "Phone\tName\r\n46701234567\tÅsa Öberg\r\n46701234568\t王五\r\n"
    table = open_contacts(write(tmp_path / "unicode.txt", text.encode("utf-16")))
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert read_rows(table) == [{"Phone": "46701234567", "Name": "Åsa Öberg"},
                                {"Phone": "46701234568", "Name": "王五"}]


def test_legacy_bytes_far_into_the_file_still_steer_detection(tmp_path: Path) -> None:
    # The accented name sits beyond the first MiB: probes from the middle and end find it.
    path = tmp_path / "late_accent.csv"
    body = "".join(f"4670{i:07d},Name {i}\n" for i in range(100_000))
    path.write_bytes(f"phone,name\n{body}46709999999,Renée\n".encode("cp1252"))
    table = open_contacts(path)
    assert table.encoding == "cp1252"
    assert read_rows(table)[-1] == {"phone": "46709999999", "name": "Renée"}


def test_gzipped_csv(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as stream:
        stream.write("phone;name\n")
        stream.writelines(f"4670{i:07d};Name {i}\n" for i in range(3000))
    table = open_contacts(path)
    assert (table.format, table.delimiter) == ("csv", ";")
    rows = read_rows(table, batch_rows=1000)
    assert len(rows) == 3000
    assert rows[2999] == {"phone": "46700002999", "name": "Name 2999"}
    assert table.bytes_read == table.size_bytes


def test_empty_cells_are_empty_strings_never_null_or_nan(tmp_path: Path) -> None:
    path = write(tmp_path / "gaps.csv",
                 b'phone,name,note\n46701234567,,""\n46701234568,NA,null\n,NaN,\n')
    assert read_rows(open_contacts(path)) == [
        {"phone": "46701234567", "name": "", "note": ""},
        {"phone": "46701234568", "name": "NA", "note": "null"},
        {"phone": "", "name": "NaN", "note": ""},
    ]


def test_quoted_newlines_stay_inside_their_value(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.csv",
                 b'phone,note\n46701234567,"line one\nline two"\n46701234568,"a, b"\n')
    assert read_rows(open_contacts(path)) == [
        {"phone": "46701234567", "note": "line one\nline two"},
        {"phone": "46701234568", "note": "a, b"},
    ]


def test_single_unnamed_column_of_numbers(tmp_path: Path) -> None:
    table = open_contacts(write(tmp_path / "numbers.txt",
                                b"+46 70 123 45 67\n46701234568\n(070) 123-45-69\n"))
    assert table.columns == ["column1"]
    assert not table.has_header
    assert table.delimiter is None
    assert [row["column1"] for row in read_rows(table)] == [
        "+46 70 123 45 67", "46701234568", "(070) 123-45-69"]


def test_headerless_file_with_several_columns(tmp_path: Path) -> None:
    table = open_contacts(write(tmp_path / "raw.csv", b"Anna,46701234567\nBo,46701234568\n"))
    assert (table.columns, table.has_header) == (["column1", "column2"], False)
    assert read_rows(table)[0] == {"column1": "Anna", "column2": "46701234567"}


def test_blank_and_repeated_header_names_are_made_unique(tmp_path: Path) -> None:
    path = write(tmp_path / "messy.csv", b"name,name, ,phone\nA,B,C,46701234567\n")
    table = open_contacts(path)
    assert table.columns == ["name", "name_2", "column3", "phone"]
    assert read_rows(table) == [{"name": "A", "name_2": "B", "column3": "C",
                                 "phone": "46701234567"}]


def test_many_rows_stream_in_several_batches_in_order(tmp_path: Path) -> None:
    # Over 2 MiB, so pyarrow hands over several blocks that get re-cut to batch_rows.
    count = 120_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as stream:
        stream.write("phone,name\n")
        stream.writelines(f"4670{i:07d},Contact number {i}\n" for i in range(count))
    table = open_contacts(path)
    sizes, phones = [], []
    for batch in table.batches(batch_rows=50_000):
        sizes.append(batch.num_rows)
        phones.extend(batch.column("phone").to_pylist())
    assert sizes == [50_000, 50_000, 20_000]
    assert phones == [f"4670{i:07d}" for i in range(count)]


def _three_column_files(directory: Path) -> list[Path]:
    """The same two rows (id, phone, name) as CSV, JSON lines, workbook and Parquet (one
    of them with a nested column first, which Parquet stores as several leaves)."""
    rows = [(1, "46701234567", "Anna"), (2, "46701234568", "Bo")]
    csv_path = write(directory / "c.csv", b"id,phone,name\n"
                     + b"".join(f"{i},{p},{n}\n".encode() for i, p, n in rows))
    jsonl_path = write(directory / "c.jsonl", b"".join(
        json.dumps({"id": i, "phone": p, "name": n}).encode() + b"\n" for i, p, n in rows))
    xlsx_path = directory / "c.xlsx"
    workbook = xlsxwriter.Workbook(str(xlsx_path))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["id", "phone", "name"])
    for at, (i, p, n) in enumerate(rows, start=1):
        sheet.write_row(at, 0, [i, int(p), n])
    workbook.close()
    flat_path, nested_path = directory / "c.parquet", directory / "nested.parquet"
    columns = {"id": [i for i, _, _ in rows], "phone": [p for _, p, _ in rows],
               "name": [n for _, _, n in rows]}
    pq.write_table(pa.table(columns), flat_path)
    pq.write_table(pa.table({"id": pa.array([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]),
                             "phone": columns["phone"], "name": columns["name"]}),
                   nested_path)
    return [csv_path, jsonl_path, xlsx_path, flat_path, nested_path]


def test_only_the_columns_asked_for_in_that_order(tmp_path: Path) -> None:
    for path in _three_column_files(tmp_path):
        table = open_contacts(path)
        batch = next(table.batches(columns=["name", "phone", "name"]))
        assert batch.schema.names == ["name", "phone"], path.name
        assert batch.column("phone").to_pylist() == ["46701234567", "46701234568"], path.name
        assert batch.column("name").to_pylist() == ["Anna", "Bo"], path.name
        everything = next(table.batches())
        assert everything.schema.names == ["id", "phone", "name"], path.name


def test_ragged_rows_are_refused_even_in_columns_not_asked_for(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", b"phone,name\n46701234567,A\n46701234568,B,extra\n")
    with pytest.raises(InputError, match="has 3 fields"):
        list(open_contacts(path).batches(columns=["phone"]))


def test_row_estimate_is_near_the_real_count(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    with path.open("w", encoding="utf-8") as stream:
        stream.write("phone,name\n")
        stream.writelines(f"4670{i:07d},Name {i % 97}\n" for i in range(20_000))
    table = open_contacts(path)
    assert 18_000 <= table.estimated_rows(table.sample()) <= 22_000


@pytest.mark.parametrize("gzipped", [False, True])
def test_json_lines_row_estimate_is_near_the_real_count(tmp_path: Path, gzipped: bool) -> None:
    lines = b"".join(json.dumps({"phone": f"4670{i:07d}", "name": f"Name {i % 97}",
                                 "vip": i % 3 == 0}).encode() + b"\n"
                     for i in range(200_000))
    path = (tmp_path / "c.jsonl.gz" if gzipped else tmp_path / "c.jsonl")
    path.write_bytes(gzip.compress(lines) if gzipped else lines)
    assert 180_000 <= open_contacts(path).estimated_rows() <= 220_000


def test_prefetch_hands_over_results_in_order_and_errors_where_they_happen() -> None:
    with prefetch(iter(range(50)), lambda i: i * i) as squares:
        assert list(squares) == [i * i for i in range(50)]

    def items() -> Iterator[int]:
        yield 1
        raise InputError("broken.csv: cut short")

    with pytest.raises(InputError, match="cut short"), prefetch(items(), str) as results:
        assert next(results) == "1"
        next(results)


def test_prefetch_stops_reading_when_the_consumer_leaves_early() -> None:
    produced: list[int] = []
    closed: list[bool] = []

    def items() -> Iterator[int]:
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError), prefetch(items(), lambda i: i) as results:
        next(results)
        raise RuntimeError("consumer failed")
    assert closed == [True] and len(produced) < 10


def test_sample_returns_the_first_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", b"phone\n" + b"".join(b"4670123456%d\n" % i
                                                            for i in range(10)))
    sample = open_contacts(path).sample(rows=3)
    assert sample.column("phone").to_pylist() == ["46701234560", "46701234561", "46701234562"]


# --- workbooks --------------------------------------------------------------------------------


def test_xlsxwriter_numeric_phone_cells_arrive_as_exact_digits(tmp_path: Path) -> None:
    path = tmp_path / "contacts.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet("Contacts")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["Phone", "Name", "Subscribed", "Since", "Score"])
    sheet.write_row(1, 0, [46701234567, "Anna", True])
    sheet.write_datetime(1, 3, dt.datetime(2024, 1, 2), date_format)
    sheet.write_number(1, 4, 12.5)
    sheet.write_number(2, 0, 467012345678901234)  # 18 digits: beyond Excel's 15
    sheet.write_string(2, 1, "0701234567")  # text cell keeps its leading zero
    sheet.write_number(3, 0, 46701234569.0)
    workbook.close()

    table = open_contacts(path)
    assert (table.format, table.sheet, table.encoding, table.delimiter) == (
        "xlsx", "Contacts", None, None)
    rows = read_rows(table)
    assert rows[0] == {"Phone": "46701234567", "Name": "Anna", "Subscribed": "TRUE",
                       "Since": "2024-01-02", "Score": "12.5"}
    assert rows[1]["Phone"] == "4.67012345678901e+17"
    assert rows[1]["Name"] == "0701234567"
    assert rows[2] == {"Phone": "46701234569", "Name": "", "Subscribed": "", "Since": "",
                       "Score": ""}


def test_openpyxl_workbook_and_sheet_choice(tmp_path: Path) -> None:
    path = tmp_path / "two_sheets.xlsx"
    workbook = openpyxl.Workbook()
    first = workbook.active
    first.title = "Notes"
    first.append(["note"])
    first.append(["call after five"])
    second = workbook.create_sheet("Contacts")
    second.append(["Mobile", "Name"])
    second.append([46701234567, "Øyvind"])
    second.append([None, "no number"])
    workbook.save(path)

    assert open_contacts(path).sheet == "Notes"
    for choice in ("Contacts", 1, "1"):
        table = open_contacts(path, sheet=choice)
        assert table.sheet == "Contacts"
        assert read_rows(table) == [{"Mobile": "46701234567", "Name": "Øyvind"},
                                    {"Mobile": "", "Name": "no number"}]
    with pytest.raises(InputError, match=r"no sheet 'Kontakter'.*'Notes', 'Contacts'"):
        open_contacts(path, sheet="Kontakter")
    with pytest.raises(InputError, match=r"no sheet number 5 .*'Notes', 'Contacts'"):
        open_contacts(path, sheet=5)


def test_workbook_without_header_and_blank_rows_around(tmp_path: Path) -> None:
    path = tmp_path / "bare.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_number(2, 1, 46701234567)  # data starts at B3
    sheet.write_number(4, 1, 46701234568)  # a blank row in between
    workbook.close()
    table = open_contacts(path)
    assert (table.columns, table.has_header) == (["column1"], False)
    assert read_rows(table) == [{"column1": "46701234567"}, {"column1": "46701234568"}]


def test_workbook_streams_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["phone", "n"])
    for i in range(2500):
        sheet.write_row(i + 1, 0, [46700000000 + i, i])
    workbook.close()
    batches = list(open_contacts(path).batches(batch_rows=1000))
    assert [batch.num_rows for batch in batches] == [1000, 1000, 500]
    assert batches[2].column("n").to_pylist()[-1] == "2499"


def test_header_only_and_empty_sheets_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "header.xlsx"
    workbook = xlsxwriter.Workbook(path)
    workbook.add_worksheet("Header").write_row(0, 0, ["phone", "name"])
    workbook.add_worksheet("Blank")
    workbook.close()
    with pytest.raises(InputError, match=r"header\.xlsx: sheet 'Header' has a header row .*"
                                         r"but no data rows"):
        open_contacts(path)
    with pytest.raises(InputError, match=r"sheet 'Blank' is empty"):
        open_contacts(path, sheet="Blank")


# --- Parquet and JSON lines -------------------------------------------------------------------


def test_parquet_typed_columns_become_exact_text(tmp_path: Path) -> None:
    path = tmp_path / "contacts.parquet"
    table = pa.table({
        "msisdn": pa.array([46701234567, 8613800138000, None], pa.int64()),
        "name": pa.array(["Anna", None, "Cé"], pa.string()),
        "as_float": pa.array([46701234567.0, 4.670123456789012e17, None], pa.float64()),
        "vip": pa.array([True, False, None]),
        "since": pa.array([dt.date(2024, 1, 2), None, None]),
        "city": pa.array(["Lund", "Lund", None]).dictionary_encode(),
    })
    pq.write_table(table, path, row_group_size=2)
    opened = open_contacts(path)
    assert (opened.format, opened.has_header) == ("parquet", True)
    assert opened.columns == ["msisdn", "name", "as_float", "vip", "since", "city"]
    assert read_rows(opened, batch_rows=2) == [
        {"msisdn": "46701234567", "name": "Anna", "as_float": "46701234567", "vip": "true",
         "since": "2024-01-02", "city": "Lund"},
        {"msisdn": "8613800138000", "name": "", "as_float": "4.67012345678901e+17",
         "vip": "false", "since": "", "city": "Lund"},
        {"msisdn": "", "name": "Cé", "as_float": "", "vip": "", "since": "", "city": ""},
    ]


def test_jsonl_numbers_and_strings(tmp_path: Path) -> None:
    lines = [
        '{"phone": 46701234567, "name": "Anna", "vip": true}',
        '{"phone": "+46 70 123 45 68", "name": null, "extra": {"a": 1}}',
        "",
        '{"phone": 46701234569.0, "name": "Bo"}',
        '{"phone": 4.670123456789012e17}',
        '{"phone": 123456789012345678901234567890}',
    ]
    path = write(tmp_path / "contacts.jsonl", "\n".join(lines).encode())
    table = open_contacts(path)
    assert table.columns == ["phone", "name", "vip", "extra"]
    assert read_rows(table) == [
        {"phone": "46701234567", "name": "Anna", "vip": "true", "extra": ""},
        {"phone": "+46 70 123 45 68", "name": "", "vip": "", "extra": '{"a":1}'},
        {"phone": "46701234569", "name": "Bo", "vip": "", "extra": ""},
        {"phone": "4.67012345678901e+17", "name": "", "vip": "", "extra": ""},
        {"phone": "123456789012345678901234567890", "name": "", "vip": "", "extra": ""},
    ]


def test_jsonl_bad_lines_name_the_line(tmp_path: Path) -> None:
    good = json.dumps({"phone": "46701234567"})
    path = write(tmp_path / "broken.jsonl", f"{good}\n{good}\n{{oops\n".encode())
    with pytest.raises(InputError, match=r"broken\.jsonl: line 3 is not valid JSON"):
        open_contacts(path)  # found while scanning the first lines for keys
    path = write(tmp_path / "late.jsonl", f"{good}\n".encode() * 1500 + b"[1, 2]\n")
    table = open_contacts(path)
    with pytest.raises(InputError, match=r"late\.jsonl: line 1501 is a JSON list, not an object"):
        read_rows(table)
    # Blank lines count as lines: the number is the one an editor shows.
    path = write(tmp_path / "gaps.jsonl", f"\n\n{good}\n\n{good}\n \n\"text\"\n".encode())
    with pytest.raises(InputError, match=r"gaps\.jsonl: line 7 is a JSON str, not an object"):
        open_contacts(path)
    path = write(tmp_path / "gaps2.jsonl", f"\n{good}\n\n{{bad\n".encode())
    with pytest.raises(InputError, match=r"gaps2\.jsonl: line 4 is not valid JSON"):
        open_contacts(path)


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data", "message"), [
    ("empty.csv", b"", r"empty\.csv: the file is empty"),
    ("blank.csv", b"\n \r\n\n", r"blank\.csv: the file is empty"),
    ("header.csv", b"phone,name\r\n", r"header\.csv: has a header row \(phone, name\) but no "
                                      r"data rows"),
    ("noise.csv", random.Random(7).randbytes(5000) + b"\x00", r"noise\.csv: .*looks binary"),
    ("controls.txt", bytes(range(1, 9)) * 300, r"controls\.txt: .*looks binary"),
    ("book.csv", b"PK\x03\x04" + bytes(100), r"book\.csv: this is a ZIP archive"),
    ("contacts.docx", b"phone\n1\n", r"contacts\.docx: unknown file type \(\.docx\)"),
    ("contacts", b"phone\n1\n", r"contacts: unknown file type \(no extension\)"),
    ("fake.xlsx", b"phone,name\n46701234567,A\n", r"fake\.xlsx: not a readable Excel workbook"),
    ("fake.parquet", b"phone\n46701234567\n", r"fake\.parquet: not a readable Parquet file"),
    ("empty.jsonl", b"\n\n", r"empty\.jsonl: the file is empty"),
])
def test_unusable_files_are_refused_with_one_line(tmp_path: Path, name: str, data: bytes,
                                                  message: str) -> None:
    path = write(tmp_path / name, data)
    with pytest.raises(InputError, match=message) as caught:
        open_contacts(path)
    assert "\n" not in str(caught.value)
    assert name in str(caught.value)


def test_parquet_without_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    pq.write_table(pa.table({"phone": pa.array([], pa.string())}), path)
    with pytest.raises(InputError, match=r"none\.parquet: has columns \(phone\) but no rows"):
        open_contacts(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        open_contacts(tmp_path / "nope.csv")


def test_unknown_encoding_is_refused(tmp_path: Path) -> None:
    # 0x81 and 0x8D are undefined in cp1252, and a GB18030 lead byte needs a trail byte.
    path = write(tmp_path / "odd.csv", b"phone,name\n46701234567,Ma\x81 \x8d\n")
    with pytest.raises(InputError, match=r"odd\.csv: the text is not UTF-8, cp1252 or GB18030"):
        open_contacts(path)


def test_ragged_row_fails_mid_stream_naming_the_row(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", b"phone,name\n46701234567,A\n46701234568,B,extra\n")
    table = open_contacts(path)
    with pytest.raises(InputError, match=r"ragged\.csv: a row at or after data row 1 has 3 "
                                         r"fields where the header has 2 "
                                         r"\('46701234568,B,extra'\)"):
        read_rows(table)


def test_invalid_utf8_beyond_the_sample_fails_mid_stream(tmp_path: Path) -> None:
    table = open_gzipped(tmp_path / "late.csv.gz", b"phone,name\n"
                         + b"46701234567,Anna\n" * 100_000 + b"46701234568,\xff\n")
    assert table.encoding == "utf-8"
    with pytest.raises(InputError, match=r"late\.csv\.gz: bytes that are not valid UTF-8"):
        read_rows(table)


def test_only_the_wanted_columns_are_read_and_checked(tmp_path: Path) -> None:
    # A wide export's unused column with a stray byte neither slows nor stops the plan;
    # the same byte in a wanted column does.
    table = open_gzipped(tmp_path / "wide.csv.gz", b"notes,phone,name\n"
                         + b"x,46701234567,Anna\n" * 100_000 + b"\xff,46701234568,Bo\n")
    batches = list(table.batches(500_000, ["name", "phone"]))
    assert [batch.schema.names for batch in batches] == [["name", "phone"]]
    assert batches[0].num_rows == 100_001
    assert batches[0].slice(100_000).to_pylist() == [{"name": "Bo", "phone": "46701234568"}]
    with pytest.raises(InputError, match=r"wide\.csv\.gz: bytes that are not valid UTF-8"):
        list(table.batches(500_000, ["notes", "phone"]))


def test_a_character_cut_across_two_values_is_not_utf8(tmp_path: Path) -> None:
    # Each value alone is invalid, though their bytes together spell "é".
    table = open_gzipped(tmp_path / "cut.csv.gz", b"phone,name\n"
                         + b"46701234567,Zo\xc3\xab\n" * 100_000
                         + b"46701234567,x\xc3\n46701234568,\xa9y\n")
    assert table.encoding == "utf-8"
    with pytest.raises(InputError, match=r"cut\.csv\.gz: bytes that are not valid UTF-8"):
        read_rows(table)


def test_truncated_gzip_fails_mid_stream(tmp_path: Path) -> None:
    data = gzip.compress(b"phone\n" + b"".join(b"4670%07d\n" % i for i in range(300_000)))
    path = write(tmp_path / "cut.csv.gz", data[: len(data) // 2])
    table = open_contacts(path)
    with pytest.raises(InputError, match=r"cut\.csv\.gz: "):
        read_rows(table)


# --- properties -------------------------------------------------------------------------------

CELL_TEXT = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), include_characters="\n\r\t\","),
    max_size=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(CELL_TEXT, CELL_TEXT, CELL_TEXT), min_size=1, max_size=20))
def test_any_cell_text_round_trips_through_the_csv_module(
        tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    path = tmp_path / "round.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["phone", "name", "note"])
        writer.writerows(rows)
    table = open_contacts(path)
    assert table.delimiter == ","
    assert [tuple(row.values()) for row in read_rows(table)] == rows


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1))
def test_whole_floats_below_1e15_render_as_exact_digits(number: int) -> None:
    assert float_text(float(number)) == str(number)


@given(st.integers(min_value=10**15, max_value=10**30))
def test_floats_from_1e15_render_in_scientific_notation(number: int) -> None:
    text = float_text(float(number))
    assert "e+" in text
    assert float(text) == pytest.approx(number, rel=1e-14)


def test_a_gzipped_file_estimates_its_rows_from_the_size_it_records(tmp_path: Path) -> None:
    # Without an estimate the de-duplication table would grow (and rehash) as it fills.
    rows = b"".join(b"4670%07d,Name %d\n" % (i, i) for i in range(50_000))
    table = open_gzipped(tmp_path / "list.csv.gz", b"phone,name\n" + rows)
    assert 40_000 <= table.estimated_rows() <= 60_000


def test_a_gzip_size_that_cannot_be_the_text_gives_no_estimate(tmp_path: Path) -> None:
    # Longer than the sniffed head, so opening does not reach (and check) the trailer.
    data = bytearray(gzip.compress(b"phone\n" + b"46701234567\n" * 200_000))
    data[-4:] = (1).to_bytes(4, "little")  # as when the size wrapped round 4 GiB
    path = write(tmp_path / "wrapped.csv.gz", bytes(data))
    assert open_contacts(path).estimated_rows() == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=30))
def test_cells_become_arrow_text_exactly(values: list[str]) -> None:
    from ingest.readers import _text_array

    array = _text_array(values)
    assert array.type == pa.string() and array.to_pylist() == values
