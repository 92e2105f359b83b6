"""``smartcron why`` on rows a runner wrote: runs, retries, overlap, manual runs, outcomes with reasons.

Each test drives the real scheduling engine (or the store calls a runner makes) through an
injected clock, then asks what became of each slot; ``now`` is always passed.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from smartcron.clock import FakeClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.why_model import WhyOutcome
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from tests.conftest import utc
from tests.runner.runner_support import add_task, running_engine, runs_of, settings_for, settle
from tests.services.why_support import ran, why

T0 = utc(2026, 3, 2, 10)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def test_a_slot_that_ran_names_the_run_its_node_status_and_duration(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "report", ("true",), next_run_at=T0, schedule="*/5 * * * *")
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
    [run] = runs_of(store, task)
    [record] = why(store, settings, "report", since=T0 - MINUTE, now=T0 + MINUTE)
    assert (record.outcome, record.execution_id, record.node, record.status) == (
        WhyOutcome.RAN, run.id, "node-a", ExecutionStatus.SUCCESS,
    )  # fmt: skip
    assert re.fullmatch(rf"#{run.id} on node-a: success in [\d.]+ s", record.reason), record.reason


def test_a_retry_has_a_line_of_its_own_with_its_attempt_and_the_run_it_retries(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "flaky", ("sh", "-c", "exit 3"), next_run_at=T0, schedule="0 * * * *", retries=1)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
        retry_at = engine.next_retry_at()
        assert retry_at is not None
        clock.set(retry_at)
        engine.run_pass(clock.now())
        settle(engine)
    first, retry = runs_of(store, task)
    records = why(store, settings, "flaky", since=T0 - MINUTE, now=clock.now())
    assert [(r.outcome, r.execution_id, r.attempt) for r in records] == [
        (WhyOutcome.RAN, first.id, 0),
        (WhyOutcome.RETRY, retry.id, 1),
    ]
    assert records[0].reason.startswith(f"#{first.id} on node-a: failed (exit 3)")
    assert records[1].reason.startswith(f"#{retry.id} on node-a, attempt 1 (retry of #{first.id}): failed (exit 3)")


def test_a_slot_skipped_for_overlap_names_the_run_it_overlapped(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "long", ("sleep", "30"), next_run_at=T0)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        clock.advance(60)
        engine.run_pass(clock.now())
        clock.advance(5)
    first, skipped = runs_of(store, task)
    records = why(store, settings, "long", since=T0 - MINUTE, now=T0 + 90 * timedelta(seconds=1))
    outcomes = [(r.outcome, r.execution_id) for r in records]
    assert outcomes == [(WhyOutcome.RAN, first.id), (WhyOutcome.SKIPPED, skipped.id)]
    assert records[1].reason == (
        f"skipped for overlap: #{first.id} (slot 2026-03-02 10:00 UTC) was still running (overlap = forbid)"
    )


def test_a_manual_run_says_who_asked_for_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    add_task(store, "yearly", ("true",), next_run_at=utc(2027, 1, 1), schedule="0 0 1 1 *")
    task = store.tasks.get("yearly")
    # What the dashboard's "Run now" does.
    execution_id = store.executions.enqueue(task.id, scheduled_for=T0, trigger=Trigger.MANUAL)
    store.audit.record("web:alice", "task.run", "yearly", {"execution_id": execution_id}, now=T0)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
    [record] = why(store, settings, "yearly", since=T0 - MINUTE, now=T0 + MINUTE)
    assert (record.outcome, record.execution_id, record.actor, record.trigger) == (
        WhyOutcome.MANUAL, execution_id, "web:alice", Trigger.MANUAL,
    )  # fmt: skip
    assert record.reason.startswith(f"#{execution_id} on node-a, requested by web:alice: success")


def test_a_run_cancelled_before_it_started_says_who_cancelled_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    add_task(store, "yearly", ("true",), next_run_at=utc(2027, 1, 1), schedule="0 0 1 1 *")
    task = store.tasks.get("yearly")
    execution_id = store.executions.enqueue(task.id, scheduled_for=T0)
    store.executions.request_cancel(execution_id, by="cli:bob", now=T0 + timedelta(seconds=5))
    [record] = why(store, settings, "yearly", since=T0 - MINUTE, now=T0 + MINUTE)
    assert (record.outcome, record.status) == (WhyOutcome.CANCELLED, ExecutionStatus.CANCELLED)
    assert record.reason == f"#{execution_id} did not start: cancelled by cli:bob"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (ExecutionStatus.TIMEOUT, "timeout"),
        (ExecutionStatus.ABANDONED, "its runner died; the process was gone"),
        (ExecutionStatus.UNKNOWN_OUTCOME, "the process ended while no runner watched it"),
        (ExecutionStatus.SUPERSEDED, "node node-a lost its lease"),
        (ExecutionStatus.CANCELLED, "cancelled by cli:bob"),
    ],
)
def test_a_run_that_ended_without_an_exit_status_is_explained_by_its_reason(
    store: Store, tmp_path: Path, status: ExecutionStatus, reason: str
) -> None:
    settings = settings_for(store, tmp_path / "home")
    task = add_task(store, "batch", ("true",), next_run_at=T0 + 10 * MINUTE, schedule="*/5 * * * *", created=T0)
    [row] = ran(store, task, [T0], status=status, reason=reason, seconds=3)
    [record] = why(store, settings, "batch", since=T0 - MINUTE, now=T0 + MINUTE)
    assert (record.outcome, record.status, record.execution_id) == (WhyOutcome.RAN, status, row.id)
    assert record.reason == f"#{row.id} on node-a: {status.value} ({reason}) in 3 s"


def test_the_run_a_skip_overlapped_is_named_even_when_its_slot_is_long_before_the_window(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home")
    task = add_task(store, "long", ("true",), next_run_at=T0 + 10 * HOUR, created=T0 - MINUTE, schedule="0 * * * *")
    [first] = ran(store, task, [T0], seconds=9 * 3600)  # a nine-hour run, as a runner records it
    later = T0 + 8 * HOUR  # further back than the rows read for context
    [skipped] = store.executions.claim(
        [SlotClaim(task.id, later, Trigger.SCHEDULE, status=ExecutionStatus.SKIPPED, reason="overlap")],
        node="node-a",
        token="skip",
        now=later,
    )
    records = why(store, settings, "long", since=later - MINUTE, now=later + MINUTE)
    assert [(r.outcome, r.execution_id) for r in records] == [(WhyOutcome.SKIPPED, skipped.id)]
    assert records[0].reason == (
        f"skipped for overlap: #{first.id} (slot 2026-03-02 10:00 UTC) was still running (overlap = forbid)"
    )
