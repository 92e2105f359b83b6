"""Gathers what ``smartcron why`` looks at from the store (rows, audit log, heartbeats) and has
:func:`smartcron.domain.why.explain_window` explain it. The CLI and the dashboard both call this."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from smartcron.config import Settings
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import MAX_TIMEOUT
from smartcron.domain.why import MAX_SLOTS, explain_window
from smartcron.domain.why_model import FlagChange, RunnerSeen, WhyReport
from smartcron.store import Store
from smartcron.store.audit import AuditEntry
from smartcron.store.slot_history import rows_around

DEFAULT_WINDOW = timedelta(hours=24)
CONTEXT = timedelta(hours=6)
"""Rows this far before the window are read too: when a runner was last seen before a gap."""
AUDIT_LIMIT = 1000
RUNNER_ROLES = ("runner", "tick")
_FLAG_ACTIONS = {"task.pause": "pause", "task.resume": "resume", "task.disable": "disable", "task.enable": "enable"}


def explain_task(store: Store, settings: Settings, name: str, *, since: datetime, now: datetime) -> WhyReport:
    """Explain every slot of task ``name`` in ``(since, now]``; NotFoundError for no such task."""
    task = store.tasks.get(name)
    schedule = parse_schedule(task.spec.schedule, task.spec.timezone or settings.timezone, hash_key=task.name)
    rows = rows_around(
        store.engine,
        task.id,
        since=since - CONTEXT,
        until=now,
        earliest=since - timedelta(seconds=MAX_TIMEOUT),
        limit=2 * MAX_SLOTS,
    )
    entries = store.audit.list(limit=AUDIT_LIMIT, target=task.name)
    runners = [
        RunnerSeen(
            name=beat.name,
            tags=tuple(str(tag) for tag in (beat.info or {}).get("tags") or ()),
            last_beat=beat.heartbeat_at,
            active=bool((beat.info or {}).get("active", True)),
        )
        for beat in store.nodes.all()
        if beat.role in RUNNER_ROLES
    ]
    return explain_window(
        task,
        schedule,
        since=since,
        now=now,
        rows=rows,
        changes=flag_changes(entries),
        runners=runners,
        runner_fresh=timedelta(seconds=settings.health_runner_down_after),
        requested_by=_requests(entries),
    )


def flag_changes(entries: Sequence[AuditEntry]) -> list[FlagChange]:
    """The audited changes that decide whether the task's slots were due, oldest first."""
    changes = []
    for entry in entries:
        for action in _actions(entry):
            changes.append(FlagChange(entry.at, entry.actor, action))
    return sorted(changes, key=lambda change: change.at)


def _actions(entry: AuditEntry) -> list[str]:
    if entry.action in _FLAG_ACTIONS:
        return [_FLAG_ACTIONS[entry.action]]
    details: dict[str, Any] = entry.details or {}
    if entry.action == "task.add":
        spec = details.get("spec") or {}
        return ["add"] + (["disable"] if spec.get("enabled") is False else [])
    if entry.action != "task.edit":
        return []
    changed = details.get("changes") or {}
    found = []
    if "enabled" in changed:
        found.append("enable" if (changed["enabled"] or {}).get("new") else "disable")
    if "schedule" in changed or "timezone" in changed:
        found.append("schedule")
    return found


def _requests(entries: Sequence[AuditEntry]) -> dict[int, str]:
    found = {}
    for entry in entries:
        execution_id = (entry.details or {}).get("execution_id") if entry.action == "task.run" else None
        if isinstance(execution_id, int):
            found[execution_id] = entry.actor
    return found
