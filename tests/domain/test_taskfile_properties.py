"""Property tests: whatever a task file or a task mapping holds, the parser answers with task specs
or one TaskSpecError line, never another exception."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartcron.domain.task import SPEC_FIELDS
from smartcron.domain.taskfile import decode_task_file, parse_task_file, spec_from_mapping
from smartcron.errors import TaskSpecError

BASE = {"name": "payroll_sync", "command": ["php", "/jobs/payroll.php"], "schedule": "*/30 * * * *"}
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def toml_value(value: Any) -> str:
    """TOML text for a value (test-side writer; the standard library only reads TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are TOML basic-string escapes
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def render_task(table: dict[str, Any]) -> str:
    return "[[task]]\n" + "".join(f"{json.dumps(key)} = {toml_value(value)}\n" for key, value in table.items())


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["*/5 * * * *", "@daily", "0 0 30 2 *", "60 * * * *", "UTC", "Mars/Base", "forbid", "/tmp"]),
    st.datetimes(),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(SPEC_FIELDS), st.text(max_size=12))


def answers_or_refuses(call: Any) -> None:
    try:
        call()
    except TaskSpecError as error:
        assert "\n" not in error.message


@SETTINGS
@given(st.text(max_size=400))
def test_any_text_is_parsed_or_refused_with_one_line(text):
    answers_or_refuses(lambda: parse_task_file(text, source="t.toml", default_timezone="UTC"))


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_are_decoded_or_refused(data):
    answers_or_refuses(
        lambda: parse_task_file(decode_task_file(data, source="t.toml"), source="t.toml", default_timezone="UTC")
    )


@SETTINGS
@given(st.lists(st.dictionaries(keys, values, max_size=8), max_size=3))
def test_any_toml_document_of_tasks_is_parsed_or_refused(tables):
    text = "\n".join(render_task(table) for table in tables)
    answers_or_refuses(lambda: parse_task_file(text, source="t.toml", default_timezone="UTC"))


@SETTINGS
@given(st.sampled_from(SPEC_FIELDS), values)
def test_any_value_for_any_key_is_accepted_or_refused_naming_that_key(key, value):
    table = BASE | {key: value}
    try:
        parse_task_file(render_task(table), source="t.toml", default_timezone="Pacific/Auckland")
    except TaskSpecError as error:
        assert "\n" not in error.message
        # `shell` and `command` are judged together: shell = true with an argv names the command.
        together = {"shell": ("command",)}.get(key, ())
        assert error.field in (key, *together, "retry_max_delay", "retry_delay") or "TOML" in error.message


@SETTINGS
@given(st.dictionaries(keys, values, max_size=10))
def test_any_mapping_is_a_spec_or_one_error(data):
    answers_or_refuses(lambda: spec_from_mapping(data, default_timezone="UTC"))


@SETTINGS
@given(st.sampled_from(SPEC_FIELDS), values)
def test_an_accepted_spec_reads_back_from_its_own_dict(key, value):
    try:
        spec = spec_from_mapping(BASE | {key: value}, default_timezone="UTC")
    except TaskSpecError:
        return
    assert spec_from_mapping(spec.to_dict(), default_timezone="UTC") == spec
