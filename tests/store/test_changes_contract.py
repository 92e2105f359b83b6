"""The change snapshot live pages poll: each thing a page shows moves it, on every backend."""

from __future__ import annotations

from datetime import timedelta

from smartcron.domain.enums import CheckStatus, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.health import CheckResult
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)


def _task(store: Store) -> int:
    spec = TaskSpec(name="bank_import", command=("true",), schedule="*/5 * * * *")
    return store.tasks.add(spec, now=NOW, next_run_at=NOW).id


def test_a_run_moves_the_snapshot_when_queued_started_and_finished(store: Store) -> None:
    task_id = _task(store)
    empty = store.changes.snapshot()
    assert (empty.max_execution_id, empty.live_runs, empty.last_finished_at) == (0, (), None)
    [run] = store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node="n", token="t", now=NOW)
    queued = store.changes.snapshot()
    assert queued.max_execution_id == run.id
    assert queued.live_runs == (("scheduled", 1, run.id),)
    store.executions.begin([run.id], node="n", token="t", now=NOW, lease_until=NOW + timedelta(seconds=5))
    started = store.changes.snapshot()
    assert started.live_runs == (("running", 1, run.id),)
    ended = NOW + timedelta(seconds=2)
    outcome = Outcome(status=ExecutionStatus.SUCCESS, finished_at=ended, exit_code=0)
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
    done = store.changes.snapshot()
    assert (done.live_runs, done.last_finished_at) == ((), ended)
    assert done.tasks_updated_at == NOW and done.task_count == 1


def test_alerts_health_tasks_and_nodes_move_the_snapshot(store: Store) -> None:
    task_id = _task(store)
    alert, _ = store.alerts.raise_or_repeat(
        "failed", task_id=task_id, severity=Severity.HIGH, message="failed", now=NOW, notify_after=None
    )
    raised = store.changes.snapshot()
    assert (raised.alert_states, raised.max_alert_id) == ((("open", 1),), alert.id)
    store.alerts.acknowledge(alert.id, by="ops", now=NOW)
    assert store.changes.snapshot().alert_states == (("acknowledged", 1),)
    store.alerts.resolve_by_id(alert.id, now=NOW)
    assert store.changes.snapshot().alert_states == ()

    store.health.record([CheckResult("disk", CheckStatus.OK, 10.0, "fine")], at=NOW, node=None)
    assert store.changes.snapshot().max_health_id > 0

    later = NOW + timedelta(minutes=1)
    store.tasks.set_flags("bank_import", now=later, paused=True)
    assert store.changes.snapshot().tasks_updated_at == later

    store.nodes.beat("box", "runner", now=later)
    assert store.changes.snapshot().heartbeats == (("box", "runner", later),)
