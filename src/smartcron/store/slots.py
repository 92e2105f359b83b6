"""Claiming slots: inserting the rows of due slots, one unique key deciding every race (DESIGN 3.1).

Concurrency contract:

* **Claiming a slot is inserting its row.** (task, scheduled_for, attempt) is UNIQUE; an insert that
  loses the race is ignored. :func:`insert_claims` inserts a batch and returns only the rows this
  caller won, recognised by the claim token it wrote. Two ticks, a tick beside a daemon, or several
  nodes can therefore plan the same slot and only one of them runs it.
* **Several nodes share the due tasks** (:meth:`SlotRepository.claim_due`): one transaction locks
  up to ``limit`` due tasks with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL, MariaDB 10.6+), plans them,
  inserts their rows and moves each task's ``next_run_at``; a node claiming at the same moment
  skips the tasks locked by another and takes the next ones, so a crowded instant is split
  between nodes instead of going to whichever planned first. On SQLite the write transaction
  (BEGIN IMMEDIATE) serialises claimers instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, Text, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.engine import Connection, Engine

from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from smartcron.store.engine import retry_on_deadlock, write_transaction
from smartcron.store.execution_rows import SlotClaim, row_to_execution, with_task_name
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t
from smartcron.store.tasks import row_to_task

Move = tuple[int, datetime | None, datetime | None]
"""(task id, the next_run_at the plan started from, the new next_run_at): a compare-and-swap."""

Planner = Callable[[Sequence[Task]], tuple[Sequence[SlotClaim], Sequence[Move]]]
"""Given the due tasks this node took, the rows to claim for them and their moves of next_run_at."""


@dataclass(frozen=True, slots=True)
class DueClaim:
    """What one :meth:`SlotRepository.claim_due` took."""

    tasks: list[Task]
    """The due tasks this node locked and planned."""
    won: list[Execution]
    """The rows it inserted (status as claimed: ``scheduled`` to run, or final)."""
    more: bool
    """The limit was reached, so due tasks may be left: another node, or this one's next pass, takes them."""


def insert_ignore(conn: Connection, table: Table) -> Any:
    """An INSERT into ``table`` that skips rows whose key is taken (each dialect has its spelling)."""
    # Only the dialect in use is imported: each costs `smartcron tick` tens of milliseconds.
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing()
    if dialect == "mysql":
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        return mysql_insert(table).prefix_with("IGNORE")
    raise NotImplementedError(dialect)  # pragma: no cover - engine.py refuses other databases


def insert_claims(
    conn: Connection, claims: Sequence[SlotClaim], *, node: str, token: str, now: datetime
) -> list[Execution]:
    """Insert one row per claim; return the rows this caller won (status as claimed).

    ``token`` must be unique to this call (it marks the rows this caller inserted); it stays on
    ``scheduled`` rows until they start and is cleared on final rows.
    """
    if not claims:
        return []
    rows = [
        {
            "task_id": c.task_id,
            "scheduled_for": c.scheduled_for,
            "attempt": c.attempt,
            "trigger": c.trigger.value,
            "status": c.status.value,
            "reason": c.reason,
            "retry_of": c.retry_of,
            "node": node,
            "lease_token": token,
            "finished_at": now if c.status.is_final else None,
        }
        for c in claims
    ]
    conn.execute(insert_ignore(conn, e), rows)
    won = [
        row_to_execution(r)
        for r in conn.execute(with_task_name().where(e.c.lease_token == token).order_by(e.c.id)).mappings()
    ]
    final_ids = [x.id for x in won if x.status.is_final]
    if final_ids:
        conn.execute(update(e).where(e.c.id.in_(final_ids)).values(lease_token=None))
    return won


def advance_tasks(conn: Connection, moves: Sequence[Move]) -> int:
    """Move ``next_run_at`` forward by compare-and-swap; returns how many tasks moved."""
    known = [{"b_id": task_id, "b_old": old, "b_new": new} for task_id, old, new in moves if old is not None]
    moved = 0
    if known:  # one executemany: a burst of due tasks moves in one round trip
        cas = update(t).where(t.c.id == bindparam("b_id"), t.c.next_run_at == bindparam("b_old"))
        moved += conn.execute(cas.values(next_run_at=bindparam("b_new")), known).rowcount
    for task_id, expected, new in moves:
        if expected is None:
            cond = t.c.next_run_at.is_(None)
            moved += conn.execute(update(t).where(t.c.id == task_id, cond).values(next_run_at=new)).rowcount
    return moved


def _may_run_on(node: str, tags: Sequence[str]) -> Any:
    """SQL for "the task's nodes list is empty or names this node or one of its tags"; ``nodes``
    is compact JSON text (``["gpu","bank"]``), and names and tags cannot hold quotes. ``_`` in a
    name matches any character here, so callers check ``TaskSpec.runs_on`` again."""
    text = type_coerce(t.c.nodes, Text)  # the JSON as stored, not a value to encode
    return or_(t.c.nodes.is_(None), *[text.like(f'%"{name}"%') for name in (node, *tags)])


def _due_query(now: datetime, node: str, tags: Sequence[str]) -> Any:
    return t.c.next_run_at <= now, t.c.enabled.is_(True), t.c.paused.is_(False), _may_run_on(node, tags)


class SlotRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def count_due(self, now: datetime, *, node: str, tags: Sequence[str] = ()) -> int:
        """How many active tasks that may run on ``node`` are due at ``now`` (to size a fair share)."""
        query = select(func.count()).select_from(t).where(*_due_query(now, node, tags))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def claim_due(
        self,
        now: datetime,
        *,
        node: str,
        tags: Sequence[str] = (),
        limit: int,
        token: str,
        plan: Planner,
    ) -> DueClaim:
        """Take up to ``limit`` due tasks that may run on ``node``, plan them, claim their rows and
        move their ``next_run_at``, all in one transaction (see the module docstring)."""

        def attempt() -> DueClaim:
            with write_transaction(self._engine, read_committed=True) as conn:
                query = (
                    select(t)
                    .where(*_due_query(now, node, tags))
                    .order_by(t.c.next_run_at, t.c.priority, t.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
                found = [row_to_task(r) for r in conn.execute(query).mappings()]
                taken = [task for task in found if task.spec.runs_on(node, tags)]
                claims, moves = plan(taken)
                won = insert_claims(conn, claims, node=node, token=token, now=now)
                advance_tasks(conn, moves)
            # A full batch may have left more behind: the caller comes back for them.
            return DueClaim(taken, won, more=len(found) >= limit)

        return retry_on_deadlock(attempt)
