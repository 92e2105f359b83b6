"""Retention deletes exactly the rows past their retention, in chunks, on every database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from smartcron.config import Settings
from smartcron.domain.alerts import NotificationKind
from smartcron.domain.enums import CheckStatus, ExecutionStatus, Severity, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.health import CheckResult
from smartcron.domain.task import TaskSpec
from smartcron.maintenance.retention import apply_retention
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.store.notifications import NewNotification
from tests.conftest import utc

NOW = utc(2026, 6, 1, 4, 0)
JUST = timedelta(seconds=1)


def finished(store: Store, task_id: int, finished_at: datetime, n: int) -> int:
    slot = finished_at - timedelta(minutes=1)
    [row] = store.executions.claim([SlotClaim(task_id, slot, Trigger.SCHEDULE)], node="n", token=f"tok{n}", now=slot)
    store.executions.finish([Finish(row.id, task_id, Outcome(ExecutionStatus.SUCCESS, finished_at))], token=None)
    return row.id


def test_retention_deletes_exactly_the_rows_past_their_retention(store: Store, settings: Settings) -> None:
    settings = replace(
        settings,
        retention_executions_days=90,
        retention_alerts_days=30,
        retention_health_days=14,
        retention_metrics_days=60,
        retention_metrics_raw_days=7,
    )
    task = store.tasks.add(TaskSpec(name="t", command=("true",), schedule="* * * * *"), now=NOW, next_run_at=NOW).id
    day90 = NOW - timedelta(days=90)
    old_runs = [finished(store, task, day90 - JUST - timedelta(hours=h), h) for h in range(7)]
    kept_runs = [finished(store, task, day90 + JUST, 100), finished(store, task, NOW, 101)]
    # A claimed run that never started is not finished, however old its slot.
    [queued] = store.executions.claim(
        [SlotClaim(task, day90 - timedelta(days=5), Trigger.SCHEDULE)], node="n", token="q", now=NOW
    )

    day30 = NOW - timedelta(days=30)
    old_alert, _ = store.alerts.raise_or_repeat(
        "a", task_id=None, severity=Severity.LOW, message="old", now=day30 - timedelta(days=2), notify_after=None
    )
    store.alerts.resolve("a", task_id=None, now=day30 - JUST)
    recent_alert, _ = store.alerts.raise_or_repeat(
        "b", task_id=None, severity=Severity.LOW, message="recent", now=day30 - timedelta(days=2), notify_after=None
    )
    store.alerts.resolve("b", task_id=None, now=day30 + JUST)
    open_alert, _ = store.alerts.raise_or_repeat(
        "c", task_id=None, severity=Severity.HIGH, message="open", now=NOW - timedelta(days=400), notify_after=None
    )
    message = NewNotification(NotificationKind.REPORT, "email", "report", "body", ("ops@example.com",))
    [sent_id, pending_id] = store.notifications.add([message, message], now=day30 - timedelta(days=1))
    assert store.notifications.claim_one(sent_id, now=day30, node="n", until=NOW)
    store.notifications.mark_sent(sent_id, node="n", now=day30)

    day14 = NOW - timedelta(days=14)
    for at in (day14 - JUST, day14 - timedelta(days=1), day14 + JUST):
        store.health.record([CheckResult("disk", CheckStatus.OK, 1.0, "ok")], at=at, node="n")
    day60 = NOW - timedelta(days=60)
    store.metrics.record({"cpu_percent": 1.0}, at=day60 - JUST, node="n")
    store.metrics.record({"cpu_percent": 2.0}, at=day60 + timedelta(hours=1), node="n")  # on an hour: stays as is
    store.audit.record("cli:ops", "task.add", "t", None, now=NOW - timedelta(days=3000))

    chunks: list[tuple[str, int]] = []
    report = apply_retention(store, settings, NOW, chunk=3, progress=lambda step, n: chunks.append((step, n)))

    assert (report.executions, report.health_checks, report.metrics_deleted) == (7, 2, 1)
    assert report.alerts == 2  # the old resolved alert and the old sent message
    assert [n for step, n in chunks if step == "executions"] == [3, 3, 1]
    remaining = {row.id for row in store.executions.list(limit=100)}
    assert remaining == {*kept_runs, queued.id} and not remaining & set(old_runs)
    kept_alerts = {a.id for a in store.alerts.list(limit=10)}
    assert kept_alerts == {recent_alert.id, open_alert.id} and old_alert.id not in kept_alerts
    assert store.notifications.get(sent_id) is None and store.notifications.get(pending_id) is not None
    assert [r.at for r in store.health.history("disk", NOW - timedelta(days=365))] == [day14 + JUST]
    assert [p.value for p in store.metrics.series("cpu_percent", day60 - timedelta(hours=1), NOW, timedelta(days=30))][
        :1
    ] == [2.0]
    assert len(store.audit.list()) == 1

    again = apply_retention(store, settings, NOW, chunk=3)
    assert again.to_dict() == dict.fromkeys(again.to_dict(), 0)
