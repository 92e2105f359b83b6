"""Cancelling a run, from the dashboard, the API or the command line: one rule, one audit entry."""

from __future__ import annotations

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution
from smartcron.store import Store


def cancel_run(store: Store, execution_id: int, *, by: str) -> Execution:
    """Ask for run ``execution_id`` to stop, as ``by`` (``web:alice``, ``cli:root``), and audit it.

    A queued run is cancelled at once; a running one is marked, and its runner ends its process
    group at its next lease renewal (TERM, the task's grace, KILL) and records ``cancelled by BY``.
    Returns the row as it now is. NotFoundError for no such run, ConflictError for one that has
    already ended.
    """
    now = store.database_now()
    run = store.executions.request_cancel(execution_id, by=by, now=now)
    was = "running" if run.status is ExecutionStatus.RUNNING else "scheduled"
    store.audit.record(by, "execution.cancel", run.task_name, {"execution_id": run.id, "was": was}, now=now)
    return run


def describe_cancel(run: Execution) -> str:
    """One line saying what the cancel did."""
    if run.status is ExecutionStatus.RUNNING:
        where = f" on {run.node}" if run.node else ""
        return (
            f"asked the runner{where} to stop run {run.id} of {run.task_name}; "
            "it records the run as cancelled within a few seconds"
        )
    return f"cancelled run {run.id} of {run.task_name} before it started"
