"""Task files (DESIGN 7): TOML with one ``[[task]]`` table per task, turned into ``TaskSpec`` values.

Everything is checked before anything is written, and the first problem is reported as one line
that names the file line, the task and the key::

    tasks.toml:12: task 'payroll_sync', field 'timeout': must be a positive number of seconds, got 0

``tomllib`` gives no line numbers for values, so lines are found by scanning the text for the
``[[task]]`` headers and ``key =`` lines; exact for the usual one-key-per-line layout, and the
header line of the task otherwise. Nothing here does I/O except :func:`load_task_file`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from smartcron.domain import taskfields as check
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import DEFAULT_RETRY_DELAY, DEFAULT_RETRY_MAX_DELAY, SPEC_FIELDS, TaskSpec
from smartcron.domain.taskfields import RESERVED_PREFIX, FieldProblem
from smartcron.errors import ScheduleError, TaskSpecError

__all__ = [
    "RESERVED_PREFIX",
    "decode_task_file",
    "load_task_file",
    "parse_task_file",
    "spec_from_mapping",
    "suggest_key",
]

MAX_FILE_BYTES = 16 * 1024 * 1024
REQUIRED = ("name", "command", "schedule")
# Keys checked in this order: the ones others depend on first (shell before command, timezone
# before schedule), so the first error reported is the one to fix first.
_CHECKED_FIRST = ("name", "shell", "command", "timezone", "schedule")
CHECK_ORDER = _CHECKED_FIRST + tuple(key for key in SPEC_FIELDS if key not in _CHECKED_FIRST)
SIMPLE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "category": check.category,
    "description": lambda value: check.text(value, max_length=check.MAX_DESCRIPTION),
    "working_dir": check.working_dir,
    "env": check.env,
    "enabled": check.boolean,
    "priority": check.priority,
    "notify_on_failure": check.boolean,
    "fatal_exit_codes": check.fatal_exit_codes,
    "overlap": check.overlap,
    "catchup": check.catchup,
    "notify_emails": check.notify_emails,
    "nodes": check.nodes,
    "retry_unknown_outcome": check.boolean,
} | {key: rule.check for key, rule in check.INT_RANGES.items()}

Locate = Callable[[str | None], int | None]
"""Maps a key of the task being checked (None: the task itself) to its line in the file."""


def suggest_key(key: str, known: tuple[str, ...] = SPEC_FIELDS) -> str:
    """ "; did you mean 'timeout'?" for a misspelt key, or "" when nothing is close."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def spec_from_mapping(
    data: Mapping[str, Any],
    *,
    default_timezone: str,
    source: str | None = None,
    line: int | None = None,
    allow_reserved_name: bool = False,
) -> TaskSpec:
    """One task from a mapping of task-file keys (CLI add/edit, web, API).

    A key whose value is None takes its default. ``allow_reserved_name`` is for editing built-in
    tasks, whose names start with :data:`RESERVED_PREFIX`.
    """
    return _build_spec(
        data,
        default_timezone=default_timezone,
        source=source,
        locate=lambda _key: line,
        allow_reserved_name=allow_reserved_name,
    )


def parse_task_file(text: str, *, source: str = "<task file>", default_timezone: str) -> list[TaskSpec]:
    """Every task of a task file, in file order; raises TaskSpecError on the first problem."""
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise TaskSpecError("contains a NUL byte; a task file must be text", source=source, line=line)
    document = _load_toml(text, source)
    index = _LineIndex(text)
    for key in document:
        if key != "task":
            raise TaskSpecError(
                f"unknown top-level key {key!r}{suggest_key(key, ('task',))} (each task is a [[task]] table)",
                source=source,
                line=index.top_level_line(key),
            )
    tables = document.get("task", [])
    if isinstance(tables, dict):
        raise TaskSpecError("write [[task]] (double brackets), one per task", source=source, line=index.task_line(0))
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise TaskSpecError(
            "'task' must be tables written as [[task]], one per task", source=source, line=index.top_level_line("task")
        )
    specs: list[TaskSpec] = []
    first_line: dict[str, int | None] = {}
    for position, table in enumerate(tables):

        def locate(key: str | None, position: int = position) -> int | None:
            return index.task_line(position) if key is None else index.key_line(position, key)

        spec = _build_spec(table, default_timezone=default_timezone, source=source, locate=locate)
        if spec.name in first_line:
            earlier = first_line[spec.name]
            raise TaskSpecError(
                "duplicate name" + (f"; first defined at line {earlier}" if earlier else ""),
                task=spec.name,
                field="name",
                source=source,
                line=locate("name"),
            )
        first_line[spec.name] = locate(None)
        specs.append(spec)
    return specs


def decode_task_file(data: bytes, *, source: str) -> str:
    """Bytes of a task file as text: UTF-8 (a leading byte-order mark is allowed)."""
    if len(data) > MAX_FILE_BYTES:
        raise TaskSpecError(f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a task file", source=source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TaskSpecError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", source=source, line=line
        ) from None


def load_task_file(path: str | Path, *, default_timezone: str, source: str | None = None) -> list[TaskSpec]:
    """Read and parse a task file; a file that cannot be read is a TaskSpecError too."""
    shown = source or str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TaskSpecError(f"cannot read: {exc.strerror or exc}", source=shown) from None
    return parse_task_file(decode_task_file(data, source=shown), source=shown, default_timezone=default_timezone)


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def _load_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_WHERE.search(message)
        line = int(match.group(1)) if match else None
        if match:
            message = f"{message[: match.start()]} (column {match.group(2)})"
        elif message.endswith("(at end of document)"):
            line = text.count("\n") + 1
        raise TaskSpecError(f"not valid TOML: {message}", source=source, line=line) from None
    except RecursionError:
        raise TaskSpecError("not valid TOML: values nested too deeply", source=source) from None


def _build_spec(
    data: Mapping[str, Any],
    *,
    default_timezone: str,
    source: str | None,
    locate: Locate,
    allow_reserved_name: bool = False,
) -> TaskSpec:
    raw_name = data.get("name")
    task = raw_name if isinstance(raw_name, str) and raw_name else None

    def fail(message: str, key: str | None) -> TaskSpecError:
        return TaskSpecError(message, task=task, field=key, source=source, line=locate(key))

    for key in data:
        if key not in SPEC_FIELDS:
            shown = key if isinstance(key, str) else repr(key)
            raise TaskSpecError(
                f"unknown key {shown!r}{suggest_key(str(key))}", task=task, source=source, line=locate(str(key))
            )
    for key in REQUIRED:
        if data.get(key) is None:
            raise fail(f"missing; every task needs {', '.join(REQUIRED)}", key)

    values: dict[str, Any] = {}
    for key in CHECK_ORDER:
        raw = data.get(key)
        if raw is None:
            continue
        try:
            values[key] = _check_value(
                key, raw, values, default_timezone=default_timezone, allow_reserved_name=allow_reserved_name
            )
        except FieldProblem as problem:
            raise fail(str(problem), key) from None
        except ScheduleError as exc:
            raise fail(f"invalid schedule {raw!r}: {exc.message}", key) from None
    delay = values.get("retry_delay", DEFAULT_RETRY_DELAY)
    max_delay = values.get("retry_max_delay", DEFAULT_RETRY_MAX_DELAY)
    if delay > max_delay:
        if "retry_delay" in values:
            raise fail(f"must not exceed retry_max_delay ({max_delay}), got {delay}", "retry_delay")
        raise fail(f"must not be below retry_delay ({delay}), got {max_delay}", "retry_max_delay")
    return TaskSpec(**values)


def _check_value(
    key: str, raw: Any, values: dict[str, Any], *, default_timezone: str, allow_reserved_name: bool
) -> Any:
    if key == "name":
        return check.name(raw, allow_reserved=allow_reserved_name)
    if key == "shell":
        return check.boolean(raw)
    if key == "command":
        return check.command(raw, shell=values.get("shell", False))
    if key == "timezone":
        return check.timezone(raw)
    if key == "schedule":
        expression = check.schedule_text(raw)
        # Evaluated in the zone it will run in: a local time skipped by DST matters there only.
        # An H picks its value from the task's name (checked first, as CHECK_ORDER says).
        parse_schedule(expression, values.get("timezone") or default_timezone, hash_key=values.get("name"))
        return expression
    return SIMPLE_CHECKS[key](raw)


_TASK_HEADER = re.compile(r"^\s*\[\[\s*task\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[")


class _LineIndex:
    """Lines of ``[[task]]`` headers and of keys, found by scanning the text."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [number for number, line in enumerate(self.lines, start=1) if _TASK_HEADER.match(line)]

    def task_line(self, position: int) -> int | None:
        if position < len(self.headers):
            return self.headers[position]
        return self.top_level_line("task")

    def key_line(self, position: int, key: str) -> int | None:
        """The line of ``key = ...`` in the position-th task, or of a ``[task.key]`` table."""
        start = self.task_line(position)
        if start is None or position >= len(self.headers):
            return start
        end = self.headers[position + 1] if position + 1 < len(self.headers) else len(self.lines) + 1
        assignment = _key_pattern(key)
        subtable = re.compile(rf"^\s*\[\s*task\s*\.\s*{_quoted(key)}\s*\]")
        in_subtable = False
        for number in range(start + 1, end):
            line = self.lines[number - 1]
            if _TABLE_HEADER.match(line):
                if subtable.match(line):
                    return number
                in_subtable = True  # keys below a [task.env] header belong to that table
                continue
            if not in_subtable and assignment.match(line):
                return number
        return start

    def top_level_line(self, key: str) -> int | None:
        assignment = _key_pattern(key)
        table = re.compile(rf"^\s*\[\[?\s*{_quoted(key)}\s*[\].]")
        in_table = False
        for number, line in enumerate(self.lines, start=1):
            if table.match(line):
                return number
            if _TABLE_HEADER.match(line):
                in_table = True  # keys from here on belong to a table, not the top level
            elif not in_table and assignment.match(line):
                return number
        return None


def _quoted(key: str) -> str:
    escaped = re.escape(key)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


def _key_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{_quoted(key)}\s*[=.]")
