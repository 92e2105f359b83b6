"""The leases of running rows: renewal, take-over of expired ones, and cancel requests (DESIGN 9).

Concurrency contract:

* A ``running`` row belongs to the runner whose **lease token** it holds, until the row ends. The
  owner renews the lease every heartbeat (:meth:`LeaseRepository.renew`), which also tells it
  which of its rows are still its own: a row it supervises that was not renewed was taken over,
  and the owner kills that run's processes and writes nothing more for it (every later write
  compares the token and changes nothing: the token is the fence).
* A lease is judged by the database's clock (callers pass ``now`` from a clock that follows the
  server's, ``runner.scheduling.dbclock``). A lease that ran out is lost only once another runner
  **takes the row over** (:meth:`LeaseRepository.take_over_expired`): the row becomes
  ``superseded`` in a compare-and-swap that re-checks the expiry under a row lock, so an owner's
  renewal and a take-over never both succeed. Until then its owner may still renew it: a node
  that was slow, or cut off while nobody could take over (the database itself was down), keeps
  its runs.
* A **cancel request** (``ExecutionRepository.request_cancel``) marks a ``running`` row; its owner
  sees it in the answer to its next renewal and ends the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.engine import Engine

from smartcron.domain.enums import ErrorCategory, ExecutionStatus
from smartcron.domain.execution import Execution, Outcome
from smartcron.store.engine import retry_on_deadlock, write_transaction
from smartcron.store.execution_rows import REASON_LENGTH, Finish, outcome_values, row_to_execution, with_task_name
from smartcron.store.execution_writes import update_summaries
from smartcron.store.schema import executions as e


@dataclass(frozen=True, slots=True)
class Renewal:
    """What a renewal found: the rows still this runner's, and the cancel requests among them."""

    renewed: frozenset[int]
    cancel_requests: dict[int, str]
    """Execution id -> who asked for the run to stop."""


@dataclass(frozen=True, slots=True)
class TakenOver:
    """A row taken over from a node that lost its lease: the row as it was, and what was written."""

    execution: Execution
    outcome: Outcome


def superseded_outcome(row: Execution, now: datetime) -> Outcome:
    node = row.node or "?"
    return Outcome(
        ExecutionStatus.SUPERSEDED,
        now,
        reason=f"node {node} lost its lease"[:REASON_LENGTH],
        error_category=ErrorCategory.RECOVERABLE,
        duration_ms=max(0, int((now - row.started_at).total_seconds() * 1000)) if row.started_at else None,
    )


class LeaseRepository:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def renew(self, *, node: str, tokens: Iterable[str], until: datetime) -> Renewal:
        """Extend to ``until`` the lease of every ``running`` row of ``node`` held under one of
        ``tokens``; the rows renewed are the ones still this runner's (see the module docstring)."""
        wanted = sorted(set(tokens))
        if not wanted:
            return Renewal(frozenset(), {})
        ours = and_(e.c.status == ExecutionStatus.RUNNING.value, e.c.node == node, e.c.lease_token.in_(wanted))
        statement = update(e).where(ours).values(lease_expires_at=until)

        def attempt() -> list[tuple[int, str | None]]:
            with self._engine.begin() as conn:
                if conn.dialect.update_returning:
                    found = conn.execute(statement.returning(e.c.id, e.c.cancel_requested_by))
                    return [(int(r[0]), r[1]) for r in found]
                conn.execute(statement)
                found = conn.execute(select(e.c.id, e.c.cancel_requested_by).where(ours))
                return [(int(r[0]), r[1]) for r in found]

        rows = retry_on_deadlock(attempt)
        return Renewal(frozenset(i for i, _ in rows), {i: by for i, by in rows if by is not None})

    def take_over_expired(self, *, now: datetime, node: str, limit: int = 1000) -> list[TakenOver]:
        """End as ``superseded`` the ``running`` rows of other nodes whose lease ran out before
        ``now`` (oldest lease first, up to ``limit``). Returns what was taken over."""
        expired = and_(
            e.c.status == ExecutionStatus.RUNNING.value,
            e.c.node != node,
            e.c.lease_expires_at < now,
        )

        def attempt() -> list[TakenOver]:
            with write_transaction(self._engine) as conn:
                # Locked in the executions table alone (MariaDB has no FOR UPDATE OF), then read whole.
                locked = select(e.c.id).where(expired).order_by(e.c.lease_expires_at).limit(limit).with_for_update()
                ids = [int(r[0]) for r in conn.execute(locked)]
                if not ids:
                    return []
                query = with_task_name().where(e.c.id.in_(ids)).order_by(e.c.lease_expires_at)
                rows = [row_to_execution(r) for r in conn.execute(query).mappings()]
                taken = [TakenOver(row, superseded_outcome(row, now)) for row in rows]
                for item in taken:
                    conn.execute(
                        update(e)
                        .where(e.c.id == item.execution.id, e.c.lease_token == item.execution.lease_token, expired)
                        .values(outcome_values(item.outcome))
                    )
                update_summaries(conn, [Finish(t.execution.id, t.execution.task_id, t.outcome) for t in taken])
            return taken

        return retry_on_deadlock(attempt)

    def cancel_waiting(self, ids: Sequence[int], *, reason: str, now: datetime) -> set[int]:
        """End these ``scheduled`` rows as ``cancelled`` with ``reason`` (a runner shutting down, a
        task disabled since its run was queued); returns the ids ended (others had started)."""
        if not ids:
            return set()
        with write_transaction(self._engine) as conn:
            waiting = select(e.c.id, e.c.task_id).where(
                e.c.id.in_(list(ids)), e.c.status == ExecutionStatus.SCHEDULED.value
            )
            rows = [(int(r[0]), int(r[1])) for r in conn.execute(waiting.with_for_update())]
            if not rows:
                return set()
            outcome = Outcome(ExecutionStatus.CANCELLED, now, reason=reason[:REASON_LENGTH])
            conn.execute(update(e).where(e.c.id.in_([i for i, _ in rows])).values(outcome_values(outcome)))
            update_summaries(conn, [Finish(i, task_id, outcome) for i, task_id in rows])
        return {i for i, _ in rows}
