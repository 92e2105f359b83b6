"""Queueing a manual run ("Run now"), from the dashboard, the API or the command line: one rule,
one audit entry (action ``task.run``, target the task, details the queued execution's id)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smartcron.domain.enums import Trigger
from smartcron.domain.task import Task
from smartcron.store import Store


def queue_manual_run(
    store: Store, task: Task, *, by: str, now: datetime | None = None, again_of: int | None = None
) -> int:
    """Queue a manual run of ``task`` for ``now`` (the database's clock unless given) and audit it
    as ``by``; ``again_of`` is the run whose page asked for it ("Run again", "Retry"). Returns the
    queued execution's id; a runner starts it (or ``smartcron tasks run`` itself, with none alive)."""
    when = now or store.database_now()
    execution_id = store.executions.enqueue(task.id, scheduled_for=when, trigger=Trigger.MANUAL)
    details: dict[str, Any] = {"execution_id": execution_id}
    if again_of is not None:
        details["again_of"] = again_of
    store.audit.record(by, "task.run", task.name, details, now=when)
    return execution_id
