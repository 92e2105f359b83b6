"""Writing rows the way runners write them, and reading what ``smartcron why`` says of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import Task
from smartcron.domain.why_model import SlotExplanation
from smartcron.services.why import explain_task
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim


def why(store: Store, settings: Settings, name: str, *, since: datetime, now: datetime) -> list[SlotExplanation]:
    return list(explain_task(store, settings, name, since=since, now=now).slots)


def ran(
    store: Store,
    task: Task,
    slots: Sequence[datetime],
    *,
    status: ExecutionStatus = ExecutionStatus.SUCCESS,
    reason: str | None = None,
    node: str = "node-a",
    seconds: float = 1,
) -> list[Execution]:
    """Runs of ``slots`` claimed, started on time and ended ``seconds`` later with ``status``."""
    token = f"t{slots[0].timestamp():.0f}"
    claims = [SlotClaim(task.id, slot, Trigger.SCHEDULE) for slot in slots]
    rows = store.executions.claim(claims, node=node, token=token, now=slots[0])
    store.executions.begin(
        [row.id for row in rows], node=node, token=token, now=slots[0], lease_until=slots[-1] + timedelta(days=1)
    )
    ended = [
        Finish(
            row.id,
            task.id,
            Outcome(
                status,
                row.scheduled_for + timedelta(seconds=seconds),
                exit_code=0 if status is ExecutionStatus.SUCCESS else None,
                reason=reason,
                duration_ms=int(seconds * 1000),
            ),
        )
        for row in rows
    ]
    store.executions.finish(ended, token=token)
    return store.executions.by_ids(row.id for row in rows)
