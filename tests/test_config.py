"""The campaign config: what a user writes, what laaffic-batch accepts, and what it tells them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.config import (
    BatchSettings,
    config_from_mapping,
    load_config,
    parse_duration,
    task_errors,
)
from ingest.errors import ConfigError

CONTRACT_EXAMPLE = """\
[task]                 # API fields, the API's own names, sent with every chunk
appId = "2Xql9RBI"
agentId = 41
displayNum = "1008122211"          # optional
maxCalls = 300                     # optional, 1..999
maxRingingTime = 60                # optional, 10..120
enableRecording = 1                # optional, 0 or 1
calloutRate = 1                    # optional
sendTime = "2026-11-24 02:00:00"   # optional; absent = call at once
allowSendTime = [ { strTime = "09:00", endTime = "12:00" } ]   # optional, at most 3
[task.recallFlow]                  # optional
recallType = 3
recallInterval = 1
recallNum = 2
recallIntent = ["99998", "99999"]
nodeList = [ { agentId = 41 }, { agentId = 41 } ]

[batch]
name = "nov-promo"            # task-name prefix
chunk_size = 200000           # 1..200000, never above the API's cap
default_country_code = "46"   # optional: prefix for numbers written in national form

[columns]                     # optional: phone column auto-detected when absent
phone = "msisdn"
text1 = "first_name"          # text1..text10 map to input columns
"""

MINIMAL_TASK = {"appId": "2Xql9RBI", "agentId": 41}


def write(tmp_path: Path, text: str, name: str = "campaign.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def mapping(task: dict[str, Any] | None = None, **tables: Any) -> dict[str, Any]:
    """A config as a pushed job would carry it: the minimal task plus any changes."""
    return {"task": {**MINIMAL_TASK, **(task or {})}, **tables}


def refusal(data: dict[str, Any], base_dir: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(data, "job crm-42", base_dir=base_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("job crm-42: ")
    return message


# ---------------------------------------------------------------- accepted configs


def test_contract_example_loads_with_every_field(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONTRACT_EXAMPLE))

    assert config.task == {
        "appId": "2Xql9RBI",
        "agentId": 41,
        "displayNum": "1008122211",
        "maxCalls": 300,
        "maxRingingTime": 60,
        "enableRecording": 1,
        "calloutRate": 1,
        "sendTime": "2026-11-24 02:00:00",
        "allowSendTime": [{"strTime": "09:00", "endTime": "12:00"}],
        "recallFlow": {
            "recallType": 3,
            "recallInterval": 1,
            "recallNum": 2,
            "recallIntent": ["99998", "99999"],
            "nodeList": [{"agentId": 41}, {"agentId": 41}],
        },
    }
    assert config.batch.name == "nov-promo"
    assert config.batch.chunk_size == 200_000
    assert config.batch.default_country_code == "46"
    assert config.columns == {"phone": "msisdn", "text1": "first_name"}
    assert config.source == str(tmp_path / "campaign.toml")
    assert task_errors(config.task) == []


def test_absent_keys_take_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[task]\nappId = "a1"\nagentId = 7\n'))

    assert config.task == {"appId": "a1", "agentId": 7}
    assert config.columns == {}
    assert config.batch == BatchSettings()
    assert config.batch.name == "laaffic"
    assert config.batch.chunk_size == 200_000
    assert config.batch.default_country_code is None
    assert config.batch.validation == "basic"
    assert config.batch.mobile_only is False
    assert config.batch.max_in_flight == 2
    assert config.batch.max_attempts == 8
    assert config.batch.max_age == 43200.0
    assert config.batch.chunk_ttl == 604800.0
    assert config.batch.provider_timezone == "Asia/Shanghai"
    assert config.batch.webhook_url is None


def test_every_batch_setting_is_read(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "dnc.csv").write_text("46701234567\n")
    text = """\
[task]
appId = "a1"
agentId = 7
[batch]
name = "spring"
chunk_size = 5000
default_country_code = "+1"
validation = "strict"
mobile_only = true
required_texts = ["text2", "text1", "text2"]
suppress = ["lists/dnc.csv"]
max_in_flight = 5
max_attempts = 3
max_age = "90m"
chunk_ttl = "2d"
provider_timezone = "Europe/Stockholm"
webhook_url = "https://hooks.example.com/laaffic"
[columns]
phone = "tel"
text1 = "first"
text2 = "last"
"""
    batch = load_config(write(tmp_path, text)).batch

    assert batch == BatchSettings(
        name="spring",
        chunk_size=5000,
        default_country_code="1",
        validation="strict",
        mobile_only=True,
        required_texts=("text1", "text2"),
        suppress=((tmp_path / "lists" / "dnc.csv").resolve(),),
        max_in_flight=5,
        max_attempts=3,
        max_age=5400.0,
        chunk_ttl=172800.0,
        provider_timezone="Europe/Stockholm",
        webhook_url="https://hooks.example.com/laaffic",
    )


def test_suppress_paths_resolve_against_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "dnc.txt").write_text("46701234567\n")
    monkeypatch.chdir(tmp_path)  # the working directory must not matter
    text = '[task]\nappId = "a"\nagentId = 1\n[batch]\nsuppress = ["dnc.txt"]\n'

    config = load_config(write(config_dir, text))

    assert config.batch.suppress == ((config_dir / "dnc.txt").resolve(),)


def test_config_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[task]\nappId = "a"\nagentId = 1\n')

    assert load_config(path).task == {"appId": "a", "agentId": 1}


@pytest.mark.parametrize(
    "send_time",
    [
        "2026-11-24 02:00:00",
        "2026-11-24T02:00:00+01:00",
        "2026-11-24T02:00:00Z",
        "2026-11-24T02:00:00[Europe/Stockholm]",
        "2026-11-24T02:00:00+01:00[Europe/Stockholm]",
    ],
)
def test_send_time_forms_are_accepted_and_kept_as_written(send_time: str) -> None:
    config = config_from_mapping(mapping({"sendTime": send_time}), "job 1")

    assert config.task["sendTime"] == send_time


def test_unquoted_toml_date_times_become_send_time_text(tmp_path: Path) -> None:
    local = load_config(
        write(tmp_path, '[task]\nappId = "a"\nagentId = 1\nsendTime = 2026-11-24 02:00:00\n')
    )
    with_offset = load_config(
        write(tmp_path, '[task]\nappId = "a"\nagentId = 1\nsendTime = 2026-11-24T02:00:00+01:00\n')
    )

    assert local.task["sendTime"] == "2026-11-24 02:00:00"
    assert with_offset.task["sendTime"] == "2026-11-24T02:00:00+01:00"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [(30, 30.0), (1.5, 1.5), ("30s", 30.0), ("90m", 5400.0), ("12h", 43200.0), ("2d", 172800.0)],
)
def test_durations_accept_seconds_and_unit_strings(written: object, seconds: float) -> None:
    assert parse_duration(written) == seconds
    config = config_from_mapping(mapping(batch={"max_age": written, "chunk_ttl": "30d"}), "j")
    assert config.batch.max_age == seconds


def test_json_nulls_mean_not_given() -> None:
    data = {
        "task": {**MINIMAL_TASK, "sendTime": None, "displayNum": None},
        "batch": {"name": "crm", "default_country_code": None, "webhook_url": None},
        "columns": None,
    }

    config = config_from_mapping(data, "job crm-42")

    assert config.task == MINIMAL_TASK
    assert config.batch.name == "crm"
    assert config.columns == {}


def test_config_from_mapping_does_not_change_its_input() -> None:
    data = mapping({"sendTime": "2026-11-24 02:00:00"}, batch={"name": "crm"})
    before = copy.deepcopy(data)

    config = config_from_mapping(data, "job 1")
    config.task["maxCalls"] = 5

    assert data == before


# ---------------------------------------------------------------- refused configs


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({"appId": ""}, "task.appId"),
        ({"appId": 12}, "task.appId"),
        ({"agentId": True}, "task.agentId = true must be an integer"),
        ({"agentId": 4.0}, "task.agentId = 4.0 must be an integer"),
        ({"agentId": "41"}, 'task.agentId = "41" must be an integer: write agentId = 41 without'),
        ({"displayNum": 1008122211}, "task.displayNum = 1008122211 must be a string"),
        ({"displayNum": "1" * 21}, "must be 0-20 digits"),
        ({"displayNum": "+4670"}, 'task.displayNum = "+4670" must be 0-20 digits'),
        ({"maxCalls": 0}, "task.maxCalls = 0 is out of range: allowed 1..999"),
        ({"maxCalls": 1000}, "task.maxCalls = 1000 is out of range: allowed 1..999"),
        ({"maxRingingTime": 5}, "task.maxRingingTime = 5 is out of range: allowed 10..120"),
        ({"enableRecording": 2}, "task.enableRecording = 2 is out of range: allowed 0 or 1"),
        ({"enableRecording": True}, "task.enableRecording = true must be an integer"),
        ({"calloutRate": 0}, "task.calloutRate = 0 is out of range: allowed >= 1"),
        ({"sendTime": "tomorrow"}, 'task.sendTime = "tomorrow" is not a valid time'),
        ({"sendTime": "2026-13-40 02:00:00"}, "task.sendTime"),
        ({"sendTime": "2026-11-24"}, "task.sendTime"),
        ({"sendTime": "2026-11-24T02:00:00"}, "has no offset"),
        ({"sendTime": "2026-11-24T02:00:00[Mars/Olympus]"}, "task.sendTime"),
        ({"sendTime": 1700000000}, "task.sendTime = 1700000000 must be a string"),
        ({"allowSendTime": {"strTime": "09:00", "endTime": "12:00"}}, "task.allowSendTime must"),
        (
            {"allowSendTime": [{"strTime": "09:00", "endTime": "10:00"}] * 4},
            "task.allowSendTime has 4 slots: allowed at most 3",
        ),
        ({"allowSendTime": [{"strTime": "9:00", "endTime": "12:00"}]}, "allowSendTime[0].strTime"),
        ({"allowSendTime": [{"strTime": "09:00", "endTime": "24:00"}]}, "allowSendTime[0].endTime"),
        ({"allowSendTime": [{"strTime": "09:00"}]}, "task.allowSendTime[0].endTime is missing"),
        (
            {"allowSendTime": [{"strTime": "12:00", "endTime": "09:00"}]},
            "task.allowSendTime[0]: strTime 12:00 must be before endTime 09:00",
        ),
        (
            {"allowSendTime": [{"strTime": "09:00", "endTime": "12:00", "days": "mon"}]},
            "task.allowSendTime[0].days is not a known key",
        ),
        ({"allowSendTime": ["09:00-12:00"]}, "task.allowSendTime[0]"),
        ({"recallFlow": 3}, "task.recallFlow must be a table"),
        (
            {"recallFlow": {"recallInterval": 1, "recallNum": 1}},
            "task.recallFlow.recallType is missing",
        ),
        (
            {"recallFlow": {"recallType": 0, "recallNum": 1}},
            "task.recallFlow.recallInterval is missing",
        ),
        (
            {"recallFlow": {"recallType": 0, "recallInterval": 1}},
            "task.recallFlow.recallNum is missing",
        ),
        (
            {"recallFlow": {"recallType": 2, "recallInterval": 1, "recallNum": 1}},
            "task.recallFlow.recallType = 2 is out of range: allowed 0",
        ),
        (
            {"recallFlow": {"recallType": 0, "recallInterval": -1, "recallNum": 1}},
            "task.recallFlow.recallInterval = -1 is out of range: allowed >= 0",
        ),
        (
            {"recallFlow": {"recallType": 0, "recallInterval": 1, "recallNum": 0}},
            "task.recallFlow.recallNum = 0 is out of range: allowed >= 1",
        ),
        (
            {"recallFlow": {"recallType": 3, "recallInterval": 1, "recallNum": 1,
                            "recallIntent": [99998]}},
            "task.recallFlow.recallIntent",
        ),
        (
            {"recallFlow": {"recallType": 3, "recallInterval": 1, "recallNum": 1,
                            "nodeList": [{"agentId": 41}, {}]}},
            "task.recallFlow.nodeList[1].agentId is missing",
        ),
        (
            {"recallFlow": {"recallType": 3, "recallInterval": 1, "recallNum": 1,
                            "nodeList": [{"agentId": "41"}]}},
            "task.recallFlow.nodeList[0].agentId",
        ),
        (
            {"recallFlow": {"recallType": 3, "recallInterval": 1, "recallNum": 1,
                            "recalNum": 2}},
            "task.recallFlow.recalNum is not a known key: did you mean recallNum?",
        ),
    ],
)
def test_invalid_task_fields_are_refused_naming_the_key(
    task: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(mapping(task))


def test_missing_required_task_fields_are_named() -> None:
    message = refusal({"task": {"displayNum": "1"}})

    assert "task.appId is missing" in message
    assert "task.agentId is missing" in message


def test_missing_task_table_is_refused() -> None:
    assert "[task] is missing" in refusal({"batch": {"name": "x"}})


@pytest.mark.parametrize(
    ("key", "reason"),
    [("taskName", "from batch.name"), ("numberInfoList", "from the contact file")],
)
def test_fields_laaffic_batch_sets_are_refused_in_task(key: str, reason: str) -> None:
    message = refusal(mapping({key: "x"}))

    assert f"task.{key} cannot be set" in message
    assert reason in message


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        ({"name": ""}, "batch.name"),
        ({"name": "n" * 52}, "batch.name"),
        ({"name": "bad\tname"}, "batch.name"),
        ({"name": "a/b"}, "batch.name"),
        ({"name": 7}, "batch.name = 7"),
        ({"chunk_size": 0}, "batch.chunk_size = 0 is out of range: allowed 1..200000"),
        ({"chunk_size": "100"}, 'batch.chunk_size = "100" must be an integer'),
        ({"default_country_code": "046"}, "batch.default_country_code"),
        ({"default_country_code": "1234"}, "batch.default_country_code"),
        ({"default_country_code": "SE"}, "batch.default_country_code"),
        ({"validation": "lenient"}, 'batch.validation = "lenient" is not allowed'),
        ({"mobile_only": True}, 'batch.mobile_only = true needs validation = "strict"'),
        ({"mobile_only": "yes"}, "batch.mobile_only"),
        ({"required_texts": ["text11"]}, 'batch.required_texts: "text11" is not one of'),
        ({"required_texts": "text1"}, "batch.required_texts"),
        ({"required_texts": ["text3"]}, "batch.required_texts: text3 is not mapped in [columns]"),
        ({"suppress": [3]}, "batch.suppress"),
        ({"max_in_flight": 0}, "batch.max_in_flight = 0 is out of range: allowed 1..100"),
        ({"max_in_flight": 101}, "batch.max_in_flight"),
        ({"max_attempts": 0}, "batch.max_attempts = 0 is out of range: allowed 1..100"),
        ({"max_age": "12 hours"}, 'batch.max_age = "12 hours" is not a duration'),
        ({"max_age": 0}, "batch.max_age"),
        ({"max_age": -5}, "batch.max_age"),
        ({"chunk_ttl": "soon"}, "batch.chunk_ttl"),
        ({"chunk_ttl": "1h"}, "batch.chunk_ttl (3600s) is shorter than batch.max_age"),
        ({"provider_timezone": "Mars/Olympus"}, "batch.provider_timezone"),
        ({"provider_timezone": ""}, "batch.provider_timezone"),
        ({"webhook_url": "ftp://example.com/x"}, "batch.webhook_url"),
        ({"webhook_url": "https://"}, "batch.webhook_url"),
        ({"webhook_url": "https://exa mple.com"}, "batch.webhook_url"),
    ],
)
def test_invalid_batch_settings_are_refused_naming_the_key(
    batch: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(mapping(batch=batch, columns={"text1": "first"}))


def test_batch_name_limit_explains_the_task_name_cap() -> None:
    message = refusal(mapping(batch={"name": "n" * 52}))

    assert "1..51 characters" in message
    assert "64" in message
    assert config_from_mapping(mapping(batch={"name": "n" * 51}), "j").batch.name == "n" * 51


def test_chunk_size_above_the_api_cap_names_the_cap() -> None:
    message = refusal(mapping(batch={"chunk_size": 200_001}))

    assert "batch.chunk_size = 200001 is out of range: allowed 1..200000" in message
    assert "the API takes at most 200000 numbers per task" in message


def test_missing_suppress_file_is_named(tmp_path: Path) -> None:
    message = refusal(mapping(batch={"suppress": ["dnc/missing.csv"]}), base_dir=tmp_path)

    assert 'batch.suppress[0] = "dnc/missing.csv": no such file' in message
    assert str(tmp_path / "dnc" / "missing.csv") in message


def test_mobile_only_is_allowed_with_strict_validation() -> None:
    config = config_from_mapping(
        mapping(batch={"validation": "strict", "mobile_only": True}), "job 1"
    )

    assert config.batch.mobile_only is True


def test_close_time_zone_name_is_suggested() -> None:
    assert "did you mean Asia/Shanghai?" in refusal(
        mapping(batch={"provider_timezone": "asia/shanghai"})
    )


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"phone": ""}, "columns.phone"),
        ({"phone": 3}, "columns.phone = 3"),
        ({"text1": "  "}, "columns.text1"),
        ({"text11": "x"}, "columns.text11 is not a known key"),
        ({"mobile": "x"}, "columns.mobile is not a known key"),
    ],
)
def test_invalid_columns_are_refused_naming_the_key(
    columns: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(mapping(columns=columns))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (mapping({"maxRingTime": 60}), "task.maxRingTime is not a known key: did you mean "
                                       "maxRingingTime?"),
        (mapping({"appid": "x"}), "task.appid is not a known key: did you mean appId?"),
        (mapping(batch={"chunksize": 5}), "batch.chunksize is not a known key: did you mean "
                                          "chunk_size?"),
        (mapping(batch={"max_ringing_time": 5}), "batch.max_ringing_time is not a key of "
                                                 "[batch]: did you mean maxRingingTime in [task]?"),
        (mapping(columns={"phon": "x"}), "columns.phon is not a known key: did you mean phone?"),
        (mapping({"chunk_size": 5}), "task.chunk_size is not a key of [task]: it belongs in "
                                     "[batch]"),
        (mapping(batch={"appId": "x"}), "batch.appId is not a key of [batch]: it belongs in "
                                        "[task]"),
        ({**mapping(), "colums": {}}, "[colums] is not a known table: did you mean columns?"),
        ({**mapping(), "extra": {}}, "[extra] is not a known table"),
        ({**mapping(), "chunk_size": 5}, "chunk_size is outside any table: it belongs in "
                                         "[batch]"),
        (mapping({"zzz": 1}), "task.zzz is not a known key (known keys: appId, agentId"),
    ],
)
def test_unknown_keys_and_tables_are_refused_with_a_suggestion(
    data: dict[str, Any], expected: str
) -> None:
    assert expected in refusal(data)


def test_all_problems_are_reported_in_one_line(tmp_path: Path) -> None:
    text = '[task]\nappId = "a"\nagentId = 1\nmaxCalls = 0\nmaxRingingTime = 5\n'
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: task.maxCalls = 0 is out of range: allowed 1..999; "
        "task.maxRingingTime = 5 is out of range: allowed 10..120"
    )


def test_many_problems_are_summarised_with_a_count() -> None:
    bad = {f"unknown{n}": 1 for n in range(8)}

    message = refusal(mapping(bad))

    assert message.count("is not a known key") == 5
    assert message.endswith("(and 3 more)")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[task]\nappId = "a"\nagentId = ', "not valid TOML"),
        ('[task]\nappId = "a"\n[task]\nagentId = 1\n', "not valid TOML"),
    ],
)
def test_broken_toml_is_a_one_line_error_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: {expected}")
    assert "\n" not in message


def test_missing_or_non_utf8_config_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.toml")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[task]\nappId = "Åsa"\nagentId = 1\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(latin1)


def test_config_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(ConfigError, match="job 9: the config must be a table"):
        config_from_mapping(["task"], "job 9")  # type: ignore[arg-type]


# ---------------------------------------------------------------- ranges, property-based


@given(st.integers(min_value=10, max_value=120))
def test_any_ringing_time_inside_the_range_is_accepted(seconds: int) -> None:
    config = config_from_mapping(mapping({"maxRingingTime": seconds}), "job 1")

    assert config.task["maxRingingTime"] == seconds


@given(st.one_of(st.integers(max_value=9), st.integers(min_value=121)))
def test_any_ringing_time_outside_the_range_is_refused(seconds: int) -> None:
    message = refusal(mapping({"maxRingingTime": seconds}))

    assert f"task.maxRingingTime = {seconds} is out of range: allowed 10..120" in message


@given(st.integers())
def test_chunk_size_is_accepted_exactly_within_the_api_cap(size: int) -> None:
    data = mapping(batch={"chunk_size": size})
    if 1 <= size <= 200_000:
        assert config_from_mapping(data, "job 1").batch.chunk_size == size
    else:
        assert "batch.chunk_size" in refusal(data)


@given(st.integers(min_value=0, max_value=23), st.integers(min_value=0, max_value=59),
       st.integers(min_value=0, max_value=23), st.integers(min_value=0, max_value=59))
def test_a_slot_is_accepted_exactly_when_it_starts_before_it_ends(
    start_hour: int, start_minute: int, end_hour: int, end_minute: int
) -> None:
    slot = {"strTime": f"{start_hour:02d}:{start_minute:02d}",
            "endTime": f"{end_hour:02d}:{end_minute:02d}"}
    errors = task_errors({**MINIMAL_TASK, "allowSendTime": [slot]})

    assert (errors == []) == ((start_hour, start_minute) < (end_hour, end_minute))


# ---------------------------------------------------------------- fingerprint


def _fingerprint(data: dict[str, Any], base_dir: Path | None = None) -> bytes:
    return config_from_mapping(data, "job 1", base_dir=base_dir).fingerprint()


REORDERED_EXAMPLE = """\
[columns]
text1 = "first_name"
phone = "msisdn"

[batch]
default_country_code = "46"
name = "nov-promo"
chunk_size = 200000

[task]
allowSendTime = [ { endTime = "12:00", strTime = "09:00" } ]
sendTime = "2026-11-24 02:00:00"
calloutRate = 1
enableRecording = 1
maxRingingTime = 60
maxCalls = 300
displayNum = "1008122211"
agentId = 41
appId = "2Xql9RBI"
recallFlow = { nodeList = [ { agentId = 41 }, { agentId = 41 } ], recallIntent = ["99998", "99999"], recallNum = 2, recallInterval = 1, recallType = 3 }
"""  # noqa: E501


def test_fingerprint_ignores_key_order_and_where_the_config_lives(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = load_config(write(tmp_path / "a", CONTRACT_EXAMPLE))
    second = load_config(write(tmp_path / "b", REORDERED_EXAMPLE, name="other.toml"))

    assert list(second.task) != list(first.task)
    assert second.fingerprint() == first.fingerprint()


@pytest.mark.parametrize(
    "change",
    [
        {"task": {"appId": "other"}},
        {"task": {"agentId": 42}},
        {"task": {"maxRingingTime": 61}},
        {"task": {"sendTime": "2026-11-24 02:00:01"}},
        {"task": {"allowSendTime": [{"strTime": "09:00", "endTime": "12:01"}]}},
        {"batch": {"name": "nov-promo2"}},
        {"batch": {"chunk_size": 199999}},
        {"batch": {"default_country_code": "47"}},
        {"batch": {"validation": "strict"}},
        {"batch": {"provider_timezone": "UTC"}},
        {"columns": {"phone": "mobile"}},
        {"columns": {"text2": "city"}},
    ],
)
def test_fingerprint_changes_when_anything_sent_changes(change: dict[str, Any]) -> None:
    base = {"task": dict(MINIMAL_TASK), "batch": {"name": "nov-promo"}, "columns": {"phone": "m"}}
    changed = copy.deepcopy(base)
    for table, values in change.items():
        changed[table].update(values)

    assert _fingerprint(changed) != _fingerprint(base)


def test_fingerprint_ignores_settings_that_only_steer_the_run() -> None:
    # a re-submit with a bigger retry budget must map to the same campaign and task names,
    # or every number would be called twice
    base = mapping(batch={"name": "crm"})
    tuned = mapping(batch={"name": "crm", "max_in_flight": 9, "max_attempts": 20,
                           "max_age": "1d", "chunk_ttl": "30d",
                           "webhook_url": "https://hooks.example.com/x"})

    assert _fingerprint(tuned) == _fingerprint(base)


def test_fingerprint_follows_suppress_file_content_not_its_path(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text("46701234567\n")
    (tmp_path / "copy.csv").write_text("46701234567\n")
    data_one = mapping(batch={"suppress": ["one.csv"]})
    data_copy = mapping(batch={"suppress": ["copy.csv"]})
    before = _fingerprint(data_one, tmp_path)

    assert _fingerprint(data_copy, tmp_path) == before
    (tmp_path / "one.csv").write_text("46701234567\n46709999999\n")
    assert _fingerprint(data_one, tmp_path) != before
    assert _fingerprint(mapping(), tmp_path) != before


def test_fingerprint_is_bytes_and_repeatable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONTRACT_EXAMPLE))

    assert isinstance(config.fingerprint(), bytes)
    assert json.loads(config.fingerprint())["batch"]["name"] == "nov-promo"  # from the file
    assert config.fingerprint() == load_config(tmp_path / "campaign.toml").fingerprint()


# ---------------------------------------------------------------- task_errors for API bodies


def api_body(**changes: Any) -> dict[str, Any]:
    body = {
        **MINIMAL_TASK,
        "taskName": "nov-promo-3f9a1c2e-001",
        "sendTime": None,
        "numberInfoList": [{"calleeNumber": "463200000007", "text1": "Anna", "text2": None}],
    }
    body.update(changes)
    return body


def test_a_valid_api_body_has_no_errors() -> None:
    assert task_errors(api_body()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"taskName": "x"}, "task.taskName"),
        ({"taskName": "x" * 65}, "task.taskName"),
        ({"numberInfoList": []}, "task.numberInfoList has 0 entries: allowed a list of 1..200000"),
        ({"numberInfoList": "463200000007"}, "task.numberInfoList is not a list"),
        ({"numberInfoList": [{"calleeNumber": "12345"}]}, "task.numberInfoList[0].calleeNumber"),
        ({"numberInfoList": [{"calleeNumber": "1" * 19}]}, "task.numberInfoList[0].calleeNumber"),
        ({"numberInfoList": [{"calleeNumber": 463200000007}]}, "numberInfoList[0].calleeNumber"),
        ({"numberInfoList": [{"calleeNumber": "+46320000000"}]}, "numberInfoList[0].calleeNumber"),
        ({"numberInfoList": [{"calleeNumber": "463200000007", "text1": 5}]},
         "task.numberInfoList[0].text1 = 5 must be a string"),
        ({"numberInfoList": [{"calleeNumber": "463200000007", "name": "x"}]},
         "task.numberInfoList[0].name is not a known key"),
        ({"maxRingingTime": 200}, "task.maxRingingTime = 200 is out of range"),
        ({"agentId": None}, "task.agentId is missing"),
    ],
)
def test_invalid_api_bodies_are_reported(changes: dict[str, Any], expected: str) -> None:
    errors = task_errors(api_body(**changes))

    assert any(expected in error for error in errors), errors


def test_too_many_numbers_are_refused() -> None:
    numbers = [{"calleeNumber": "463200000007"}] * 200_001

    assert task_errors(api_body(numberInfoList=numbers)) == [
        "task.numberInfoList has 200001 entries: allowed a list of 1..200000 numbers"
    ]


def test_many_bad_numbers_give_a_few_examples_and_a_count() -> None:
    numbers = [{"calleeNumber": "1"}] * 1000

    errors = task_errors(api_body(numberInfoList=numbers), prefix="body")

    assert len(errors) == 4
    assert errors[0].startswith("body.numberInfoList[0].calleeNumber")
    assert errors[-1] == "body.numberInfoList: 997 more entries are invalid"


def test_task_errors_of_a_non_table() -> None:
    assert task_errors([1, 2], prefix="body") == [  # type: ignore[arg-type]
        "body must be a table of API fields, not list"
    ]
