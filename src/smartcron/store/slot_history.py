"""A task's rows around a window of time, for explaining its slots (``smartcron why``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_
from sqlalchemy.engine import Engine

from smartcron.domain.execution import Execution
from smartcron.store.execution_rows import row_to_execution, with_task_name
from smartcron.store.schema import executions as e


def rows_around(
    engine: Engine, task_id: int, *, since: datetime, until: datetime, earliest: datetime, limit: int
) -> list[Execution]:
    """Rows of task ``task_id`` whose slot lies in ``[since, until]``, or whose slot lies in
    ``[earliest, since)`` and that ran during the window (a long run a slot in it overlapped); the
    newest ``limit``, oldest first. Both are read along the (task, slot, attempt) key.
    """
    in_window = and_(e.c.scheduled_for >= since, e.c.scheduled_for <= until)
    ran_during = and_(
        e.c.scheduled_for >= earliest,
        e.c.scheduled_for < since,
        e.c.started_at <= until,
        or_(e.c.finished_at.is_(None), e.c.finished_at >= since),
    )
    query = (
        with_task_name()
        .where(e.c.task_id == task_id, or_(in_window, ran_during))
        .order_by(e.c.scheduled_for.desc(), e.c.attempt.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        found = [row_to_execution(r) for r in conn.execute(query).mappings()]
    found.reverse()
    return found
