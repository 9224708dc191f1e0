"""Planning a whole file: every row accounted for, rejects and duplicates files exact,
texts mapped, deterministic names."""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.config import load_config
from ingest.entries import entries_json, read_entries
from ingest.errors import InputError
from ingest.plan import plan_file


def _config(tmp_path: Path, batch: str = "", columns: str = "", name: str = "t") -> object:
    path = tmp_path / "campaign.toml"
    path.write_text(textwrap.dedent(f"""\
        [task]
        appId = "app"
        agentId = 41
        [batch]
        name = "{name}"
        default_country_code = "46"
        {batch}
        [columns]
        {columns}
        """))
    return load_config(path)


def _csv(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header or ["phone", "first_name"])
        writer.writerows(rows)
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_row_lands_in_exactly_one_place(tmp_path: Path) -> None:
    rows = [
        ["+46 70 123 45 67", "Anna"],      # 1 accepted
        ["0701234567", "Anna again"],      # 2 duplicate of row 1 (national form)
        ["hello", "Bad"],                  # 3 rejected
        ["", "Empty"],                     # 4 rejected
        ["0046 70 765 43 21", "Erik"],     # 5 accepted
        ["hello", "Bad again"],            # 6 rejected (invalid values never duplicate)
        ["4.67012E+10", "Float"],          # 7 rejected: precision lost
        ["(070) 765-4321", "Erik again"],  # 8 duplicate of row 5
    ]
    plan = plan_file(_csv(tmp_path / "in.csv", rows), _config(tmp_path, columns=
                     'text1 = "first_name"'), data_dir=tmp_path / "data", keep_entries=True)
    assert (plan.rows, plan.accepted, plan.rejected, plan.duplicates) == (8, 2, 4, 2)
    rejects = _read_csv(plan.rejects_file)
    assert [r["row"] for r in rejects] == ["3", "4", "6", "7"]
    assert [r["value"] for r in rejects] == ["hello", "", "hello", "4.67012E+10"]
    assert rejects[3]["reason_code"] == "precision_lost" and rejects[3]["reason"]
    duplicates = _read_csv(plan.duplicates_file)
    assert [(d["row"], d["first_row"], d["number"]) for d in duplicates] == [
        ("2", "1", "46701234567"), ("8", "5", "46707654321")]
    assert plan.reject_reasons["precision_lost"] == 1
    entries = read_entries(plan.entries_file, 0, plan.accepted).to_pylist()
    assert entries == [{"calleeNumber": "46701234567", "text1": "Anna"},
                       {"calleeNumber": "46707654321", "text1": "Erik"}]


def test_texts_are_trimmed_truncated_and_empty_ones_omitted(tmp_path: Path) -> None:
    long_name = "Maximiliana " * 5
    rows = [["46701111111", "  Anna  ", "Stockholm"], ["46702222222", "", "  "],
            ["46703333333", long_name, ""]]
    plan = plan_file(_csv(tmp_path / "in.csv", rows, ["phone", "name", "city"]),
                     _config(tmp_path, columns='text1 = "name"\ntext2 = "city"'),
                     data_dir=tmp_path / "d", keep_entries=True)
    body = entries_json(read_entries(plan.entries_file, 0, 3))
    assert body == (b'[{"calleeNumber":"46701111111","text1":"Anna","text2":"Stockholm"},'
                    b'{"calleeNumber":"46702222222"},'
                    b'{"calleeNumber":"46703333333","text1":"' + long_name[:30].encode()
                    + b'"}]')
    assert plan.truncated_texts == 1
    assert b"nan" not in body and b'""' not in body


def test_batch_size_never_changes_the_plan(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    phones = ["+46 70 111 11 11", "0701111111", "x", "+46 70 222 22 22", "",
              "0046702222222", "(070) 333 33 33", "46703333333", "4.6E+10", "0701111111"]
    names = ["  Anna ", "", "Bad", "Maximiliana " * 4, "Zoë", "B", "C", "D", "E", "F"]
    rows = [[phones[i % 10], names[(i * 3) % 10]] for i in range(37)]
    contacts = _csv(tmp_path / "in.csv", rows)
    config = _config(tmp_path, columns='text1 = "first_name"')

    def outcome(batch_rows: int) -> tuple[object, ...]:
        monkeypatch.setattr("ingest.plan.BATCH_ROWS", batch_rows)
        plan = plan_file(contacts, config, data_dir=tmp_path / f"d{batch_rows}",
                         keep_entries=True)
        return (plan.to_json()["chunks"], plan.rows, plan.accepted, plan.truncated_texts,
                plan.reject_reasons, plan.preview, _read_csv(plan.rejects_file),
                _read_csv(plan.duplicates_file),
                read_entries(plan.entries_file, 0, plan.accepted).to_pylist())

    whole = outcome(1000)
    assert whole[1:3] == (37, 3)
    assert outcome(4) == whole == outcome(1)


def test_entry_json_escapes_texts_exactly_like_orjson() -> None:
    texts = ['say "hi"', "back\\slash", "two\nlines\ttab", "\x01bell", "Zoë 😀 \u2028", "/<>&",
             None, ""]
    table = pa.table({"calleeNumber": [f"4670111111{i}" for i in range(len(texts))],
                      "text1": texts, "text2": list(reversed(texts))})
    expected = [{"calleeNumber": number, **{k: v for k, v in (("text1", t1), ("text2", t2))
                                            if v}}
                for number, t1, t2 in zip(table.column("calleeNumber").to_pylist(), texts,
                                          list(reversed(texts)), strict=True)]
    assert entries_json(table) == orjson.dumps(expected)
    assert entries_json(table.slice(2, 3)) == orjson.dumps(expected[2:5])
    assert entries_json(table.slice(0, 0)) == b"[]"


def test_a_dry_run_never_imports_pandas(tmp_path: Path) -> None:
    # pyarrow imports pandas on pa.array(), pa.scalar() and to_numpy(): a fifth of a second
    # of every dry run, for nothing. The planning path converts through buffers instead.
    contacts = _csv(tmp_path / "in.csv", [["+46 70 123 45 67", "Anna"], ["x", "Bo"],
                                          ["0701234567", "Dup"], ["\u0661\u0662", "Ö"]])
    _config(tmp_path, columns='text1 = "first_name"')
    script = textwrap.dedent(f"""\
        import sys
        from pathlib import Path
        from ingest.config import load_config
        from ingest.plan import plan_file
        plan = plan_file({str(contacts)!r}, load_config({str(tmp_path / "campaign.toml")!r}),
                         data_dir=Path({str(tmp_path / "d")!r}))
        assert (plan.accepted, plan.rejected, plan.duplicates) == (1, 2, 1), plan
        print("pandas" in sys.modules)
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_required_texts_and_suppression_are_rejects_with_their_reason(tmp_path: Path) -> None:
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("number\n+46 70 999 99 99\n")
    rows = [["46701111111", "Anna"], ["46702222222", ""], ["0709999999", "Sup"]]
    config = _config(tmp_path, batch='required_texts = ["text1"]\nsuppress = ["dnc.csv"]',
                     columns='text1 = "first_name"')
    plan = plan_file(_csv(tmp_path / "in.csv", rows), config, data_dir=tmp_path / "d")
    assert plan.accepted == 1
    assert {r["row"]: r["reason_code"] for r in _read_csv(plan.rejects_file)} == {
        "2": "missing_text", "3": "suppressed"}


def test_a_row_rejected_first_does_not_make_a_later_valid_one_a_duplicate(
        tmp_path: Path) -> None:
    rows = [["46701111111", ""], ["46701111111", "Anna"]]
    config = _config(tmp_path, batch='required_texts = ["text1"]',
                     columns='text1 = "first_name"')
    plan = plan_file(_csv(tmp_path / "in.csv", rows), config, data_dir=tmp_path / "d")
    assert (plan.accepted, plan.rejected, plan.duplicates) == (1, 1, 0)


def test_strict_validation_rejects_numbers_invalid_for_their_country(tmp_path: Path) -> None:
    rows = [["46701234567", "mobile"], ["46812345678", "fixed"], ["46000000000", "invalid"]]
    plan = plan_file(_csv(tmp_path / "in.csv", rows),
                     _config(tmp_path, batch='validation = "strict"\nmobile_only = true'),
                     data_dir=tmp_path / "d")
    reasons = {r["row"]: r["reason_code"] for r in _read_csv(plan.rejects_file)}
    assert plan.accepted == 1
    assert reasons == {"2": "not_mobile", "3": "invalid_number"}


def test_names_are_deterministic_and_change_with_content_or_run_id(tmp_path: Path) -> None:
    config = _config(tmp_path, batch="chunk_size = 2", name="nov-promo")
    contacts = _csv(tmp_path / "in.csv", [[f"4670111111{i}", "x"] for i in range(5)])
    first = plan_file(contacts, config, data_dir=tmp_path / "d")
    again = plan_file(contacts, config, data_dir=tmp_path / "d")
    rerun = plan_file(contacts, config, data_dir=tmp_path / "d", run_id="second")
    other = plan_file(_csv(tmp_path / "other.csv", [["46701111119", "x"]]), config,
                      data_dir=tmp_path / "d")
    names = [c.task_name for c in first.chunks]
    assert names == [c.task_name for c in again.chunks]
    assert len(names) == 3 and [c.count for c in first.chunks] == [2, 2, 1]
    assert all(n.startswith(first.campaign + "-") for n in names)
    assert first.campaign.startswith("nov-promo-")
    assert rerun.campaign != first.campaign and other.campaign != first.campaign


def test_xlsx_numeric_cells_reach_the_entries_as_exact_digits(tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "in.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Mobile", "Name"])
    sheet.write_number(1, 0, 46701234567)
    sheet.write_string(1, 1, "Anna")
    sheet.write_number(2, 0, 467012345678901234)  # 18 digits: Excel already rounded it
    sheet.write_string(2, 1, "Lost")
    book.close()
    plan = plan_file(path, _config(tmp_path), data_dir=tmp_path / "d", keep_entries=True)
    assert read_entries(plan.entries_file, 0, 1).column("calleeNumber").to_pylist() == [
        "46701234567"]
    assert [r["reason_code"] for r in _read_csv(plan.rejects_file)] == ["precision_lost"]


def test_a_file_with_only_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("phone,name\n")
    with pytest.raises(InputError, match=r"empty\.csv"):
        plan_file(path, _config(tmp_path), data_dir=tmp_path / "d")


cell = st.one_of(
    st.integers(10**5, 10**17).map(str),                      # digits, some too long/short
    st.sampled_from(["+46 70 111 22 33", "0701112233", "0046701112233", "(070) 111-2233",
                     "", "n/a", "4.6E+10", "46701112233.0", "0", "+", "00000000"]),
    st.text(alphabet="0123456789 +-()./abc", max_size=22),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(cell, min_size=1, max_size=60), chunk_size=st.integers(1, 7))
def test_accounting_invariant_for_any_input(tmp_path: Path, values: list[str],
                                            chunk_size: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="case-", dir=tmp_path))  # examples may be re-run
    contacts = _csv(work / "in.csv", [[v, "x"] for v in values])
    plan = plan_file(contacts, _config(work, batch=f"chunk_size = {chunk_size}"),
                     data_dir=work / "d", keep_entries=True)
    assert plan.rows == len(values)
    assert plan.rows == plan.accepted + plan.rejected + plan.duplicates
    assert len(_read_csv(plan.rejects_file)) == plan.rejected
    assert len(_read_csv(plan.duplicates_file)) == plan.duplicates
    assert sum(c.count for c in plan.chunks) == plan.accepted
    assert all(c.count <= chunk_size for c in plan.chunks)
    numbers = pa.ipc.open_file(str(plan.entries_file)).read_all().column("calleeNumber")
    numbers = numbers.to_pylist()
    assert len(set(numbers)) == len(numbers) == plan.accepted
    assert all(n.isdigit() and 6 <= len(n) <= 18 for n in numbers)
    rows = sorted(int(r["row"]) for r in _read_csv(plan.rejects_file)) + sorted(
        int(d["row"]) for d in _read_csv(plan.duplicates_file))
    assert len(set(rows)) == len(rows)  # no row both rejected and duplicate
