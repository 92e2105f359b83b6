"""Turn a crontab into a smartcron task file (issue 2, item 6).

Reads what Vixie/Debian cron and cronie read: environment lines (``FOO=bar`` applies to the jobs
below it), ``CRON_TZ``/``TZ`` (the zone of the jobs below), ``MAILTO`` (who hears about failures),
jobs with five time fields or a nickname, and the system format (``/etc/crontab``,
``/etc/cron.d/*``) with a user field before the command. A comment right above a job names and
describes it. Whatever cannot be carried over (``@reboot``, a bad line, a job that would not pass
the task-file checks) is skipped with a warning, never silently.

Pure text in, text out: the CLI (``smartcron tasks import-crontab``) reads and writes the files.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from smartcron.domain.cron_syntax import parse_expression
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import TaskSpec
from smartcron.domain.taskfields import EMAIL_PATTERN, MAX_DESCRIPTION
from smartcron.domain.taskfile import spec_from_mapping
from smartcron.errors import ScheduleError, TaskSpecError

_ENV_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
# Column headers and commented-out jobs are no description of the job below them.
_COLUMN_HEADER = re.compile(r"^m(in(ute)?)?\s+h(our|r)?\s+dom\b", re.IGNORECASE)
_SYSTEM_HEADER = re.compile(r"\bdow\s+user(-?name)?\s+command\b", re.IGNORECASE)
_USUAL_SYSTEM_USERS = frozenset(
    {"root", "www-data", "nobody", "daemon", "backup", "postgres", "mysql", "apache", "nginx", "www"}
)
# A command with any of these needs a shell; without them it is a plain argv list.
_SHELL_SYNTAX = frozenset("|&;<>()$`\\\"'*?[]#~{}!\n")
_SHELL_BUILTINS = frozenset(
    {"cd", "exec", "source", ".", "export", "set", "ulimit", "umask", "eval", "unset", "alias", "trap", "wait"}
)
_PLAIN_SHELLS = frozenset({"/bin/sh", "/usr/bin/sh", "sh"})
_WRAPPERS = frozenset(
    {"env", "nice", "ionice", "nohup", "timeout", "flock", "sudo", "chronic", "cronic", "run-one", "time", "exec"}
)
_INTERPRETERS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "python", "php", "perl", "ruby", "node", "nodejs", "java", "deno", "bun"}
)
_OPTIONS_WITH_VALUE = frozenset({"-u", "-g", "-n", "-c", "-s", "-k", "-w", "-E"})
_SCRIPT_SUFFIX = re.compile(r"\.(php|py|sh|bash|pl|rb|js|mjs|ts|jar)$")
_NAME_LENGTH = 48


@dataclass(frozen=True, slots=True)
class CrontabImport:
    """The tasks found, the task file that declares them, and what could not be carried over."""

    tasks: list[TaskSpec]
    toml: str
    warnings: list[str]


@dataclass(slots=True)
class _Settings:
    """What the lines above a job set for it."""

    timezone: str
    env: dict[str, str] = field(default_factory=dict)
    mail_to: tuple[str, ...] | None = None  # None: no MAILTO line
    shell: str | None = None
    comments: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Job:
    line: int
    text: str
    schedule: str
    user: str | None
    command: str


def convert_crontab(
    text: str, *, default_timezone: str, system: bool | None = None, source: str = "crontab"
) -> CrontabImport:
    """Convert ``text``. ``system``: True for the format with a user field, False for a user's
    crontab, None to decide from the text (a ``dow user command`` header, or a usual system user
    such as root in that column of every job)."""
    nul = text.find("\x00")
    if nul >= 0:
        raise TaskSpecError("contains a NUL byte; a crontab is text", source=source, line=text.count("\n", 0, nul) + 1)
    lines = text.split("\n")  # cron's own line breaks; "\r" of CRLF files goes with the other blanks
    if system is None:
        system = _looks_like_system(lines)
    settings = _Settings(timezone=default_timezone)
    warnings: list[str] = []
    entries: list[tuple[_Job, dict[str, Any]]] = []
    taken: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            settings.comments.clear()
            continue
        if line.startswith("#"):
            settings.comments.append(line.lstrip("#").strip())
            continue
        if match := _ENV_LINE.match(line):
            _apply_setting(settings, match[1], _unquote(match[2]), number, warnings)
            continue
        job = _split_job(line, number, system, warnings)
        if job is not None:
            mapping = _task_mapping(job, settings, taken, warnings)
            if mapping is not None:
                entries.append((job, mapping))
        settings.comments.clear()

    tasks: list[TaskSpec] = []
    rendered: list[tuple[_Job, dict[str, Any]]] = []
    for job, mapping in entries:
        try:
            spec = spec_from_mapping(mapping, default_timezone=default_timezone, source=source, line=job.line)
        except TaskSpecError as exc:
            warnings.append(f"line {job.line}: not imported: {exc.message}")
            continue
        tasks.append(spec)
        rendered.append((job, mapping))
    if tasks:
        warnings.append(
            "cron had no timeout, retries or overlap lock; smartcron's defaults apply (timeout 300 s, "
            "3 retries, no overlapping runs): check each task before `smartcron tasks apply`"
        )
    return CrontabImport(tasks, _render(rendered, source, warnings), warnings)


@dataclass(frozen=True, slots=True)
class WrappedCrontab:
    """A crontab whose jobs go through ``smartcron exec``: the new text, and what was wrapped."""

    text: str
    wrapped: list[str]
    """The task names the wrapped lines run as."""
    warnings: list[str]


def wrap_crontab(
    text: str,
    *,
    default_timezone: str,
    program: str,
    system: bool | None = None,
    home: str | None = None,
) -> WrappedCrontab:
    """Rewrite ``text`` so that each job runs through ``PROGRAM exec NAME --schedule ...``, cron
    keeping its schedule: smartcron is adopted line by line without moving a schedule. Every other
    line stays as it is; a job that cannot be wrapped safely stays too, with a warning."""
    lines = text.split("\n")
    if system is None:
        system = _looks_like_system(lines)
    settings = _Settings(timezone=default_timezone)
    warnings: list[str] = []
    taken: set[str] = set()
    names: list[str] = []
    out: list[str] = []
    home_line = home is not None and any(_ENV_LINE.match(line) and line.split("=")[0].strip() == "SMARTCRON_HOME"
                                         for line in lines)  # fmt: skip
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#") or (match := _ENV_LINE.match(line)):
            if line and not line.startswith("#") and match:
                _apply_setting(settings, match[1], _unquote(match[2]), number, [])
            if line.startswith("#"):
                settings.comments.append(line.lstrip("#").strip())
            elif not line:
                settings.comments.clear()
            out.append(raw)
            continue
        job = _split_job(line, number, system, warnings)
        wrapped = None if job is None else _wrapped_line(job, settings, taken, program, default_timezone, warnings)
        settings.comments.clear()
        if wrapped is None:
            out.append(raw)
            continue
        name, new_line = wrapped
        names.append(name)
        out.append(new_line)
    if home is not None and not home_line and names:
        out.insert(0, f"SMARTCRON_HOME={home}")
    return WrappedCrontab("\n".join(out), names, warnings)


def _wrapped_line(
    job: _Job, settings: _Settings, taken: set[str], program: str, default_timezone: str, warnings: list[str]
) -> tuple[str, str] | None:
    if f"{program} exec " in job.command or job.command.startswith("smartcron exec "):
        return None  # wrapped already
    if "%" in job.command.replace("\\%", ""):
        warnings.append(f"line {job.line}: not wrapped: cron turns '%' into a newline before any command sees it")
        return None
    mapping = _task_mapping(job, settings, taken, warnings)
    if mapping is None:
        return None
    name = str(mapping["name"])
    words = [program, "exec", name, "--schedule", job.schedule]
    if settings.timezone != default_timezone:
        words += ["--tz", settings.timezone]
    command, _ = _unescape_percent(job.command)
    if settings.shell and settings.shell not in _PLAIN_SHELLS:
        words += ["--", settings.shell, "-c", command]  # the shell cron would have used
    else:
        words += ["--shell", "--", command]
    head = job.text[: len(job.text) - len(job.command)].rstrip()
    return name, f"{head} {shlex.join(words)}"


def _looks_like_system(lines: list[str]) -> bool:
    users: list[str] = []
    for raw in lines:
        line = raw.strip()
        if line.startswith("#"):
            if _SYSTEM_HEADER.search(line):
                return True
            continue
        if not line or _ENV_LINE.match(line):
            continue
        words = line.split()
        fields = 1 if line.startswith("@") else 5
        if len(words) < fields + 2:
            return False
        users.append(words[fields])
    return bool(users) and all(user in _USUAL_SYSTEM_USERS for user in users)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _apply_setting(settings: _Settings, name: str, value: str, number: int, warnings: list[str]) -> None:
    if name == "MAILTO":
        addresses = tuple(part for part in re.split(r"[\s,]+", value) if part)
        good = tuple(address for address in addresses if EMAIL_PATTERN.match(address))
        for address in addresses:
            if address not in good:
                warnings.append(f"line {number}: MAILTO {address!r} is not an email address; not kept")
        settings.mail_to = good if good or not addresses else None
        return
    if name in ("CRON_TZ", "TZ"):
        try:
            parse_schedule("* * * * *", value)
        except ScheduleError:
            warnings.append(
                f"line {number}: unknown time zone {value!r} in {name}; the jobs below keep {settings.timezone}"
            )
        else:
            settings.timezone = value
        if name == "CRON_TZ":  # read by cron itself, not by the job
            return
    if name == "SHELL":
        settings.shell = value
    settings.env[name] = value


def _split_job(line: str, number: int, system: bool, warnings: list[str]) -> _Job | None:
    fields = 1 if line.startswith("@") else 5
    words = line.split(None, fields + (1 if system else 0))
    if len(words) < fields + (2 if system else 1):
        warnings.append(f"line {number}: not a job or a setting; skipped: {_shown(line)}")
        return None
    schedule = " ".join(words[:fields])
    user = words[fields] if system else None
    command = words[-1]
    if schedule.lower() == "@reboot":
        warnings.append(
            f"line {number}: @reboot jobs are not supported (smartcron has no boot trigger); "
            f"not imported: {_shown(command)}"
        )
        return None
    return _Job(number, line, schedule, user, command)


def _task_mapping(job: _Job, settings: _Settings, taken: set[str], warnings: list[str]) -> dict[str, Any] | None:
    where = f"line {job.line}"
    command, has_percent = _unescape_percent(job.command)
    described = _description(settings.comments)
    from_comment = _slug(described[0]) if described else ""
    name = from_comment or _name_from_command(command)
    try:
        parse_schedule(job.schedule, settings.timezone, hash_key=name)
    except ScheduleError as exc:
        warnings.append(f"{where}: not imported: schedule {job.schedule!r}: {exc.message}")
        return None
    if has_percent:
        warnings.append(
            f"{where}: '%' in a cron command means a newline and feeds what follows to stdin; "
            "kept as written for the shell, check it"
        )
    argv = None if has_percent else _plain_argv(command)
    name = _unique(name, taken)
    mapping: dict[str, Any] = {
        "name": name,
        "description": " ".join(described)[:MAX_DESCRIPTION] or f"imported from crontab line {job.line}",
    }
    if argv is not None:
        mapping["command"] = argv
    elif settings.shell and settings.shell not in _PLAIN_SHELLS:
        mapping["command"] = [settings.shell, "-c", command]  # the shell cron would have used
    else:
        mapping |= {"command": command, "shell": True}
    mapping |= {"schedule": job.schedule, "timezone": settings.timezone}
    if settings.mail_to is not None:
        mapping |= {"notify_emails": list(settings.mail_to)} if settings.mail_to else {"notify_on_failure": False}
    if settings.env:
        mapping["env"] = dict(settings.env)
    if job.user is not None and job.user != "root":
        warnings.append(f"{where}: ran as user {job.user!r}; smartcron runs it as the user smartcron runs as")
    return mapping


def _unescape_percent(command: str) -> tuple[str, bool]:
    """cron turns '\\%' into '%', and an unescaped '%' into a newline (the rest goes to stdin)."""
    out: list[str] = []
    bare = False
    index = 0
    while index < len(command):
        if command.startswith("\\%", index):
            out.append("%")
            index += 2
            continue
        bare = bare or command[index] == "%"
        out.append(command[index])
        index += 1
    return ("".join(out), False) if not bare else (command, True)


def _plain_argv(command: str) -> list[str] | None:
    if any(ch in _SHELL_SYNTAX for ch in command):
        return None
    words = command.split()
    if not words or "=" in words[0] or words[0] in _SHELL_BUILTINS:
        return None
    return words


def _description(comments: list[str]) -> list[str]:
    """The last paragraph of the comment block right above a job, minus headers and old jobs."""
    paragraph: list[str] = []
    for comment in comments:
        if not comment:
            paragraph = []
        elif not _COLUMN_HEADER.match(comment) and not _is_commented_job(comment):
            paragraph.append(comment)
    return paragraph


def _is_commented_job(comment: str) -> bool:
    words = comment.split()
    for fields in (1, 5):
        if len(words) > fields:
            try:
                parse_expression(" ".join(words[:fields]))
            except ScheduleError:
                continue
            return True
    return False


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if len(slug) > _NAME_LENGTH:
        slug = slug[:_NAME_LENGTH].rsplit("_", 1)[0]
    return slug


def _name_from_command(command: str) -> str:
    """The script a command runs: 'php /jobs/sync_vend.php > /dev/null' is sync_vend."""
    for word in _program_words(command):
        base = word.rstrip("/").rsplit("/", 1)[-1]
        if re.sub(r"[0-9.]+$", "", base) in _INTERPRETERS | _WRAPPERS:
            continue
        slug = _slug(_SCRIPT_SUFFIX.sub("", base))
        if slug:
            return slug
    return "job"


def _program_words(command: str) -> Iterator[str]:
    try:
        words = shlex.split(command, comments=False)
    except ValueError:
        words = command.split()
    skip_value = False
    for word in words:
        if word in ("&&", "||", ";", "|") or word.startswith(">"):
            skip_value = False
            continue
        if skip_value:
            skip_value = False
            continue
        if word == "cd" or word in _OPTIONS_WITH_VALUE:
            skip_value = True
            continue
        if word.startswith("-") or "=" in word or re.fullmatch(r"[0-9]+[smhd]?", word):
            continue
        yield word


def _unique(name: str, taken: set[str]) -> str:
    name = name or "job"
    candidate, counter = name, 1
    while candidate in taken:
        counter += 1
        candidate = f"{name}_{counter}"
    taken.add(candidate)
    return candidate


def _shown(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _render(entries: list[tuple[_Job, dict[str, Any]]], source: str, warnings: list[str]) -> str:
    out = [
        f"# Task file imported from {_comment(source)} by `smartcron tasks import-crontab`.",
        "# Check it, then register the tasks with `smartcron tasks apply FILE`.",
    ]
    out += [f"# warning: {_comment(warning)}" for warning in warnings]
    for job, mapping in entries:
        out += ["", f"# line {job.line}: {_comment(job.text)}", "[[task]]"]
        out += [f"{key} = {_toml_value(value)}" for key, value in mapping.items()]
    return "\n".join(out) + "\n"


def _comment(text: str) -> str:
    """Text safe inside a TOML comment: no control characters."""
    return "".join(ch if ch == "\t" or (ch >= " " and ch != "\x7f") else "?" for ch in text)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
