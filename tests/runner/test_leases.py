"""The lease keeper and the start path among several runners: cancel requests, fencing, sharing a
crowded slot, leaving claims to the others at shutdown, never starting a disabled task's run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from smartcron.clock import FakeClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.runner.scheduling.engine import SHUTDOWN_REASON
from smartcron.runner.scheduling.leases import ClusterView
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from tests.conftest import utc
from tests.runner.runner_support import add_task, running_engine, runs_of, settings_for, settle, wait_until

T0 = utc(2026, 3, 1, 10)


def test_a_cancel_request_ends_the_run_at_the_next_renewal_and_records_who(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "long", ("sleep", "300"), next_run_at=T0, kill_grace=1)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        [run] = runs_of(store, task)
        store.executions.request_cancel(run.id, by="web:alice", now=clock.now())
        engine.lease_keeper.renew(clock.now())
        settle(engine)
    after = store.executions.get(run.id)
    assert (after.status, after.reason, after.error_category) == (
        ExecutionStatus.CANCELLED,
        "cancelled by web:alice",
        None,
    )
    assert store.tasks.get("long").last_status is ExecutionStatus.CANCELLED


def test_a_runner_beside_others_claims_its_share_of_a_crowded_slot_and_comes_back_for_the_rest(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    for i in range(9):
        add_task(store, f"crowd{i}", ("true",), next_run_at=T0, schedule="0 * * * *")
    with running_engine(settings, store, clock) as engine:
        engine.lease_keeper.cluster = ClusterView(runners=3, others=("node-b", "node-c"))
        first = engine.run_pass(clock.now())
        assert (first.claimed, engine.more_due) == (3, True)  # a third of what is due
        settle(engine)
        engine.lease_keeper.cluster = ClusterView()  # the others never came for theirs
        rest = engine.run_pass(clock.now())
        settle(engine)
    assert rest.claimed == 6
    assert store.executions.count(status=ExecutionStatus.SUCCESS) == 9


def test_a_row_another_live_node_claimed_is_left_to_it_for_a_moment_then_taken(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "theirs", ("true",), next_run_at=T0 + timedelta(hours=1))
    [row] = store.executions.claim([SlotClaim(task.id, T0, Trigger.SCHEDULE)], node="node-b", token="b", now=T0)
    with running_engine(settings, store, clock) as engine:
        engine.lease_keeper.cluster = ClusterView(runners=2, others=("node-b",))
        assert engine.run_pass(clock.now()).started == 0
        clock.advance(2)  # node-b did not start it: anybody may
        assert engine.run_pass(clock.now()).started == 1
        settle(engine)
    assert store.executions.get(row.id).status is ExecutionStatus.SUCCESS


def test_claimed_runs_not_started_at_shutdown_are_left_to_the_other_runners(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home", runner_max_parallel=1)
    clock = FakeClock(T0)
    busy = add_task(store, "busy", ("sleep", "300"), next_run_at=T0, schedule="0 * * * *")
    waiting = add_task(store, "waiting", ("true",), next_run_at=T0, schedule="0 * * * *")
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        engine.lease_keeper.cluster = ClusterView(runners=2, others=("node-b",))
    [left] = runs_of(store, waiting)
    assert (left.status, left.node, left.lease_token) == (ExecutionStatus.SCHEDULED, None, None)
    assert runs_of(store, busy)[0].status is ExecutionStatus.KILLED


def test_claimed_slots_not_started_at_shutdown_are_cancelled_when_no_other_runner_is_alive(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home", runner_max_parallel=1)
    clock = FakeClock(T0)
    add_task(store, "busy", ("sleep", "300"), next_run_at=T0, schedule="0 * * * *")
    slot = add_task(store, "slot", ("true",), next_run_at=T0, schedule="0 * * * *")
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        manual = store.executions.enqueue(slot.id, scheduled_for=T0 + timedelta(seconds=1))
        engine.run_pass(clock.now())  # it waits for room, like the slot
    [cancelled] = [row for row in runs_of(store, slot) if row.trigger is Trigger.SCHEDULE]
    assert (cancelled.status, cancelled.reason) == (ExecutionStatus.CANCELLED, SHUTDOWN_REASON)
    # A manual run is a request somebody made: it stays queued for the next runner.
    assert store.executions.get(manual).status is ExecutionStatus.SCHEDULED


def test_a_queued_run_of_a_task_disabled_since_is_cancelled_not_started(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "switched_off", ("true",), next_run_at=T0 + timedelta(hours=1))
    paused = add_task(store, "paused", ("true",), next_run_at=T0 + timedelta(hours=1))
    claims = [SlotClaim(task.id, T0, Trigger.SCHEDULE), SlotClaim(paused.id, T0, Trigger.SCHEDULE)]
    store.executions.claim(claims, node="gone", token="dead", now=T0)
    manual = store.executions.enqueue(paused.id, scheduled_for=T0)
    store.tasks.set_flags("switched_off", now=T0, enabled=False)
    store.tasks.set_flags("paused", now=T0, paused=True)
    with running_engine(settings, store, clock) as engine:
        assert engine.run_pass(clock.now()).started == 1  # the manual run of the paused task: asked for
        settle(engine)
    [disabled_row] = runs_of(store, task)
    assert (disabled_row.status, disabled_row.reason) == (
        ExecutionStatus.CANCELLED,
        "task disabled since the run was queued",
    )
    rows = {row.trigger: row for row in runs_of(store, paused)}
    assert (rows[Trigger.SCHEDULE].status, rows[Trigger.SCHEDULE].reason) == (
        ExecutionStatus.CANCELLED,
        "task paused since the run was queued",
    )
    assert store.executions.get(manual).status is ExecutionStatus.SUCCESS


def test_the_lease_keeper_beats_and_renews_on_its_own_every_heartbeat(sqlite_store: Store, tmp_path: Path) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home", runner_heartbeat_interval=0.1, runner_lease_seconds=1)
    from smartcron.clock import SystemClock

    clock = SystemClock()
    task = add_task(store, "held", ("sleep", "300"), next_run_at=clock.now(), kill_grace=0)
    with running_engine(settings, store, clock, role="runner") as engine:
        engine.run_pass(clock.now())
        [run] = runs_of(store, task)
        first_lease = run.lease_expires_at
        assert first_lease is not None

        def renewed() -> bool:
            lease = store.executions.get(run.id).lease_expires_at
            return lease is not None and lease > first_lease

        wait_until(renewed, "the lease renewed by the keeper's own thread")

        def beat_with_the_run() -> bool:  # the same round beats just after it renews
            beat = store.nodes.get("node-a", "runner")
            return beat is not None and beat.info is not None and beat.info["running"] == 1

        wait_until(beat_with_the_run, "the keeper's heartbeat naming the run")
