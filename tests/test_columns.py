"""Finding the phone column and the text1..text10 columns."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from ingest.columns import (
    ColumnMap,
    looks_like_phone,
    map_columns,
    unique_column_names,
)
from ingest.errors import ConfigError, InputError
from ingest.readers import open_contacts


def sample_of(**columns: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({name: pa.array(values, pa.string())
                                       for name, values in columns.items()})


def test_configured_columns_are_used() -> None:
    mapped = map_columns(["msisdn", "first_name", "city"],
                         {"phone": "msisdn", "text1": "first_name", "text10": "city"},
                         "c.csv")
    assert mapped == ColumnMap(phone="msisdn", texts={"text1": "first_name", "text10": "city"})


def test_configured_name_matches_loosely_when_unambiguous() -> None:
    mapped = map_columns(["Phone Number", "First Name"],
                         {"phone": "phone_number", "text1": "first name"}, "c.csv")
    assert mapped == ColumnMap(phone="Phone Number", texts={"text1": "First Name"})


def test_configured_phone_column_missing_names_key_column_and_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        map_columns(["phone", "name"], {"phone": "msisdn"}, "contacts.csv")
    assert str(caught.value) == ("columns.phone = 'msisdn': contacts.csv has no such column; "
                                 "columns found: 'phone', 'name'")


def test_configured_text_column_missing() -> None:
    with pytest.raises(ConfigError, match=r"columns\.text3 = 'city': c\.csv has no such column"):
        map_columns(["phone", "name"], {"text3": "city"}, "c.csv")


@pytest.mark.parametrize("header", [
    "phone", "Phone", "PHONE_NUMBER", "phone-no", "Mobile Number", "mobile.phone", "MobileNo",
    "MSISDN", "Number", "tel", "Tel. No", "telephone", "Cell", "cell_phone", "calleeNumber",
    "ｐｈｏｎｅ", "Phone　Number",  # full-width letters, full-width space
])
def test_phone_column_is_detected_by_header_name(header: str) -> None:
    assert map_columns(["name", header, "city"], {}, "c.csv").phone == header


def test_no_phone_like_header_asks_for_the_setting() -> None:
    with pytest.raises(InputError) as caught:
        map_columns(["name", "city"], {}, "contacts.csv")
    message = str(caught.value)
    assert message.startswith("contacts.csv: no phone column found")
    assert "'name', 'city'" in message
    assert "[columns].phone" in message


def test_several_phone_like_headers_are_ambiguous() -> None:
    with pytest.raises(InputError, match=r"c\.csv: several columns could hold the phone number "
                                         r"\('phone', 'Mobile'\); set \[columns\]\.phone"):
        map_columns(["phone", "name", "Mobile"], {}, "c.csv")


def test_configured_phone_settles_an_ambiguous_header() -> None:
    assert map_columns(["phone", "mobile"], {"phone": "mobile"}, "c.csv").phone == "mobile"


def test_headerless_single_column_is_the_phone_column() -> None:
    assert map_columns(["column1"], {}, "n.txt").phone == "column1"


def test_headerless_columns_are_told_apart_by_their_values() -> None:
    sample = sample_of(column1=["Anna", "Bo", ""], column2=["+46 70 123 45 67", "0701234568", ""],
                       column3=["12", "7", "3"])
    mapped = map_columns(["column1", "column2", "column3"], {"text1": "column1"}, "raw.csv",
                         sample)
    assert mapped == ColumnMap(phone="column2", texts={"text1": "column1"})


def test_headerless_ambiguity_and_absence_are_errors() -> None:
    columns = ["column1", "column2"]
    twice = sample_of(column1=["46701234567"], column2=["46701234568"])
    with pytest.raises(InputError, match=r"several columns look like phone numbers "
                                         r"\('column1', 'column2'\)"):
        map_columns(columns, {}, "raw.csv", twice)
    none = sample_of(column1=["Anna"], column2=["Lund"])
    with pytest.raises(InputError, match=r"raw\.csv: no header row and no column looks like "
                                         r"phone numbers"):
        map_columns(columns, {}, "raw.csv", none)
    with pytest.raises(InputError, match=r"set \[columns\]\.phone"):
        map_columns(columns, {}, "raw.csv", None)


def test_headerless_file_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("Anna,46701234567,Lund\nBo,46701234568,Malmö\n", encoding="utf-8")
    table = open_contacts(path)
    mapped = map_columns(table.columns, {}, str(path), table.sample())
    assert mapped.phone == "column2"


@pytest.mark.parametrize(("value", "expected"), [
    ("46701234567", True), ("+46 (0)70-123.45/67", True), ("070 123", True),
    ("4.67012345678901e+17", True), ("12345", False), ("phone", False), ("", False),
    ("Anna 46701234567 Lund", False), ("mobile number", False),
])
def test_looks_like_phone(value: str, expected: bool) -> None:
    assert looks_like_phone(value) is expected


def test_unique_column_names_keep_real_names() -> None:
    assert unique_column_names([" phone ", "name", "name", "", "column4", ""]) == [
        "phone", "name", "name_2", "column4_2", "column4", "column6"]
