"""Runs in ``smart_cron_executions``: claiming slots, starting, finishing, reading history.

Concurrency contract:

* **Claiming a slot is inserting its row** (:mod:`smartcron.store.slots`).
* **Starting is a compare-and-swap** from ``scheduled`` to ``running`` that also writes the pid, the
  node and a lease (token + expiry). Only the caller whose update changed the row may spawn.
* **Finishing is a compare-and-swap** from ``running`` guarded by the lease token, so a runner that
  lost its lease (its rows were declared abandoned by a healthy node) writes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Engine

from smartcron.domain.enums import ErrorCategory, ExecutionStatus, Trigger
from smartcron.domain.execution import Execution, Outcome
from smartcron.domain.task import Task
from smartcron.errors import ConflictError, NotFoundError
from smartcron.store.engine import retry_on_deadlock, write_transaction
from smartcron.store.execution_rows import (
    FAILURES,
    LIVE,
    LIVE_ROWS,
    REASON_LENGTH,
    Finish,
    LiveRow,
    SlotClaim,
    Start,
    outcome_values,
    row_to_execution,
    with_task_name,
)
from smartcron.store.execution_writes import attach_runs, finish_runs, update_summaries
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t
from smartcron.store.slots import insert_claims, insert_ignore
from smartcron.store.tasks import row_to_task

__all__ = ["LIVE", "ExecutionList", "ExecutionRepository", "Finish", "SlotClaim", "Start", "row_to_execution"]

ExecutionList = list[Execution]


class ExecutionRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- claiming -------------------------------------------------------------------------------

    def claim(self, claims: Sequence[SlotClaim], *, node: str, token: str, now: datetime) -> list[Execution]:
        """Insert one row per claim; return the rows this caller won (``store.slots.insert_claims``)."""
        if not claims:
            return []
        with self._engine.begin() as conn:
            return insert_claims(conn, claims, node=node, token=token, now=now)

    def record_past(
        self, task_id: int, scheduled_for: datetime, trigger: Trigger, *, node: str, outcome: Outcome
    ) -> Execution | None:
        """Insert the whole row of a run that happened while the database was away (``smartcron
        exec``), with its real times; None when its slot already has a row (written before)."""
        started = outcome.finished_at - timedelta(milliseconds=outcome.duration_ms or 0)
        row = {
            "task_id": task_id,
            "scheduled_for": scheduled_for,
            "attempt": 0,
            "trigger": trigger.value,
            "node": node,
            "started_at": started,
            **outcome_values(outcome),
        }
        token = f"past-{scheduled_for.timestamp()}"[:32]
        with self._engine.begin() as conn:
            conn.execute(insert_ignore(conn, e), [row | {"lease_token": token}])
            found = conn.execute(with_task_name().where(e.c.lease_token == token, e.c.task_id == task_id)).mappings()
            written = found.first()
            if written is None:
                return None
            conn.execute(update(e).where(e.c.id == written["id"]).values(lease_token=None))
            update_summaries(conn, [Finish(int(written["id"]), task_id, outcome)])
        return row_to_execution(written)

    def enqueue(self, task_id: int, *, scheduled_for: datetime, trigger: Trigger = Trigger.MANUAL) -> int:
        """Queue a run to start as soon as a runner sees it (manual runs). Returns its id."""
        with write_transaction(self._engine) as conn:
            for bump in range(1000):
                # A collision on the slot key means another request queued at the same instant;
                # a manual run is for "now", so the next millisecond is the same request.

                when = scheduled_for + timedelta(milliseconds=bump)
                result = conn.execute(
                    select(e.c.id).where(e.c.task_id == task_id, e.c.scheduled_for == when, e.c.attempt == 0)
                ).first()
                if result is None:
                    res = conn.execute(
                        insert(e).values(
                            task_id=task_id,
                            scheduled_for=when,
                            attempt=0,
                            trigger=trigger.value,
                            status=ExecutionStatus.SCHEDULED.value,
                        )
                    )
                    pk = res.inserted_primary_key
                    assert pk is not None
                    return int(pk[0])
        raise RuntimeError("could not queue a run")

    def pending(self, *, node: str | None = None, limit: int = 1000) -> list[Execution]:
        """``scheduled`` rows, oldest first: queued manual runs and claimed slots not yet started."""
        query = (
            with_task_name()
            .where(LIVE_ROWS, e.c.status == ExecutionStatus.SCHEDULED.value)
            .order_by(e.c.scheduled_for, e.c.id)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            found = [row_to_execution(r) for r in conn.execute(query).mappings()]
        return found

    def pending_with_tasks(
        self, *, limit: int, after: tuple[datetime, int] | None = None, ids: Collection[int] | None = None
    ) -> list[tuple[Execution, Task]]:
        """``scheduled`` rows, oldest first, each with its task, read in one query (what choosing
        the runs to start needs): up to ``limit`` rows after ``after`` ((scheduled_for, id) of the
        last row of the previous page), or only the rows ``ids``."""
        query = (
            select(e, t.c.name.label("task_name"), *[c.label(f"t_{c.name}") for c in t.c])
            .join(t, t.c.id == e.c.task_id)
            .where(LIVE_ROWS, e.c.status == ExecutionStatus.SCHEDULED.value)
            .order_by(e.c.scheduled_for, e.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(
                or_(e.c.scheduled_for > after[0], and_(e.c.scheduled_for == after[0], e.c.id > after[1]))
            )
        if ids is not None:
            query = query.where(e.c.id.in_(list(ids)))
        tasks: dict[int, Task] = {}
        found = []
        with self._engine.connect() as conn:
            for row in conn.execute(query).mappings():
                task_id = int(row["task_id"])
                task = tasks.get(task_id)
                if task is None:
                    task = tasks[task_id] = row_to_task({c.name: row[f"t_{c.name}"] for c in t.c})
                found.append((row_to_execution(row), task))
        return found

    def live_brief(
        self,
        *,
        task_ids: Iterable[int] | None = None,
        node: str | None = None,
        status: ExecutionStatus | None = None,
    ) -> list[LiveRow]:
        """Live rows (of these tasks, of this node, of one status) as (id, task id, status) only:
        what deciding overlap or finding unsupervised rows needs, without the task join and
        without building whole rows."""
        query = select(e.c.id, e.c.task_id, e.c.status).where(LIVE_ROWS)
        if task_ids is not None:
            wanted = list(set(task_ids))
            if not wanted:
                return []
            query = query.where(e.c.task_id.in_(wanted))
        if node is not None:
            query = query.where(e.c.node == node)
        if status is not None:
            query = query.where(e.c.status == status.value)
        with self._engine.connect() as conn:
            return [LiveRow(int(i), int(tid), ExecutionStatus(st)) for i, tid, st in conn.execute(query)]

    # -- lifecycle ------------------------------------------------------------------------------

    def begin(
        self, execution_ids: Sequence[int], *, node: str, token: str, now: datetime, lease_until: datetime
    ) -> list[int]:
        """Move ``scheduled`` rows to ``running`` under this runner's lease, before spawning.

        Compare-and-swap: returns the ids this call took; only those may be spawned. A crash after
        this and before ``attach`` leaves a running row without a pid, which recovery finds by the
        ``SMARTCRON_EXECUTION_ID`` variable in the process environment.
        """
        if not execution_ids:
            return []
        ids = list(execution_ids)
        started = (
            update(e)
            .where(e.c.id.in_(ids), e.c.status == ExecutionStatus.SCHEDULED.value)
            .values(
                status=ExecutionStatus.RUNNING.value,
                node=node,
                lease_token=token,
                lease_expires_at=lease_until,
                started_at=now,
            )
        )

        def attempt() -> list[int]:
            # Read committed on MySQL: many runners swapping one row then wait for each other's
            # row lock instead of taking gap locks on the status index and deadlocking.
            with write_transaction(self._engine, read_committed=True) as conn:
                if conn.dialect.update_returning:  # one round trip where the database can (not MySQL)
                    return sorted(int(r[0]) for r in conn.execute(started.returning(e.c.id)))
                if conn.execute(started).rowcount == len(ids):  # every row taken: nothing to read
                    return sorted(ids)
                ours = e.c.id.in_(ids), e.c.status == ExecutionStatus.RUNNING.value, e.c.lease_token == token
                return [int(r[0]) for r in conn.execute(select(e.c.id).where(*ours).order_by(e.c.id))]

        # Runners racing for the same rows can deadlock on MySQL; the loser runs the swap again.
        return retry_on_deadlock(attempt)

    def release(self, ids: Sequence[int]) -> int:
        """Give back ``scheduled`` rows this runner claimed (it is stopping): any runner may start
        them at once. Returns how many were released."""
        if not ids:
            return 0
        with self._engine.begin() as conn:
            return conn.execute(
                update(e)
                .where(e.c.id.in_(list(ids)), e.c.status == ExecutionStatus.SCHEDULED.value)
                .values(node=None, lease_token=None)
            ).rowcount

    def attach(self, starts: Sequence[Start], *, token: str) -> None:
        """Record the process of each started run (rows still under ``token``), and show the task
        as running (``execution_writes.attach_runs``)."""
        attach_runs(self._engine, starts, token=token)

    def finish(self, finishes: Sequence[Finish], *, token: str | None) -> set[int]:
        """Record outcomes of ``running`` (or never-started ``scheduled``) rows.

        With a token, only rows still holding that lease are written: a runner that lost its
        lease writes nothing. Updates each task's last-run summary in the same transaction.
        Returns the ids written. One batched update for the whole batch, and no read when every
        row was still live (``execution_writes.finish_runs``).
        """
        return finish_runs(self._engine, finishes, token=token)

    def request_cancel(self, execution_id: int, *, by: str, now: datetime) -> Execution:
        """Ask for a run to stop. A ``scheduled`` row ends here, ``cancelled``; a ``running`` row is
        marked, and its runner (whichever node owns it) ends its process group at its next lease
        renewal and records ``cancelled``. Returns the row as it now is; raises ConflictError for
        a run that has already ended, NotFoundError for no such run."""
        reason = f"cancelled by {by}"[:REASON_LENGTH]
        with write_transaction(self._engine) as conn:
            locked = conn.execute(select(e.c.id).where(e.c.id == execution_id).with_for_update()).first()
            row = conn.execute(with_task_name().where(e.c.id == execution_id)).mappings().first()
            if locked is None or row is None:
                raise NotFoundError(f"no execution with id {execution_id}")
            current = row_to_execution(row)
            if current.status is ExecutionStatus.SCHEDULED:
                outcome = Outcome(ExecutionStatus.CANCELLED, now, reason=reason)
                conn.execute(update(e).where(e.c.id == execution_id, LIVE_ROWS).values(outcome_values(outcome)))
                update_summaries(conn, [Finish(execution_id, current.task_id, outcome)])
            elif current.status is ExecutionStatus.RUNNING:
                conn.execute(
                    update(e)
                    .where(e.c.id == execution_id, e.c.cancel_requested_at.is_(None))
                    .values(cancel_requested_at=now, cancel_requested_by=by[:128])
                )
            else:
                raise ConflictError(f"execution {execution_id} has already ended ({current.status})")
            updated = conn.execute(with_task_name().where(e.c.id == execution_id)).mappings().first()
        assert updated is not None
        return row_to_execution(updated)

    # -- reading --------------------------------------------------------------------------------

    def by_ids(self, ids: Iterable[int]) -> list[Execution]:
        """The rows with these ids that exist, oldest first."""
        wanted = list(set(ids))
        if not wanted:
            return []
        with self._engine.connect() as conn:
            query = with_task_name().where(e.c.id.in_(wanted)).order_by(e.c.id)
            return [row_to_execution(r) for r in conn.execute(query).mappings()]

    def get(self, execution_id: int) -> Execution:
        with self._engine.connect() as conn:
            row = conn.execute(with_task_name().where(e.c.id == execution_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no execution with id {execution_id}")
        return row_to_execution(row)

    def live(
        self,
        *,
        node: str | None = None,
        status: ExecutionStatus | None = None,
        task_ids: Iterable[int] | None = None,
    ) -> list[Execution]:
        """Rows still ``scheduled`` or ``running`` (optionally of one node, one status, some tasks)."""
        query = with_task_name().where(LIVE_ROWS).order_by(e.c.id)
        if status is not None:
            query = query.where(e.c.status == status.value)
        if node is not None:
            query = query.where(e.c.node == node)
        if task_ids is not None:
            wanted = list(set(task_ids))
            if not wanted:
                return []
            query = query.where(e.c.task_id.in_(wanted))
        with self._engine.connect() as conn:
            return [row_to_execution(r) for r in conn.execute(query).mappings()]

    def retries_owed(self, since: datetime) -> list[Execution]:
        """Scheduled or retry runs that ended in a recoverable failure since ``since`` and have no
        row for their next attempt, of an active task that allows another attempt and has neither
        been changed (paused, resumed, edited) nor started another run since: the failures whose
        retry is still owed (a runner that remembered it died). Oldest first."""
        successor = e.alias("successor")
        next_attempt = (
            select(successor.c.id)
            .where(
                successor.c.task_id == e.c.task_id,
                successor.c.scheduled_for == e.c.scheduled_for,
                successor.c.attempt == e.c.attempt + 1,
            )
            .exists()
        )
        query = (
            with_task_name()
            .where(
                e.c.finished_at >= since,
                e.c.status.in_(FAILURES),
                e.c.error_category == ErrorCategory.RECOVERABLE.value,
                e.c.trigger != Trigger.MANUAL.value,
                e.c.attempt < t.c.retries,
                t.c.enabled.is_(True),
                t.c.paused.is_(False),
                t.c.updated_at <= e.c.finished_at,
                or_(t.c.last_started_at.is_(None), t.c.last_started_at <= e.c.finished_at),
                ~next_attempt,
            )
            .order_by(e.c.finished_at, e.c.id)
        )
        with self._engine.connect() as conn:
            return [row_to_execution(r) for r in conn.execute(query).mappings()]

    def running_task_ids(self) -> set[int]:
        query = select(e.c.task_id).where(LIVE_ROWS, e.c.status == ExecutionStatus.RUNNING.value).distinct()
        with self._engine.connect() as conn:
            return {int(r[0]) for r in conn.execute(query)}

    def list(
        self,
        *,
        task_id: int | None = None,
        name_contains: str | None = None,
        status: ExecutionStatus | None = None,
        trigger: Trigger | None = None,
        since: datetime | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[Execution]:
        """Newest first; ``name_contains``: of the tasks whose name contains it, in any case;
        ``since``: slots at or after it."""
        query = with_task_name().order_by(e.c.id.desc()).limit(limit)
        if task_id is not None:
            query = query.where(e.c.task_id == task_id)
        if name_contains:
            escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            matching = select(t.c.id).where(t.c.name.ilike(f"%{escaped}%", escape="\\"))
            query = query.where(e.c.task_id.in_(matching))
        if status is not None:
            query = query.where(e.c.status == status.value)
        if trigger is not None:
            query = query.where(e.c.trigger == trigger.value)
        if since is not None:
            query = query.where(e.c.scheduled_for >= since)
        if before_id is not None:
            query = query.where(e.c.id < before_id)
        with self._engine.connect() as conn:
            return [row_to_execution(r) for r in conn.execute(query).mappings()]

    def for_slot(self, task_id: int, scheduled_for: datetime) -> ExecutionList:
        query = with_task_name().where(e.c.task_id == task_id, e.c.scheduled_for == scheduled_for).order_by(e.c.attempt)
        with self._engine.connect() as conn:
            return [row_to_execution(r) for r in conn.execute(query).mappings()]

    def count(self, *, task_id: int | None = None, status: ExecutionStatus | None = None) -> int:
        query = select(func.count()).select_from(e)
        conds = []
        if task_id is not None:
            conds.append(e.c.task_id == task_id)
        if status is not None:
            conds.append(e.c.status == status.value)
        if conds:
            query = query.where(and_(*conds))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete_finished_before(self, cutoff: datetime, *, chunk: int = 5000) -> int:
        """Delete up to ``chunk`` final rows that finished before ``cutoff``; returns how many."""
        with self._engine.begin() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(e.c.id).where(e.c.finished_at < cutoff).order_by(e.c.finished_at).limit(chunk)
                )
            ]
            if not ids:
                return 0
            return conn.execute(delete(e).where(e.c.id.in_(ids))).rowcount


def ids_of(executions: Iterable[Execution]) -> list[int]:
    return [x.id for x in executions]
