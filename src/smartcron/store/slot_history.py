"""A task's rows around a window of time, for explaining its slots (``smartcron why``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, null, or_, select
from sqlalchemy.engine import Engine

from smartcron.domain.execution import Execution
from smartcron.store.execution_rows import row_to_execution
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t


def rows_around(
    engine: Engine, task_id: int, *, since: datetime, until: datetime, earliest: datetime, limit: int
) -> list[Execution]:
    """Rows of task ``task_id`` whose slot lies in ``[since, until]``, or whose slot lies in
    ``[earliest, since)`` and that ran during the window (a long run a slot in it overlapped); the
    newest ``limit``, oldest first. Both are read along the (task, slot, attempt) key. The output
    tail is left out (``output`` None): a day of a busy task's tails would be megabytes.
    """
    in_window = and_(e.c.scheduled_for >= since, e.c.scheduled_for <= until)
    ran_during = and_(
        e.c.scheduled_for >= earliest,
        e.c.scheduled_for < since,
        e.c.started_at <= until,
        or_(e.c.finished_at.is_(None), e.c.finished_at >= since),
    )
    columns = [column for column in e.c if column.name != "output"]
    query = (
        select(*columns, null().label("output"), t.c.name.label("task_name"))
        .join(t, t.c.id == e.c.task_id)
        .where(e.c.task_id == task_id, or_(in_window, ran_during))
        .order_by(e.c.scheduled_for.desc(), e.c.attempt.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        found = [row_to_execution(r) for r in conn.execute(query).mappings()]
    found.reverse()
    return found
