"""``smartcron why`` on slots that did not run: paused, disabled, no runner for the task's nodes,
missed while no runner ran (and what the catch-up policy or the deadline decided).

Downtime is a runner that passes at 10:00 and next at 10:17 by an injected clock; the slots in
between are what a real runner plans when it comes back.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from smartcron.clock import FakeClock
from smartcron.domain.enums import CatchupPolicy, ExecutionStatus, Trigger
from smartcron.domain.why_model import SlotExplanation, WhyOutcome
from smartcron.registry.service import Registry
from smartcron.runner.scheduling.recovery import recover_own_rows
from smartcron.store import Store
from smartcron.store.executions import SlotClaim
from tests.conftest import utc
from tests.runner.runner_support import add_task, running_engine, runs_of, settings_for, settle
from tests.services.why_support import why

T0 = utc(2026, 3, 2, 10)
MINUTE = timedelta(minutes=1)
FIVE = "*/5 * * * *"


def said(records: list[SlotExplanation]) -> list[tuple[str, str, str]]:
    return [(r.slot.strftime("%H:%M"), r.outcome.value, r.reason) for r in records]


def test_slots_while_paused_say_who_paused_the_task_and_who_resumed_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    add_task(store, "report", ("true",), next_run_at=T0, schedule=FIVE)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
    Registry(store, settings, actor="cli:alice").pause("report", now=T0 + 2 * MINUTE)
    Registry(store, settings, actor="web:bob").resume("report", now=T0 + 12 * MINUTE)
    records = why(store, settings, "report", since=T0 - MINUTE, now=T0 + 14 * MINUTE)
    by_alice = "paused by cli:alice at 2026-03-02 10:02 UTC; resumed by web:bob at 2026-03-02 10:12 UTC"
    assert said(records)[1:] == [("10:05", "paused", by_alice), ("10:10", "paused", by_alice)]
    assert [r.actor for r in records[1:3]] == ["cli:alice", "cli:alice"]


def test_slots_while_disabled_say_who_disabled_the_task(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    add_task(store, "report", ("true",), next_run_at=T0, schedule=FIVE, created=T0 - MINUTE)
    Registry(store, settings, actor="cli:carol").disable("report", now=T0 - MINUTE)
    records = why(store, settings, "report", since=T0 - MINUTE, now=T0 + 6 * MINUTE)
    assert said(records) == [
        ("10:00", "disabled", "disabled by cli:carol at 2026-03-02 09:59 UTC; still disabled"),
        ("10:05", "disabled", "disabled by cli:carol at 2026-03-02 09:59 UTC; still disabled"),
    ]


def test_a_task_pinned_to_a_tag_no_runner_has_is_not_run_and_says_so(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "render", ("true",), next_run_at=T0, schedule=FIVE, nodes=("gpu",))
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        clock.advance(300)
        engine.run_pass(clock.now())
        engine.lease_keeper.round()  # the heartbeat its thread writes every second
        records = why(store, settings, "render", since=T0 - MINUTE, now=clock.now())
    assert runs_of(store, task) == []
    assert said(records) == [
        ("10:00", "no runner", "runs only on gpu; no runner with that name or tag has ever run (alive: node-a)"),
        ("10:05", "no runner", "runs only on gpu; no runner with that name or tag has ever run (alive: node-a)"),
    ]


def downtime(store: Store, tmp_path: Path, **spec: object) -> list[SlotExplanation]:
    """A task every 5 minutes whose runner passed at 10:00 and then not until 10:17."""
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    add_task(store, "sync", ("true",), next_run_at=T0, schedule=FIVE, **spec)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
        clock.set(T0 + 17 * MINUTE)
        engine.run_pass(clock.now())
        settle(engine)
    return why(store, settings, "sync", since=T0 - MINUTE, now=T0 + 18 * MINUTE)


GAP = "no runner alive from 2026-03-02 10:00 UTC to 2026-03-02 10:17 UTC"


def test_slots_missed_while_no_runner_ran_name_the_gap_and_the_catch_up_run(store: Store, tmp_path: Path) -> None:
    records = downtime(store, tmp_path)
    caught_up = records[-1]
    assert caught_up.reason.startswith(f"#{caught_up.execution_id} on node-a, late by 2 min (catch-up after downtime)")
    latest = f"catchup = latest ran only the newest missed slot (2026-03-02 10:15 UTC, #{caught_up.execution_id})"
    assert said(records)[1:3] == [("10:05", "missed", f"{GAP}; {latest}"), ("10:10", "missed", f"{GAP}; {latest}")]


def test_slots_missed_under_catchup_none_say_they_are_never_run(store: Store, tmp_path: Path) -> None:
    records = downtime(store, tmp_path, catchup=CatchupPolicy.NONE)
    never = "catchup = none: slots missed while no runner ran are never run"
    assert said(records)[1:] == [(f"10:{m:02d}", "missed", f"{GAP}; {never}") for m in (5, 10, 15)]
    assert all(r.status is ExecutionStatus.MISSED for r in records[1:])


def test_a_slot_past_its_starting_deadline_says_how_late_it_was(store: Store, tmp_path: Path) -> None:
    records = downtime(store, tmp_path, starting_deadline=60)
    assert said(records)[-1] == (
        "10:15", "missed", f"{GAP}; past its starting deadline: 2 min late, the deadline is 1 min",
    )  # fmt: skip


def test_due_slots_no_runner_has_planned_say_since_when_no_runner_is_alive(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    add_task(store, "sync", ("true",), next_run_at=T0, schedule=FIVE, created=T0 - MINUTE)
    store.nodes.beat("node-a", "runner", now=T0 - timedelta(hours=1))
    records = why(store, settings, "sync", since=T0 - MINUTE, now=T0 + 6 * MINUTE)
    gone = (
        "no runner alive from 2026-03-02 09:00 UTC to now: not planned yet "
        "(catchup = latest decides when a runner is back)"
    )
    assert said(records) == [("10:00", "missed", gone), ("10:05", "missed", gone)]


def test_slots_before_the_task_was_added_say_so(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    add_task(store, "late", ("true",), next_run_at=T0 + 30 * MINUTE, schedule=FIVE, created=T0 + 7 * MINUTE)
    records = why(store, settings, "late", since=T0 - MINUTE, now=T0 + 6 * MINUTE)
    added = "before the task was added (2026-03-02 10:07 UTC)"
    assert said(records) == [("10:00", "no record", added), ("10:05", "no record", added)]


def test_slots_a_dead_runner_claimed_but_never_started_say_so(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(utc(2026, 3, 2, 13, 30))
    task = add_task(store, "hourly", ("true",), next_run_at=utc(2026, 3, 2, 14), schedule="0 * * * *", created=T0)
    claims = [SlotClaim(task.id, utc(2026, 3, 2, hour), Trigger.SCHEDULE) for hour in (11, 12, 13)]
    store.executions.claim(claims, node="node-a", token="dead-claim", now=utc(2026, 3, 2, 11))
    with running_engine(settings, store, clock, role="runner") as engine:
        recover_own_rows(engine, clock.now(), startup=True)
        engine.run_pass(clock.now())
        settle(engine)
    records = why(store, settings, "hourly", since=utc(2026, 3, 2, 10, 30), now=clock.now())
    died = "claimed by node-a, but that runner died before starting it; catchup = latest let it go"
    assert said(records)[:2] == [("11:00", "missed", died), ("12:00", "missed", died)]
    assert (records[2].outcome, records[2].status) == (WhyOutcome.RAN, ExecutionStatus.SUCCESS)


def test_slots_counted_by_one_summary_row_point_to_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home", runner_max_missed_rows=1)
    clock = FakeClock(T0)
    add_task(store, "sync", ("true",), next_run_at=T0, schedule=FIVE, catchup=CatchupPolicy.NONE)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        settle(engine)
        clock.set(T0 + 22 * MINUTE)
        engine.run_pass(clock.now())
    records = why(store, settings, "sync", since=T0 - MINUTE, now=T0 + 22 * MINUTE)
    gap = "no runner alive from 2026-03-02 10:00 UTC to 2026-03-02 10:22 UTC"
    summary = records[1]
    counted = f"counted in #{summary.execution_id}: {summary.reason.split(': ', 1)[1]}"
    assert summary.reason == (f"{gap}: 3 slots missed from 2026-03-02T10:05:00+00:00 to 2026-03-02T10:15:00+00:00")
    assert said(records)[2:] == [
        ("10:10", "missed", counted),
        ("10:15", "missed", counted),
        ("10:20", "missed", f"{gap}; catchup = none: slots missed while no runner ran are never run"),
    ]


def test_a_due_slot_a_live_runner_has_not_planned_says_whether_that_is_odd(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    add_task(store, "sync", ("true",), next_run_at=T0, schedule=FIVE, created=T0 - MINUTE)
    now = T0 + 5 * MINUTE + timedelta(seconds=20)
    store.nodes.beat("node-a", "runner", now=now, info={"active": True, "tags": []})
    records = why(store, settings, "sync", since=T0 - MINUTE, now=now)
    assert said(records) == [
        (
            "10:00",
            "waiting",
            "not planned although node-a is alive: draining, or failing to claim "
            "(see smartcron nodes and smartcron health)",
        ),
        ("10:05", "waiting", "due; a runner is alive and plans it at its next pass"),
    ]
