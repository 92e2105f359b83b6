"""Checks for each key of a task definition (DESIGN 7), shared by task files, the CLI and the API.

Every check takes the raw value as TOML or JSON gives it and returns the typed value for
``TaskSpec``, or raises :class:`FieldProblem` with a message that completes the sentence
"field 'timeout': ...". Types are exact: ``true`` is not a number and ``"30"`` is not 30, because a
silently converted value in a scheduler is a wrong schedule nobody notices.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartcron.domain.enums import CatchupPolicy, OverlapPolicy
from smartcron.domain.task import MAX_RETRIES, MAX_TIMEOUT, NAME_PATTERN

RESERVED_PREFIX = "smartcron."
"""Names of built-in tasks start with this; users may not use it."""

CATEGORY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
ZONE_PATTERN = re.compile(r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$")
# Local part and domain kept simple on purpose: the SMTP server is the final judge, this only
# catches typos such as a missing '@' or a stray comma that joined two addresses.
EMAIL_PATTERN = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")

MAX_DESCRIPTION = 4000
MAX_SCHEDULE = 255
MAX_WORKING_DIR = 1024
MAX_ITEM = 4096
MAX_LIST_ITEMS = 100
# List and table values are stored as JSON in TEXT columns; MySQL's TEXT holds 64 KiB of UTF-8.
MAX_JSON_CHARS = 8192
MAX_KILL_GRACE = 3600
MAX_MEMORY_MB = 1024 * 1024
MAX_CPU_SECONDS = 10_000_000
MAX_STARTING_DEADLINE = 366 * 86400
MAX_OUTPUT_KB = 1024 * 1024


class FieldProblem(Exception):
    """One key's value is not acceptable; the message completes "field 'x': ..."."""


def describe(value: Any) -> str:
    """A value as a person reads it in an error, named by its TOML type."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"date/time {value.isoformat()}"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def text(value: Any, *, what: str = "a string", max_length: int = MAX_ITEM, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise FieldProblem(f"must be {what}, got {describe(value)}")
    if "\x00" in value:
        raise FieldProblem("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldProblem("must be valid Unicode text (it holds a lone surrogate)") from None
    if not allow_empty and not value.strip():
        raise FieldProblem("must not be empty")
    if len(value) > max_length:
        raise FieldProblem(f"must be at most {max_length} characters long, got {len(value)}")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldProblem(f"must be true or false, got {describe(value)}")
    return value


@dataclass(frozen=True, slots=True)
class IntRange:
    """An integer key: its bounds and how to name it ("a number of seconds")."""

    minimum: int
    maximum: int
    noun: str
    unit: str = ""

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldProblem(f"must be an integer ({self.noun}), got {describe(value)}")
        if value < self.minimum:
            if self.minimum == 1:
                raise FieldProblem(f"must be a positive {self.noun}, got {value}")
            if self.minimum == 0:
                raise FieldProblem(f"must not be negative ({self.noun}), got {value}")
            raise FieldProblem(f"must be at least {self.minimum}{self.unit}, got {value}")
        if value > self.maximum:
            raise FieldProblem(f"must be at most {self.maximum}{self.unit}, got {value}")
        return value


INT_RANGES: dict[str, IntRange] = {
    "timeout": IntRange(1, MAX_TIMEOUT, "number of seconds", " seconds (7 days)"),
    "kill_grace": IntRange(0, MAX_KILL_GRACE, "number of seconds", " seconds"),
    "retries": IntRange(0, MAX_RETRIES, "number of extra attempts"),
    "retry_delay": IntRange(0, MAX_TIMEOUT, "number of seconds", " seconds"),
    "retry_max_delay": IntRange(0, MAX_TIMEOUT, "number of seconds", " seconds"),
    "max_memory_mb": IntRange(1, MAX_MEMORY_MB, "number of MiB", " MiB"),
    "max_cpu_seconds": IntRange(1, MAX_CPU_SECONDS, "number of CPU seconds", " seconds"),
    "nice": IntRange(-20, 19, "niceness from -20 to 19"),
    "starting_deadline": IntRange(1, MAX_STARTING_DEADLINE, "number of seconds", " seconds (366 days)"),
    "max_output_kb": IntRange(1, MAX_OUTPUT_KB, "number of KiB", " KiB"),
}


def priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (1, 2, 3):
        raise FieldProblem(f"must be 1 (critical), 2 (high) or 3 (low), got {describe(value)}")
    return value


def name(value: Any, *, allow_reserved: bool = False) -> str:
    found = text(value, max_length=128, allow_empty=False)
    if "/" in found or ".." in found:
        raise FieldProblem(f"must not contain '/' or '..' (it names log files and URLs), got {found!r}")
    if not NAME_PATTERN.match(found):
        raise FieldProblem(
            f"must be a slug: letters, digits, '_', '.', '-', starting with a letter or digit, got {found!r}"
        )
    if not allow_reserved and found.lower().startswith(RESERVED_PREFIX):
        raise FieldProblem(f"names starting with {RESERVED_PREFIX!r} are reserved for built-in tasks")
    return found


def category(value: Any) -> str:
    found = text(value, max_length=64, allow_empty=False)
    if ".." in found or not CATEGORY_PATTERN.match(found):
        raise FieldProblem(
            f"must be a slug of at most 64 characters: letters, digits, '_', '.', '-' (it names log files), "
            f"got {found!r}"
        )
    return found


def command(value: Any, *, shell: bool) -> tuple[str, ...]:
    if shell:
        if not isinstance(value, str):
            raise FieldProblem(f"with shell = true, must be one command line as a string, got {describe(value)}")
        return (text(value, max_length=MAX_JSON_CHARS, allow_empty=False),)
    if isinstance(value, str):
        raise FieldProblem(
            'must be a list of arguments such as ["php", "/path/job.php"] '
            "(or set shell = true to run a shell command line)"
        )
    if not isinstance(value, list | tuple):
        raise FieldProblem(f"must be a list of arguments, got {describe(value)}")
    if not value:
        raise FieldProblem("must not be empty: give the program and its arguments")
    argv: list[str] = []
    for index, item in enumerate(value, start=1):
        try:
            argv.append(text(item, allow_empty=False))
        except FieldProblem as problem:
            raise FieldProblem(f"argument {index} {problem}") from None
    _limit_json(argv)
    return tuple(argv)


def working_dir(value: Any) -> str:
    found = text(value, max_length=MAX_WORKING_DIR, allow_empty=False)
    if not found.startswith("/"):
        raise FieldProblem(f"must be an absolute path, got {found!r}")
    return found


def env(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise FieldProblem(f'must be a table of strings, such as {{ LANG = "C.UTF-8" }}, got {describe(value)}')
    pairs: list[tuple[str, str]] = []
    for key, item in value.items():
        if not isinstance(key, str) or not ENV_NAME_PATTERN.match(key):
            raise FieldProblem(f"{key!r} is not a valid variable name (letters, digits and '_', not first a digit)")
        try:
            pairs.append((key, text(item)))
        except FieldProblem as problem:
            raise FieldProblem(f"variable {key!r} {problem}") from None
    _limit_json(dict(pairs))
    return tuple(sorted(pairs))


def timezone(value: Any) -> str:
    found = text(value, max_length=64, allow_empty=False)
    # 'localtime' is whatever the machine says, so the same file would mean different times.
    if not ZONE_PATTERN.match(found) or found == "localtime" or not _zone_exists(found):
        raise FieldProblem(f"unknown time zone {found!r}; use an IANA name such as 'Pacific/Auckland' or 'UTC'")
    return found


def _zone_exists(key: str) -> bool:
    try:
        ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def schedule_text(value: Any) -> str:
    found = text(value, what='a cron expression string such as "*/30 * * * *"', max_length=MAX_SCHEDULE)
    if not found.strip():
        raise FieldProblem("must not be empty")
    return found


def _enum_checker(enum: type[OverlapPolicy] | type[CatchupPolicy]) -> Callable[[Any], Any]:
    choices = [member.value for member in enum]

    def check(value: Any) -> Any:
        if not isinstance(value, str) or value not in choices:
            raise FieldProblem(f"must be one of {', '.join(choices)}, got {describe(value)}")
        return enum(value)

    return check


overlap = _enum_checker(OverlapPolicy)
catchup = _enum_checker(CatchupPolicy)


def _items(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise FieldProblem(f"must be a list of {what}, got {describe(value)}")
    if len(value) > MAX_LIST_ITEMS:
        raise FieldProblem(f"must hold at most {MAX_LIST_ITEMS} {what}, got {len(value)}")
    return list(value)


def fatal_exit_codes(value: Any) -> tuple[int, ...]:
    codes: list[int] = []
    for item in _items(value, "exit codes"):
        if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= 255:
            raise FieldProblem(f"must hold exit codes from 1 to 255, got {describe(item)}")
        codes.append(item)
    return tuple(codes)


def notify_emails(value: Any) -> tuple[str, ...]:
    addresses: list[str] = []
    for item in _items(value, "email addresses"):
        found = text(item, what="an email address string", max_length=254)
        if not EMAIL_PATTERN.match(found):
            raise FieldProblem(f"{found!r} is not an email address")
        addresses.append(found)
    return tuple(addresses)


def nodes(value: Any) -> tuple[str, ...]:
    names: list[str] = []
    for item in _items(value, "node names or tags"):
        found = text(item, what="a node name string", max_length=64)
        if not NODE_PATTERN.match(found):
            raise FieldProblem(f"{found!r} is not a node name or tag (letters, digits, '_', '.', ':', '@', '-')")
        names.append(found)
    return tuple(names)


def _limit_json(value: Any) -> None:
    size = len(json.dumps(value, ensure_ascii=False))
    if size > MAX_JSON_CHARS:
        raise FieldProblem(f"is too long: at most {MAX_JSON_CHARS} characters in all, got {size}")


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """How the reference describes one task-file key. Its default comes from ``TaskSpec`` and, for an
    integer key, its bounds from :data:`INT_RANGES`; ``accepts`` says what the check of any other key
    takes."""

    kind: str
    about: str
    example: str
    accepts: str = ""


FIELD_DOCS: dict[str, FieldDoc] = {
    "name": FieldDoc(
        "string",
        "The task's unique name; it names its log file and its URLs. Required.",
        '"sync_vend_inventory"',
        f"a slug of at most 128 characters: letters, digits, '_', '.', '-', starting with a letter or digit; "
        f"not starting with {RESERVED_PREFIX!r} (built-in tasks)",
    ),
    "command": FieldDoc(
        "array of strings, or string",
        "What to run: the program and its arguments, run without a shell. Required.",
        '["php", "/var/www/jobs/sync_vend_inventory.php"]',
        "a non-empty list of non-empty strings; with shell = true one command line as a string",
    ),
    "schedule": FieldDoc(
        "string",
        "When to run: a cron expression evaluated in the task's time zone (see Schedules). Required.",
        '"*/30 * * * *"',
        f"a cron expression of at most {MAX_SCHEDULE} characters that can fire",
    ),
    "category": FieldDoc(
        "string",
        "A group for the dashboard; it starts the log file's name (`<category>_<name>.log`).",
        '"vend"',
        "a slug of at most 64 characters",
    ),
    "description": FieldDoc(
        "string",
        "What the task does, for people.",
        '"Pull stock levels from Vend"',
        f"at most {MAX_DESCRIPTION} characters",
    ),
    "shell": FieldDoc(
        "boolean",
        "Run command as one shell command line (/bin/sh -c) instead of an argument list.",
        "true",
        "true or false",
    ),
    "working_dir": FieldDoc(
        "string",
        "The directory the command starts in (default: the runner's).",
        '"/var/www/jobs"',
        f"an absolute path of at most {MAX_WORKING_DIR} characters",
    ),
    "env": FieldDoc(
        "table of strings",
        "Extra environment variables for the command.",
        '{ LANG = "C.UTF-8" }',
        "variable names of letters, digits and '_' (not first a digit), string values",
    ),
    "timezone": FieldDoc(
        "string",
        "The IANA time zone the schedule is read in (default: the `timezone` setting).",
        '"Pacific/Auckland"',
        "an IANA zone name such as 'UTC' or 'Europe/Berlin' ('localtime' is refused)",
    ),
    "enabled": FieldDoc("boolean", "A disabled task is kept but never runs.", "false", "true or false"),
    "priority": FieldDoc(
        "integer",
        "How urgent a failure is: 1 critical (mailed at once), 2 high (mailed after a delay), 3 low (stored only).",
        "1",
        "1, 2 or 3",
    ),
    "notify_on_failure": FieldDoc(
        "boolean", "Send alerts for failures; false makes every alert of the task low.", "false", "true or false"
    ),
    "timeout": FieldDoc(
        "integer",
        "Seconds a run may take; then SIGTERM to its process group, kill_grace, then SIGKILL.",
        "600",
    ),
    "kill_grace": FieldDoc("integer", "Seconds between SIGTERM and SIGKILL when a run is stopped.", "30"),
    "retries": FieldDoc("integer", "Extra attempts after a recoverable failure.", "5"),
    "retry_delay": FieldDoc(
        "integer", "Seconds before the first retry; doubled for each further one (with jitter).", "60"
    ),
    "retry_max_delay": FieldDoc("integer", "The longest wait between two attempts, in seconds.", "1800"),
    "fatal_exit_codes": FieldDoc(
        "array of integers",
        "Exit codes that mean retrying cannot help: never retried.",
        "[3, 4]",
        f"at most {MAX_LIST_ITEMS} exit codes from 1 to 255",
    ),
    "max_memory_mb": FieldDoc("integer", "Address-space limit of the command, in MiB (unset: none).", "512"),
    "max_cpu_seconds": FieldDoc("integer", "CPU-time limit of the command, in seconds (unset: none).", "120"),
    "nice": FieldDoc("integer", "Scheduling niceness of the command (unset: the runner's).", "10"),
    "overlap": FieldDoc(
        "string",
        "What happens when a slot comes while the previous run still runs (see Statuses, overlap policies).",
        '"queue"',
        "forbid, queue, replace or allow",
    ),
    "catchup": FieldDoc(
        "string",
        "What happens to slots missed while no runner ran (see Statuses, catch-up policies).",
        '"all"',
        "latest, all or none",
    ),
    "starting_deadline": FieldDoc(
        "integer", "Seconds after its slot a late run may still start (unset: no limit).", "3600"
    ),
    "max_output_kb": FieldDoc(
        "integer", "Output kept per run, in KiB; beyond it output is dropped and the run marked truncated.", "1024"
    ),
    "notify_emails": FieldDoc(
        "array of strings",
        "Addresses that get this task's alert mail, besides the `alert.email_to` setting.",
        '["ops@example.com"]',
        f"at most {MAX_LIST_ITEMS} email addresses",
    ),
    "nodes": FieldDoc(
        "array of strings",
        "Runners that may run the task, by name or tag (empty: any runner).",
        '["gpu"]',
        f"at most {MAX_LIST_ITEMS} names or tags of letters, digits, '_', '.', ':', '@', '-'",
    ),
    "retry_unknown_outcome": FieldDoc(
        "boolean",
        "Retry a run whose outcome a runner crash left unknown (only for tasks safe to run twice).",
        "true",
        "true or false",
    ),
}
