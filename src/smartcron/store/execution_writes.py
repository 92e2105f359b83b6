"""The runner's writes to ``smart_cron_executions`` at a run's start and end, in as few statements
as the database allows (issue 14: round trips per run).

* :func:`attach_runs` writes the pids of started runs, fenced by the runner's lease token, and
  shows their tasks as running: two ``executemany`` calls for a whole batch, no read.
* :func:`finish_runs` records outcomes. The outcome update itself is the fence (only rows still
  live, and with a token only rows still holding it), sent for the whole batch at once; when the
  database says every row was updated, that is the answer and nothing is read. When fewer were
  (some run ended elsewhere meanwhile: a lost lease, a cancel, a replace), which ones cannot be
  told from a count, so that transaction is rolled back and the batch is written the careful way:
  a locking SELECT of the rows still live, then the update of those only.

Either way a runner that lost its lease writes nothing, and a task's summary moves only for the
rows written.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.engine import Connection, Engine

from smartcron.domain.enums import ExecutionStatus
from smartcron.errors import StoreError
from smartcron.store.engine import write_transaction
from smartcron.store.execution_rows import LIVE_ROWS, Finish, Start, outcome_values
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t


class _SomeNotLive(Exception):
    """The fast path updated fewer rows than it was given: roll back, take the careful path."""


def attach_runs(engine: Engine, starts: Sequence[Start], *, token: str) -> None:
    """Record the process of each started run (only rows still under ``token``), and show the
    task as running."""
    if not starts:
        return
    with engine.begin() as conn:
        conn.execute(
            update(e)
            .where(e.c.id == bindparam("b_id"), e.c.lease_token == token)
            .values(
                pid=bindparam("b_pid"),
                pgid=bindparam("b_pgid"),
                proc_start=bindparam("b_proc_start"),
                started_at=bindparam("b_started"),
            ),
            [
                {"b_id": s.execution_id, "b_pid": s.pid, "b_pgid": s.pgid, "b_proc_start": s.proc_start,
                 "b_started": s.started_at}
                for s in starts
            ],
        )  # fmt: skip
        conn.execute(
            update(t)
            .where(t.c.id == bindparam("b_task"))
            .values(last_status=ExecutionStatus.RUNNING.value, last_started_at=bindparam("b_started")),
            [{"b_task": s.task_id, "b_started": s.started_at} for s in starts],
        )


def finish_runs(engine: Engine, finishes: Sequence[Finish], *, token: str | None) -> set[int]:
    """Record the outcomes of rows still live (with ``token``: still holding that lease); the ids
    written."""
    todo = list({f.execution_id: f for f in finishes}.values())
    if not todo:
        return set()
    if engine.dialect.supports_sane_multi_rowcount:
        try:
            with write_transaction(engine) as conn:
                moved = _update_outcomes(conn, todo, token)
                if moved != len(todo):
                    raise _SomeNotLive
                update_summaries(conn, todo)
            return {f.execution_id for f in todo}
        except _SomeNotLive:
            pass  # rolled back: nothing of it was written
    return _finish_locked(engine, todo, token)


def _finish_locked(engine: Engine, todo: list[Finish], token: str | None) -> set[int]:
    """The careful path: lock the rows still live (the write lock on SQLite, FOR UPDATE elsewhere),
    update exactly those."""
    with write_transaction(engine) as conn:
        live = select(e.c.id).where(e.c.id.in_([f.execution_id for f in todo]), LIVE_ROWS)
        if token is not None:
            live = live.where(e.c.lease_token == token)
        still_live = {int(r[0]) for r in conn.execute(live.with_for_update())}
        todo = [f for f in todo if f.execution_id in still_live]
        if todo:
            moved = _update_outcomes(conn, todo, token)
            if moved != len(todo):  # cannot happen under the lock; never write half a batch
                raise StoreError(f"finish: {moved} of {len(todo)} locked rows updated")
            update_summaries(conn, todo)
    return {f.execution_id for f in todo}


def _update_outcomes(conn: Connection, todo: Sequence[Finish], token: str | None) -> int:
    """Update each row that is still live (and holds ``token``); how many were updated."""
    outcome = update(e).where(e.c.id == bindparam("b_id"), LIVE_ROWS)
    if token is not None:
        outcome = outcome.where(e.c.lease_token == token)
    columns = list(outcome_values(todo[0].outcome))
    rows = [{"b_id": f.execution_id, **{f"b_{k}": v for k, v in outcome_values(f.outcome).items()}} for f in todo]
    return int(conn.execute(outcome.values({k: bindparam(f"b_{k}") for k in columns}), rows).rowcount)


def update_summaries(conn: Connection, finishes: Sequence[Finish]) -> None:
    """Each task's last-run columns, from the runs just ended (only ever moved forward)."""
    # Only move the summary forward: a late-finishing older run must not overwrite it.
    forward = (
        (t.c.last_execution_id.is_(None))
        | (t.c.last_execution_id <= bindparam("b_execution"))
        | (t.c.last_status == "running")
    )
    success = bindparam("b_status") == ExecutionStatus.SUCCESS.value
    summary = (
        update(t)
        .where(t.c.id == bindparam("b_task"))
        .where(forward)
        .values(
            last_execution_id=bindparam("b_execution"),
            last_status=bindparam("b_status"),
            last_finished_at=bindparam("b_finished"),
            last_duration_ms=bindparam("b_duration"),
            last_success_at=case((success, bindparam("b_finished")), else_=t.c.last_success_at),
        )
    )
    conn.execute(
        summary,
        [
            {
                "b_task": f.task_id,
                "b_execution": f.execution_id,
                "b_status": f.outcome.status.value,
                "b_finished": f.outcome.finished_at,
                "b_duration": f.outcome.duration_ms,
            }
            for f in finishes
        ],
    )
