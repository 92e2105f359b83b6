"""A task as the registry knows it: its definition (``TaskSpec``) and its stored state (``Task``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from smartcron.domain.enums import CatchupPolicy, ExecutionStatus, OverlapPolicy

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
"""A task name is a slug: it names log files and URLs, so no '/', no '..', no spaces."""

DEFAULT_TIMEOUT = 300
DEFAULT_KILL_GRACE = 10
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY = 30
DEFAULT_RETRY_MAX_DELAY = 900
DEFAULT_MAX_OUTPUT_KB = 10240
MAX_RETRIES = 100
MAX_TIMEOUT = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What a person declares about a task: everything the task file and the CLI can set.

    ``command`` is an argv tuple, or a one-element tuple holding a shell string when ``shell``.
    ``timezone`` None means the configured default zone.
    """

    name: str
    command: tuple[str, ...]
    schedule: str
    category: str = "default"
    description: str = ""
    shell: bool = False
    working_dir: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    timezone: str | None = None
    enabled: bool = True
    priority: int = 2
    notify_on_failure: bool = True
    timeout: int = DEFAULT_TIMEOUT
    kill_grace: int = DEFAULT_KILL_GRACE
    retries: int = DEFAULT_RETRIES
    retry_delay: int = DEFAULT_RETRY_DELAY
    retry_max_delay: int = DEFAULT_RETRY_MAX_DELAY
    fatal_exit_codes: tuple[int, ...] = ()
    max_memory_mb: int | None = None
    max_cpu_seconds: int | None = None
    nice: int | None = None
    overlap: OverlapPolicy = OverlapPolicy.FORBID
    catchup: CatchupPolicy = CatchupPolicy.LATEST
    starting_deadline: int | None = None
    max_output_kb: int = DEFAULT_MAX_OUTPUT_KB
    notify_emails: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    retry_unknown_outcome: bool = False
    """Retry a run whose outcome a runner crash left unknown (only for tasks safe to repeat)."""

    @property
    def log_name(self) -> str:
        """File name of the task's log under ``<logs>/tasks/``."""
        return f"{self.category}_{self.name}.log"

    def runs_on(self, node: str, tags: Iterable[str] = ()) -> bool:
        """May this task run on runner ``node`` with these tags? Any runner when ``nodes`` is empty,
        else one whose name or one of whose tags ``nodes`` lists."""
        return not self.nodes or node in self.nodes or any(tag in self.nodes for tag in tags)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "env":
                value = dict(value)
            elif f.name == "command":
                value = value[0] if self.shell else list(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, OverlapPolicy | CatchupPolicy):
                value = value.value
            out[f.name] = value
        return out

    def changed_fields(self, other: TaskSpec) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


SPEC_FIELDS = tuple(f.name for f in fields(TaskSpec))


class TaskOrigin(StrEnum):
    """Where a task was declared, so that syncing a task file never removes, unasked, a task
    someone made another way."""

    FILE = "file"
    """A task file (``smartcron tasks apply``, ``tasks add --file``), or last applied from one."""
    CLI = "cli"
    """``smartcron tasks add`` with options."""
    API = "api"
    """The JSON API."""
    WEB = "web"
    """The dashboard."""
    EXEC = "exec"
    """``smartcron exec``, the wrapper for a line of an existing crontab."""
    BUILTIN = "builtin"
    """Registered by ``smartcron init`` (maintenance, health)."""


@dataclass(frozen=True, slots=True)
class Task:
    """A registered task: its definition plus what the store keeps about it."""

    id: int
    spec: TaskSpec
    paused: bool = False
    builtin: bool = False
    origin: TaskOrigin | None = None
    """Where it was declared; None for a task registered before smartcron kept this."""
    next_run_at: datetime | None = None
    last_execution_id: int | None = None
    last_status: ExecutionStatus | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_duration_ms: int | None = None
    last_success_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def active(self) -> bool:
        """Enabled and not paused: its slots are due."""
        return self.spec.enabled and not self.paused
