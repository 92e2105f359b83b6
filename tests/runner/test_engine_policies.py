"""Overlap, catch-up after downtime and DST, driven pass by pass through an injected clock."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcron.clock import FakeClock
from smartcron.domain.enums import CatchupPolicy, ExecutionStatus, OverlapPolicy, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import Task
from smartcron.runner.process.procinfo import live_group_members
from smartcron.runner.scheduling.engine import Engine
from smartcron.store import Store
from tests.conftest import utc
from tests.runner.runner_support import SETTLE_SECONDS, add_task, running_engine, runs_of, settings_for, settle

T0 = utc(2026, 3, 1, 10)
MINUTE = timedelta(minutes=1)


def wait_for_status(store: Store, execution_id: int, status: ExecutionStatus) -> Execution:
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        row = store.executions.get(execution_id)
        if row.status is status:
            return row
        time.sleep(0.02)
    raise AssertionError(f"execution {execution_id} never became {status}")


def summary(runs: list[Execution]) -> list[tuple[str, ExecutionStatus, str | None]]:
    return [(r.scheduled_for.strftime("%H:%M"), r.status, r.reason) for r in runs]


def test_forbid_records_a_slot_that_comes_while_the_previous_run_runs_as_skipped(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "long", ("sleep", "30"), next_run_at=T0)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        clock.advance(60)
        report = engine.run_pass(clock.now())
        assert report.started == 0
    assert summary(runs_of(store, task)) == [
        ("10:00", ExecutionStatus.KILLED, "shutdown"),
        ("10:01", ExecutionStatus.SKIPPED, "overlap"),
    ]
    assert store.tasks.get("long").next_run_at == T0 + 2 * MINUTE


def test_queue_keeps_one_run_waiting_and_starts_it_when_the_running_one_ends(
    sqlite_store: Store, tmp_path: Path
) -> None:
    store = sqlite_store
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "queued", ("sleep", "30"), next_run_at=T0, overlap=OverlapPolicy.QUEUE)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        clock.advance(60)
        assert engine.run_pass(clock.now()).started == 0
        clock.advance(60)
        engine.run_pass(clock.now())
        first, waiting, third = runs_of(store, task)
        assert (waiting.status, third.status) == (ExecutionStatus.SCHEDULED, ExecutionStatus.SKIPPED)
        engine.supervisor.kill(first.id, "operator")
        wait_for_status(store, first.id, ExecutionStatus.KILLED)
        assert engine.run_pass(clock.now()).started == 1
        assert store.executions.get(waiting.id).status is ExecutionStatus.RUNNING
    assert summary(runs_of(store, task)) == [
        ("10:00", ExecutionStatus.KILLED, "operator"),
        ("10:01", ExecutionStatus.KILLED, "shutdown"),
        ("10:02", ExecutionStatus.SKIPPED, "overlap"),
    ]


def test_replace_kills_the_running_group_and_starts_the_new_slot(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    task = add_task(store, "replaced", ("sh", "-c", "sleep 30 & wait"), next_run_at=T0, overlap=OverlapPolicy.REPLACE)
    with running_engine(settings, store, clock) as engine:
        engine.run_pass(clock.now())
        [first] = runs_of(store, task)
        first = store.executions.get(first.id)
        clock.advance(60)
        engine.run_pass(clock.now())
        wait_for_status(store, first.id, ExecutionStatus.KILLED)
        assert engine.run_pass(clock.now()).started == 1
        second = runs_of(store, task)[1]
        assert store.executions.get(second.id).status is ExecutionStatus.RUNNING
        assert first.pgid is not None
        assert live_group_members(first.pgid) == []
    assert summary(runs_of(store, task)) == [
        ("10:00", ExecutionStatus.KILLED, "replaced"),
        ("10:01", ExecutionStatus.KILLED, "shutdown"),
    ]


def test_allow_lets_runs_overlap(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    clock = FakeClock(T0)
    add_task(sqlite_store, "overlapping", ("sleep", "30"), next_run_at=T0, overlap=OverlapPolicy.ALLOW)
    with running_engine(settings, sqlite_store, clock) as engine:
        engine.run_pass(clock.now())
        clock.advance(60)
        assert engine.run_pass(clock.now()).started == 1
        assert len(engine.supervisor.running()) == 2


def down_three_hours(store: Store, tmp_path: Path, catchup: CatchupPolicy, **spec: object) -> list[Execution]:
    """An hourly task last planned for 10:00; the runner comes back at 13:30 and makes passes."""
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(utc(2026, 3, 1, 13, 30))
    task = add_task(store, "hourly", ("true",), next_run_at=T0, schedule="0 * * * *", catchup=catchup, **spec)
    with running_engine(settings, store, clock) as engine:
        for _ in range(6):  # 'all' starts its chain one run per pass, each after the previous ended
            assert engine.run_pass(clock.now()).started <= 1
            settle(engine)
    assert store.tasks.get("hourly").next_run_at == utc(2026, 3, 1, 14)
    return runs_of(store, task)


def test_runner_down_three_hours_latest_runs_the_newest_slot_once_and_records_the_rest_missed(
    store: Store, tmp_path: Path
) -> None:
    runs = down_three_hours(store, tmp_path, CatchupPolicy.LATEST)
    assert [(r.scheduled_for.hour, r.status, r.trigger) for r in runs] == [
        (10, ExecutionStatus.MISSED, Trigger.SCHEDULE),
        (11, ExecutionStatus.MISSED, Trigger.SCHEDULE),
        (12, ExecutionStatus.MISSED, Trigger.SCHEDULE),
        (13, ExecutionStatus.SUCCESS, Trigger.CATCHUP),
    ]


def test_runner_down_three_hours_latest_past_its_starting_deadline_runs_nothing(
    sqlite_store: Store, tmp_path: Path
) -> None:
    runs = down_three_hours(sqlite_store, tmp_path, CatchupPolicy.LATEST, starting_deadline=900)
    assert [r.status for r in runs] == [ExecutionStatus.MISSED] * 4


def test_runner_down_three_hours_all_runs_every_slot_in_order_one_after_another(store: Store, tmp_path: Path) -> None:
    runs = down_three_hours(store, tmp_path, CatchupPolicy.ALL)
    assert [(r.scheduled_for.hour, r.status, r.trigger) for r in runs] == [
        (hour, ExecutionStatus.SUCCESS, Trigger.CATCHUP) for hour in (10, 11, 12, 13)
    ]
    ids_in_start_order = [r.id for r in sorted(runs, key=lambda r: (r.started_at, r.id))]
    assert ids_in_start_order == sorted(r.id for r in runs)


def test_runner_down_three_hours_none_records_every_slot_missed(store: Store, tmp_path: Path) -> None:
    runs = down_three_hours(store, tmp_path, CatchupPolicy.NONE)
    assert [(r.scheduled_for.hour, r.status) for r in runs] == [
        (hour, ExecutionStatus.MISSED) for hour in (10, 11, 12, 13)
    ]


def drive(engine: Engine, clock: FakeClock, store: Store, until: datetime, *, step: timedelta | None) -> int:
    """Make passes like the daemon: wake at each next slot (or every ``step``), until ``until``."""
    passes = 0
    while clock.now() < until:
        engine.run_pass(clock.now())
        settle(engine)
        passes += 1
        if step is not None:
            clock.advance(step.total_seconds())
        else:
            wake = store.tasks.next_wakeup()
            assert wake is not None and wake > clock.now()
            clock.set(min(wake, until))
    return passes


def local_slots(store: Store, task: Task, zone: str) -> list[str]:
    runs = runs_of(store, task)
    assert all(r.status is ExecutionStatus.SUCCESS for r in runs)
    return [r.scheduled_for.astimezone(ZoneInfo(zone)).isoformat() for r in runs]


def first_slot(expr: str, zone: str, after: datetime) -> datetime:
    return parse_schedule(expr, zone).next_after(after)


STEPS = pytest.mark.parametrize("step", [None, timedelta(minutes=7)], ids=["wake-at-each-slot", "pass-every-7-min"])


@STEPS
def test_fixed_time_task_runs_once_on_the_auckland_spring_forward_day(
    sqlite_store: Store, tmp_path: Path, step: timedelta | None
) -> None:
    # 2026-09-27 02:00 NZST (+12) jumps to 03:00 NZDT (+13): 02:00 does not exist that day, and
    # Debian cron runs the 02:00 job once, right after the jump, at 03:00 NZDT.
    store, zone = sqlite_store, "Pacific/Auckland"
    settings = settings_for(store, tmp_path / "home", timezone=zone)
    start = datetime.fromisoformat("2026-09-26T00:00:00+12:00")
    clock = FakeClock(start)
    task = add_task(store, "at_two", ("true",), next_run_at=first_slot("0 2 * * *", zone, start), schedule="0 2 * * *",
                    timezone=zone)  # fmt: skip
    with running_engine(settings, store, clock) as engine:
        drive(engine, clock, store, datetime.fromisoformat("2026-09-29T00:00:00+13:00"), step=step)
    assert local_slots(store, task, zone) == [
        "2026-09-26T02:00:00+12:00",
        "2026-09-27T03:00:00+13:00",
        "2026-09-28T02:00:00+13:00",
    ]


@STEPS
def test_fixed_time_task_runs_once_in_the_repeated_hour_of_the_auckland_fall_back_day(
    sqlite_store: Store, tmp_path: Path, step: timedelta | None
) -> None:
    # 2027-04-04 03:00 NZDT (+13) falls back to 02:00 NZST (+12): 02:00-02:59 happens twice. A job
    # at 02:30 runs once (in the first pass); a job every 30 minutes follows real time and runs in
    # both passes, so that day has 50 half hours.
    store, zone = sqlite_store, "Pacific/Auckland"
    settings = settings_for(store, tmp_path / "home", timezone=zone)
    start = datetime.fromisoformat("2027-04-03T00:00:00+13:00")
    clock = FakeClock(start)
    fixed = add_task(store, "at_half_two", ("true",), next_run_at=first_slot("30 2 * * *", zone, start),
                     schedule="30 2 * * *", timezone=zone)  # fmt: skip
    halves = add_task(store, "half_hourly", ("true",), next_run_at=first_slot("*/30 * * * *", zone, start),
                      schedule="*/30 * * * *", timezone=zone, catchup=CatchupPolicy.ALL)  # fmt: skip
    with running_engine(settings, store, clock) as engine:
        drive(engine, clock, store, datetime.fromisoformat("2027-04-06T00:00:00+12:00"), step=step)
    assert local_slots(store, fixed, zone) == [
        "2027-04-03T02:30:00+13:00",
        "2027-04-04T02:30:00+13:00",
        "2027-04-05T02:30:00+12:00",
    ]
    fall_back_day = [s for s in local_slots(store, halves, zone) if s.startswith("2027-04-04")]
    assert len(fall_back_day) == len(set(fall_back_day)) == 50
    wall_clock = [s[11:16] for s in fall_back_day]
    assert [t for t in wall_clock if wall_clock.count(t) > 1] == ["02:00", "02:30", "02:00", "02:30"]
