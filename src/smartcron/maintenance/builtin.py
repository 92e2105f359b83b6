"""Built-in tasks: smartcron's own upkeep, registered by ``smartcron init`` and shown like any task.

Names carry the reserved ``smartcron.`` prefix, which user task files may not use, so they never
collide with a user's task (the example registry has its own ``backup_database``). Registering is
idempotent: a built-in task that exists is left exactly as it is, so a person's edit (another
schedule, paused) survives every later ``init``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from smartcron.clock import utcnow
from smartcron.config import Settings
from smartcron.domain.enums import Priority
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import TaskSpec
from smartcron.domain.taskfields import RESERVED_PREFIX
from smartcron.errors import TaskSpecError
from smartcron.store import Store

CATEGORY = "smartcron"


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    schedule: str
    arguments: tuple[str, ...]
    description: str
    timeout: int
    priority: int = Priority.HIGH


BUILTINS = (
    Builtin("backup", "0 1 * * *", ("backup",), "Back up the database and keep the last few (01:00 daily)", 6 * 3600),
    Builtin(
        "rotate-logs",
        "0 0 * * 0",
        ("rotate-logs",),
        "Rotate, compress and expire log files (Sunday midnight; cleanup also rotates daily)",
        3600,
    ),
    Builtin(
        "cleanup",
        "0 4 * * *",
        ("cleanup",),
        "Delete history past its retention and rotate the logs (04:00 daily)",
        3 * 3600,
    ),
    Builtin(
        "daily-report",
        "0 7 * * *",
        ("report", "--email"),
        "Yesterday's runs, failures, slowest tasks and disk, by email (07:00)",
        600,
        Priority.LOW,
    ),
    Builtin(
        "disk-check",
        "0 */6 * * *",
        ("disk-check",),
        "Fail when a disk is nearly full (every 6 hours)",
        300,
    ),
    Builtin(
        "error-summary",
        "0 18 * * *",
        ("report", "--errors", "--email"),
        "Failures of the last 24 hours, by email (18:00)",
        600,
        Priority.LOW,
    ),
    Builtin(
        "vacuum",
        "0 3 * * 0",
        ("vacuum",),
        "Database upkeep: ANALYZE, VACUUM or OPTIMIZE (Sunday 03:00)",
        6 * 3600,
    ),
)


def builtin_command(settings: Settings, arguments: tuple[str, ...]) -> tuple[str, ...]:
    """``python -m smartcron [--config FILE] maintenance ...`` with this interpreter: the tasks use
    the same installation and the same configuration as the ``init`` that registered them."""
    config = ("--config", settings.config_file) if settings.config_file and Path(settings.config_file).exists() else ()
    return (sys.executable, "-m", "smartcron", *config, "maintenance", *arguments)


def builtin_specs(settings: Settings) -> list[TaskSpec]:
    return [
        TaskSpec(
            name=RESERVED_PREFIX + item.name,
            command=builtin_command(settings, item.arguments),
            schedule=item.schedule,
            category=CATEGORY,
            description=item.description,
            timezone=settings.timezone,
            priority=item.priority,
            timeout=item.timeout,
            retries=1,
        )
        for item in BUILTINS
    ]


def ensure_builtin_tasks(settings: Settings, store: Store, *, now: datetime | None = None) -> list[str]:
    """Register the built-in tasks that are missing; returns the names added."""
    now = now or utcnow()
    added = []
    for spec in builtin_specs(settings):
        if store.tasks.find(spec.name) is not None:
            continue
        next_run = parse_schedule(spec.schedule, spec.timezone or settings.timezone).next_after(now)
        try:
            store.tasks.add(spec, now=now, next_run_at=next_run, builtin=True)
        except TaskSpecError:  # a concurrent init registered it a moment ago
            continue
        added.append(spec.name)
    return added
