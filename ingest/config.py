"""The campaign config: a TOML file (or a pushed job's JSON) with [task], [batch] and [columns].

Everything is validated before any contact is read or anything is sent, and every problem is
reported at once in one line that names the config source and the key. `task_errors` holds the
API's own field rules (from the provider's documentation) and is shared with the local sandbox,
which uses it to check request bodies.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import json
import math
import re
import tomllib
import unicodedata
import zoneinfo
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.chunks import API_MAX_NUMBERS, HASH_CHARS, MIN_INDEX_WIDTH, TASK_NAME_MAX
from ingest.digest import file_digest
from ingest.errors import ConfigError, one_line

# What laaffic-batch appends to batch.name: the campaign hash and the chunk number.
TASK_NAME_SUFFIX = f"-{'x' * HASH_CHARS}-{'N' * MIN_INDEX_WIDTH}"
NAME_MAX = TASK_NAME_MAX - len(TASK_NAME_SUFFIX)  # 51
MAX_SHOWN_ERRORS = 5

TEXT_KEYS = tuple(f"text{n}" for n in range(1, 11))
TASK_KEYS = (
    "appId",
    "agentId",
    "displayNum",
    "maxCalls",
    "maxRingingTime",
    "enableRecording",
    "calloutRate",
    "sendTime",
    "allowSendTime",
    "recallFlow",
)
SET_BY_LAAFFIC_BATCH = {
    "taskName": "laaffic-batch names each task from batch.name (set that instead)",
    "numberInfoList": "laaffic-batch fills it from the contact file",
}
RECALL_KEYS = ("recallType", "recallInterval", "recallNum", "recallIntent", "nodeList")
SLOT_KEYS = ("strTime", "endTime")
CONTACT_KEYS = ("calleeNumber", *TEXT_KEYS)
COLUMN_KEYS = ("phone", *TEXT_KEYS)
TOP_TABLES = ("task", "batch", "columns")

_DIGITS = re.compile(r"[0-9]*")
_COUNTRY_CODE = re.compile(r"[1-9][0-9]{0,2}")
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_PROVIDER_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_ISO_TIME = re.compile(
    r"(?P<stamp>[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}[^\[\]]*)(\[(?P<zone>[^\[\]]+)\])?"
)
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")

Errors = list[str]


@dataclass(frozen=True)
class BatchSettings:
    """How laaffic-batch runs a campaign: naming, chunking, validation and retry limits."""

    name: str = "laaffic"
    chunk_size: int = API_MAX_NUMBERS
    default_country_code: str | None = None
    validation: str = "basic"
    mobile_only: bool = False
    required_texts: tuple[str, ...] = ()
    suppress: tuple[Path, ...] = ()
    max_in_flight: int = 2
    max_attempts: int = 8
    max_age: float = 43200.0
    chunk_ttl: float = 604800.0
    provider_timezone: str = "Asia/Shanghai"
    webhook_url: str | None = None


# Settings that only steer how a run is carried out, not what is sent. They stay out of the
# fingerprint: the campaign id (and so every task name, the API's idempotency key) must not
# change when someone re-submits with, say, a larger retry budget - that would call every
# number a second time.
RUN_ONLY_SETTINGS = frozenset(
    {"max_in_flight", "max_attempts", "max_age", "chunk_ttl", "webhook_url"}
)


@dataclass(frozen=True)
class CampaignConfig:
    """A validated campaign config. `task` holds the API fields, ready for the request body."""

    task: dict[str, Any]
    batch: BatchSettings
    columns: dict[str, str]
    source: str

    def fingerprint(self) -> bytes:
        """Canonical bytes of everything that decides what is sent, for deterministic hashing.

        Independent of key order and of where the config or the suppress files live; a
        suppress file counts by its content.
        """
        batch = {
            field.name: getattr(self.batch, field.name)
            for field in dataclasses.fields(self.batch)
            if field.name not in RUN_ONLY_SETTINGS
        }
        batch["required_texts"] = list(self.batch.required_texts)
        batch["suppress"] = sorted(file_digest(path) for path in self.batch.suppress)
        canonical = {"task": self.task, "batch": batch, "columns": self.columns}
        return json.dumps(
            canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")


def load_config(path: str | Path) -> CampaignConfig:
    """Read and validate a campaign config TOML file; raise ConfigError naming every problem."""
    config_path = Path(path).expanduser()
    return config_from_mapping(read_toml(path), str(path),
                               base_dir=config_path.resolve().parent)


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a mapping (not yet validated); ConfigError naming the file when it
    cannot be read or parsed."""
    source = str(path)
    try:
        # utf-8-sig: editors on Windows like to start files with a BOM, which TOML refuses
        text = Path(path).expanduser().read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: the config file is not UTF-8 text; save it as UTF-8") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {one_line(exc)}") from exc


def config_from_mapping(
    data: Mapping[str, Any], source: str, base_dir: Path | None = None
) -> CampaignConfig:
    """Validate an already parsed config (a pushed job's JSON, or TOML).

    Relative suppress paths resolve against `base_dir` (default: the working directory).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: the config must be a table with [task], [batch] and [columns], "
            f"not {type(data).__name__}"
        )
    errors: Errors = []
    home_of_key = {key: "task" for key in (*TASK_KEYS, *SET_BY_LAAFFIC_BATCH)}
    home_of_key.update({field.name: "batch" for field in dataclasses.fields(BatchSettings)})
    home_of_key.update({key: "columns" for key in COLUMN_KEYS})
    for key in data:
        if key in TOP_TABLES:
            continue
        home = home_of_key.get(key)
        if home:
            errors.append(f"{_key(key)} is outside any table: it belongs in [{home}]")
        else:
            errors.append(f"[{_key(key)}] is not a known table{_suggestion(key, TOP_TABLES)}")

    task_table = _table(errors, data, "task")
    batch_table = _table(errors, data, "batch")
    columns_table = _table(errors, data, "columns")
    columns = _columns(errors, columns_table)
    if "task" in data:
        task = _task(errors, task_table, home_of_key)
    else:
        task = None
        errors.append("[task] is missing: it needs at least appId and agentId")
    batch = _batch(errors, batch_table, base_dir or Path.cwd(), columns, home_of_key)
    if errors or task is None or batch is None:
        raise ConfigError(_report(source, errors))
    return CampaignConfig(task=task, batch=batch, columns=columns, source=source)


def task_errors(task: Mapping[str, Any], prefix: str = "task") -> list[str]:
    """Every violation of the API's field rules in `task`, each naming the key and what is allowed.

    taskName and numberInfoList are checked when present (request bodies carry them). A None
    value on an optional field means "not given", as in the API's JSON.
    """
    return _task_field_errors(task, prefix, home_of_key={})


def parse_send_time(text: str) -> datetime:
    """Parse a sendTime: naive for the provider's "YYYY-MM-DD HH:MM:SS" (its own wall-clock
    time), aware for ISO 8601 with an offset ("+01:00", "Z") and/or a zone ("[Europe/Stockholm]").
    Raise ValueError with the reason otherwise."""
    if _PROVIDER_TIME.fullmatch(text):
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    match = _ISO_TIME.fullmatch(text)
    if not match:
        raise ValueError("not a date and time")
    moment = datetime.fromisoformat(match["stamp"])
    zone_name = match["zone"]
    if zone_name:
        zone = zoneinfo.ZoneInfo(zone_name)  # raises ValueError/LookupError on a bad name
        moment = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
    if moment.tzinfo is None:
        raise ValueError("has no offset")
    return moment


def parse_duration(value: object) -> float:
    """Seconds from an int/float of seconds or a string like "90m", "12h", "2d", "30s"."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value)):
        seconds = float(match[1]) * _DURATION_UNITS[match[2]]
    else:
        raise ValueError("not a duration")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("not a positive duration")
    return seconds


# ---------------------------------------------------------------- [task]


def _task(errors: Errors, table: Mapping[str, Any], home_of_key: Mapping[str, str]) -> dict | None:
    task = copy.deepcopy(dict(table))  # the config must not share lists with its input
    if "sendTime" in task:
        task["sendTime"] = _toml_datetime_as_text(task["sendTime"])
    for key, why in SET_BY_LAAFFIC_BATCH.items():
        if key in task:
            errors.append(f"task.{key} cannot be set in the config: {why}")
            del task[key]
    found = _task_field_errors(task, "task", home_of_key)
    errors.extend(found)
    if found:
        return None
    # null (JSON) means "not given": leave it out so the API applies its own default
    return {key: value for key, value in task.items() if value is not None}


def _toml_datetime_as_text(value: object) -> object:
    """TOML has date-time literals; accept an unquoted sendTime by writing it back as text."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%d %H:%M:%S")
        return value.isoformat()
    return value


def _task_field_errors(
    task: Mapping[str, Any], prefix: str, home_of_key: Mapping[str, str]
) -> list[str]:
    errors: Errors = []
    if not isinstance(task, Mapping):
        return [f"{prefix} must be a table of API fields, not {type(task).__name__}"]
    _unknown_keys(errors, prefix, task, (*TASK_KEYS, *SET_BY_LAAFFIC_BATCH), home_of_key)
    for key in ("appId", "agentId"):
        if task.get(key) is None:
            errors.append(f"{prefix}.{key} is missing: it is required")
    for key, check in _TASK_CHECKS.items():
        value = task.get(key)
        if value is not None:
            check(errors, f"{prefix}.{key}", value)
    return errors


def _check_app_id(errors: Errors, key: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        errors.append(f"{key} = {_show(value)} must be a non-empty string (your application id)")


def _check_display_num(errors: Errors, key: str, value: object) -> None:
    if not isinstance(value, str):
        errors.append(f"{key} = {_show(value)} must be a string of 0-20 digits in quotes")
    elif not (_DIGITS.fullmatch(value) and len(value) <= 20):
        errors.append(f"{key} = {_show(value)} must be 0-20 digits")


def _check_send_time(errors: Errors, key: str, value: object) -> None:
    how = (
        'write "YYYY-MM-DD HH:MM:SS" (provider time) or ISO 8601 with an offset, '
        'e.g. "2026-11-24T02:00:00+01:00"'
    )
    if not isinstance(value, str):
        errors.append(f"{key} = {_show(value)} must be a string: {how}")
        return
    try:
        parse_send_time(value)
    except (ValueError, LookupError) as exc:
        errors.append(f"{key} = {_show(value)} is not a valid time ({one_line(exc)}): {how}")


def _check_allow_send_time(errors: Errors, key: str, value: object) -> None:
    example = '[ { strTime = "09:00", endTime = "12:00" } ]'
    if not isinstance(value, list):
        errors.append(f"{key} must be a list of time slots like {example}")
        return
    if len(value) > 3:
        errors.append(f"{key} has {len(value)} slots: allowed at most 3")
    for index, slot in enumerate(value):
        slot_key = f"{key}[{index}]"
        if not isinstance(slot, Mapping):
            errors.append(f"{slot_key} = {_show(slot)} must be a table like {example}")
            continue
        _unknown_keys(errors, slot_key, slot, SLOT_KEYS)
        times = {}
        for name in SLOT_KEYS:
            text = slot.get(name)
            if text is None:
                errors.append(f"{slot_key}.{name} is missing: each slot needs strTime and endTime")
            elif not isinstance(text, str) or not _HH_MM.fullmatch(text):
                errors.append(
                    f"{slot_key}.{name} = {_show(text)} must be a string \"HH:MM\" "
                    "from 00:00 to 23:59, e.g. \"09:00\""
                )
            else:
                times[name] = text
        if len(times) == 2 and times["strTime"] >= times["endTime"]:
            errors.append(
                f"{slot_key}: strTime {times['strTime']} must be before endTime {times['endTime']}"
            )


def _check_recall_flow(errors: Errors, key: str, value: object) -> None:
    if not isinstance(value, Mapping):
        errors.append(f"{key} must be a table with recallType, recallInterval and recallNum")
        return
    _unknown_keys(errors, key, value, RECALL_KEYS)
    for name in ("recallType", "recallInterval", "recallNum"):
        if value.get(name) is None:
            errors.append(f"{key}.{name} is missing: it is required when recallFlow is given")
    recall_type = value.get("recallType")
    if recall_type is not None and _is_int(recall_type) and recall_type not in (0, 1, 3):
        errors.append(
            f"{key}.recallType = {recall_type} is out of range: allowed 0 (resend all), "
            "1 (resend failed) or 3 (recall by intent)"
        )
    elif recall_type is not None and not _is_int(recall_type):
        _check_int(errors, f"{key}.recallType", recall_type, 0)
    if value.get("recallInterval") is not None:
        _check_int(errors, f"{key}.recallInterval", value["recallInterval"], 0)
    if value.get("recallNum") is not None:
        _check_int(errors, f"{key}.recallNum", value["recallNum"], 1)
    intents = value.get("recallIntent")
    if intents is not None and not (
        isinstance(intents, list) and all(isinstance(item, str) and item for item in intents)
    ):
        errors.append(
            f"{key}.recallIntent = {_show(intents)} must be a list of intent codes as strings, "
            'e.g. ["99998", "99999"]'
        )
    nodes = value.get("nodeList")
    if nodes is not None:
        _check_node_list(errors, f"{key}.nodeList", nodes)


def _check_node_list(errors: Errors, key: str, nodes: object) -> None:
    if not isinstance(nodes, list):
        errors.append(f"{key} must be a list of tables like [ {{ agentId = 41 }} ]")
        return
    for index, node in enumerate(nodes):
        node_key = f"{key}[{index}]"
        if not isinstance(node, Mapping):
            errors.append(f"{node_key} = {_show(node)} must be a table like {{ agentId = 41 }}")
            continue
        _unknown_keys(errors, node_key, node, ("agentId",))
        if node.get("agentId") is None:
            errors.append(f"{node_key}.agentId is missing: each node needs an agentId")
        else:
            _check_int(errors, f"{node_key}.agentId", node["agentId"], 1)


def _check_task_name(errors: Errors, key: str, value: object) -> None:
    if not isinstance(value, str) or not 2 <= len(value) <= TASK_NAME_MAX:
        errors.append(f"{key} = {_show(value)} must be a string of 2..{TASK_NAME_MAX} characters")


def _check_number_info_list(errors: Errors, key: str, value: object) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= API_MAX_NUMBERS:
        size = f"has {len(value)} entries" if isinstance(value, list) else "is not a list"
        errors.append(f"{key} {size}: allowed a list of 1..{API_MAX_NUMBERS} numbers")
        return
    shown_limit = 3  # a bad body can have 200k bad entries; a few examples say enough
    bad_entries = 0
    for index, entry in enumerate(value):
        entry_errors = _contact_errors(f"{key}[{index}]", entry)
        if entry_errors:
            bad_entries += 1
            if bad_entries <= shown_limit:
                errors.extend(entry_errors)
    if bad_entries > shown_limit:
        errors.append(f"{key}: {bad_entries - shown_limit} more entries are invalid")


_CONTACT_KEY_SET = frozenset(CONTACT_KEYS)
_CALLEE_NUMBER = re.compile(r"[0-9]{6,18}")


def _contact_errors(key: str, entry: object) -> list[str]:
    # fast path first: the sandbox checks 200,000 of these per request
    if (
        type(entry) is dict
        and entry.keys() <= _CONTACT_KEY_SET
        and type(number := entry.get("calleeNumber")) is str
        and _CALLEE_NUMBER.fullmatch(number)
        and all(type(value) is str or value is None for value in entry.values())
    ):
        return []
    if not isinstance(entry, Mapping):
        return [f"{key} = {_show(entry)} must be an object with calleeNumber"]
    errors: Errors = []
    _unknown_keys(errors, key, entry, CONTACT_KEYS)
    number = entry.get("calleeNumber")
    if not isinstance(number, str) or not _CALLEE_NUMBER.fullmatch(number):
        errors.append(
            f"{key}.calleeNumber = {_show(number)} must be a string of 6-18 digits "
            "(country code + number)"
        )
    for name in TEXT_KEYS:
        text = entry.get(name)
        if text is not None and not isinstance(text, str):
            errors.append(f"{key}.{name} = {_show(text)} must be a string")
    return errors


def _int_check(low: int, high: int | None = None) -> Callable[[Errors, str, object], None]:
    def check(errors: Errors, key: str, value: object) -> None:
        _check_int(errors, key, value, low, high)

    return check


_TASK_CHECKS: dict[str, Callable[[Errors, str, object], None]] = {
    "appId": _check_app_id,
    "agentId": _int_check(1),
    "displayNum": _check_display_num,
    "maxCalls": _int_check(1, 999),
    "maxRingingTime": _int_check(10, 120),
    "enableRecording": _int_check(0, 1),
    "calloutRate": _int_check(1),
    "sendTime": _check_send_time,
    "allowSendTime": _check_allow_send_time,
    "recallFlow": _check_recall_flow,
    "taskName": _check_task_name,
    "numberInfoList": _check_number_info_list,
}


# ---------------------------------------------------------------- [batch]


def _batch(
    errors: Errors,
    table: Mapping[str, Any],
    base_dir: Path,
    columns: Mapping[str, str],
    home_of_key: Mapping[str, str],
) -> BatchSettings | None:
    known = tuple(field.name for field in dataclasses.fields(BatchSettings))
    _unknown_keys(errors, "batch", table, known, home_of_key)
    before = len(errors)
    given = {key: value for key, value in table.items() if key in known and value is not None}
    settings: dict[str, Any] = {}

    if "name" in given:
        settings["name"] = _batch_name(errors, given["name"])
    if "chunk_size" in given and _check_int(
        errors, "batch.chunk_size", given["chunk_size"], 1, API_MAX_NUMBERS,
        why=f" (the API takes at most {API_MAX_NUMBERS} numbers per task)",
    ):
        settings["chunk_size"] = given["chunk_size"]
    if "default_country_code" in given:
        settings["default_country_code"] = _country_code(errors, given["default_country_code"])
    if "validation" in given:
        if given["validation"] in ("basic", "strict"):
            settings["validation"] = given["validation"]
        else:
            errors.append(
                f"batch.validation = {_show(given['validation'])} is not allowed: "
                'use "basic" or "strict"'
            )
    if "mobile_only" in given:
        if isinstance(given["mobile_only"], bool):
            settings["mobile_only"] = given["mobile_only"]
        else:
            shown = _show(given["mobile_only"])
            errors.append(f"batch.mobile_only = {shown} must be true or false")
    if settings.get("mobile_only") and settings.get("validation", "basic") != "strict":
        errors.append(
            'batch.mobile_only = true needs validation = "strict": '
            "basic validation cannot tell mobile numbers apart"
        )
    if "required_texts" in given:
        settings["required_texts"] = _required_texts(errors, given["required_texts"], columns)
    if "suppress" in given:
        settings["suppress"] = _suppress_files(errors, given["suppress"], base_dir)
    for name in ("max_in_flight", "max_attempts"):
        if name in given and _check_int(errors, f"batch.{name}", given[name], 1, 100):
            settings[name] = given[name]
    for name in ("max_age", "chunk_ttl"):
        if name in given:
            try:
                settings[name] = parse_duration(given[name])
            except ValueError:
                errors.append(
                    f"batch.{name} = {_show(given[name])} is not a duration: give seconds "
                    'as a number or a string like "30s", "90m", "12h", "2d"'
                )
    if "provider_timezone" in given:
        settings["provider_timezone"] = _time_zone(errors, given["provider_timezone"])
    if "webhook_url" in given:
        settings["webhook_url"] = _webhook_url(errors, given["webhook_url"])

    if len(errors) > before:
        return None
    batch = BatchSettings(**settings)
    if batch.chunk_ttl < batch.max_age:
        errors.append(
            f"batch.chunk_ttl ({batch.chunk_ttl:g}s) is shorter than batch.max_age "
            f"({batch.max_age:g}s): chunks would expire while still being retried"
        )
        return None
    return batch


def _batch_name(errors: Errors, value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= NAME_MAX:
        length = f" ({len(value)} characters)" if isinstance(value, str) else ""
        errors.append(
            f"batch.name = {_show(value)}{length} must be a string of 1..{NAME_MAX} characters: "
            f"task names are <name>{TASK_NAME_SUFFIX} and the API allows at most {TASK_NAME_MAX}"
        )
    elif any(unicodedata.category(char) == "Cc" for char in value):
        errors.append(f"batch.name = {_show(value)} must not contain control characters")
    elif "/" in value or "\\" in value:
        # the campaign id names a directory under the data dir (rejects, reports)
        errors.append(f"batch.name = {_show(value)} must not contain / or \\")
    return value if isinstance(value, str) else ""


def _country_code(errors: Errors, value: object) -> str | None:
    try:
        return country_code_digits(value)
    except ConfigError as exc:
        errors.append(str(exc))
        return None


def country_code_digits(value: object) -> str:
    """batch.default_country_code as digits: "46" for "46", "+46" or 46 (a bare number or a
    leading "+" are unambiguous). ConfigError naming the key for anything else."""
    text = str(value) if _is_int(value) else value
    if isinstance(text, str):
        text = text.strip().removeprefix("+")
        if _COUNTRY_CODE.fullmatch(text):
            return text
    raise ConfigError(
        f"batch.default_country_code = {_show(value)} must be 1-3 digits not starting with 0, "
        'e.g. "46"'
    )


def _required_texts(errors: Errors, value: object, columns: Mapping[str, str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.append(f'batch.required_texts = {_show(value)} must be a list like ["text1"]')
        return ()
    for item in value:
        if item not in TEXT_KEYS:
            errors.append(
                f"batch.required_texts: {_show(item)} is not one of text1..text10"
                f"{_suggestion(item, TEXT_KEYS)}"
            )
        elif item not in columns:
            errors.append(
                f"batch.required_texts: {item} is not mapped in [columns]: "
                f'add {item} = "<column name>"'
            )
    # order carries no meaning: keep one canonical order so the fingerprint ignores it
    wanted = set(value)
    return tuple(key for key in TEXT_KEYS if key in wanted)


def _suppress_files(errors: Errors, value: object, base_dir: Path) -> tuple[Path, ...]:
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(
        isinstance(item, str) and item for item in entries
    ):
        errors.append(
            f'batch.suppress = {_show(value)} must be a list of file paths like ["dnc.csv"]'
        )
        return ()
    paths: list[Path] = []
    for index, item in enumerate(entries):
        path = (base_dir / Path(item).expanduser()).resolve()
        if not path.is_file():
            errors.append(
                f"batch.suppress[{index}] = {_show(item)}: no such file: {path}"
            )
        elif path not in paths:
            paths.append(path)
    return tuple(paths)


def _time_zone(errors: Errors, value: object) -> str:
    if isinstance(value, str):
        try:
            zoneinfo.ZoneInfo(value)
            return value
        except (ValueError, LookupError, OSError):
            pass
    hint = _suggestion(value, _time_zone_names()) or ', e.g. "Asia/Shanghai"'
    errors.append(f"batch.provider_timezone = {_show(value)} is not a known time zone name{hint}")
    return ""


@functools.cache
def _time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _webhook_url(errors: Errors, value: object) -> str | None:
    if isinstance(value, str) and not any(char.isspace() for char in value):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return value
    errors.append(f"batch.webhook_url = {_show(value)} must be an http:// or https:// URL")
    return None


# ---------------------------------------------------------------- [columns]


def _columns(errors: Errors, table: Mapping[str, Any]) -> dict[str, str]:
    _unknown_keys(errors, "columns", table, COLUMN_KEYS)
    columns: dict[str, str] = {}
    for key in COLUMN_KEYS:
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, str) and value.strip():
            columns[key] = value
        else:
            errors.append(
                f"columns.{key} = {_show(value)} must be the name of a column in the contact file"
            )
    return columns


# ---------------------------------------------------------------- helpers


def _table(errors: Errors, data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(f"{name} = {_show(value)} must be a table: write [{name}] on its own line")
        return {}
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(
    errors: Errors, key: str, value: object, low: int, high: int | None = None, why: str = ""
) -> bool:
    """Append an error unless `value` is an int in low..high; tell whether it was fine."""
    if not _is_int(value):
        hint = ""
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            hint = f": write {key.rsplit('.', 1)[-1]} = {value.strip()} without quotes"
        errors.append(f"{key} = {_show(value)} must be an integer{hint}")
        return False
    assert isinstance(value, int)
    if value < low or (high is not None and value > high):
        allowed = f"{low}..{high}" if high is not None else f">= {low}"
        if (low, high) == (0, 1):
            allowed = "0 or 1"
        errors.append(f"{key} = {value} is out of range: allowed {allowed}{why}")
        return False
    return True


def _unknown_keys(
    errors: Errors,
    prefix: str,
    table: Mapping[Any, Any],
    allowed: Collection[str],
    home_of_key: Mapping[str, str] | None = None,
) -> None:
    """Typos must not be silently ignored: every key outside `allowed` is an error."""
    table_name = prefix.split(".", 1)[0]
    for key in table:
        if key in allowed:
            continue
        name = f"{prefix}.{_key(key)}"
        elsewhere = _key_elsewhere(key, allowed, table_name, home_of_key or {})
        if elsewhere:
            errors.append(f"{name} is not a key of [{table_name}]: {elsewhere}")
        else:
            hint = _suggestion(key, allowed) or f" (known keys: {', '.join(allowed)})"
            errors.append(f"{name} is not a known key{hint}")


def _key_elsewhere(
    key: object, allowed: Collection[str], table_name: str, home_of_key: Mapping[str, str]
) -> str:
    """Where a key put in the wrong table belongs ("it belongs in [batch]"), or ''."""
    if not isinstance(key, str) or any(_squash(key) == _squash(name) for name in allowed):
        return ""
    if home_of_key.get(key, table_name) != table_name:
        return f"it belongs in [{home_of_key[key]}]"
    for other, home in home_of_key.items():
        if home != table_name and _squash(other) == _squash(key):
            return f"did you mean {other} in [{home}]?"
    return ""


def _suggestion(key: object, allowed: Collection[str]) -> str:
    """': did you mean X?' for the closest allowed name, or ''."""
    if not isinstance(key, str):
        return ""
    for candidate in allowed:
        if _squash(candidate) == _squash(key):
            return f": did you mean {candidate}?"
    by_lower = {candidate.lower(): candidate for candidate in allowed}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return f": did you mean {by_lower[close[0]]}?" if close else ""


def _squash(name: str) -> str:
    """A key with case, "_" and "-" ignored: maxRingingTime == max_ringing_time."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _key(key: object) -> str:
    text = str(key)
    return text if _PLAIN_KEY.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _show(value: object) -> str:
    """A value as it would be written, short and on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."



def _report(source: str, errors: Errors) -> str:
    shown = "; ".join(one_line(error) for error in errors[:MAX_SHOWN_ERRORS])
    more = len(errors) - MAX_SHOWN_ERRORS
    return f"{source}: {shown}" + (f" (and {more} more)" if more > 0 else "")


