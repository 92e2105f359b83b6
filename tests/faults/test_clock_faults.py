"""Time itself as the fault: daylight-saving changes and clock steps, lived through by a real daemon.

The daemon runs on SQLite, whose reference clock is the machine's own (on PostgreSQL and MariaDB
it is the server's, which a test cannot move); its clock is set just before the moment under test
through the ``clock_offset_file`` setting, and stepped by rewriting that file. What each test
asserts is DESIGN 3.12 and Debian cron's behaviour, seen in the rows:

* spring forward (Europe/Berlin, 2026-03-29 02:00 CET -> 03:00 CEST): a fixed-time slot in the
  hour that does not exist runs once, at 03:00; 03:00 itself runs once; a wildcard-hour task runs
  once; a two-second task keeps its cadence across the change, no slot lost, none doubled;
* fall back (2026-10-25 03:00 CEST -> 02:00 CET): a fixed-time task that ran at the first 02:00
  does not run at the second, while a wildcard-hour task runs in both hours;
* a step of two hours forward: the slots jumped over go to each task's catch-up policy, ``all``
  running every one of them in that pass; two hours back: a wildcard task keeps its cadence, a
  fixed-time task does not run its slot again; a "clock jump" alert each time.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartcron.domain.enums import AlertState, CatchupPolicy, ExecutionStatus
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import Task, TaskSpec
from tests.faults.rig import FaultRig, Node, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus
BERLIN = "Europe/Berlin"
SPRING = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST
FALL = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 03:00 CEST becomes 02:00 CET
LEAD = 8.0  # seconds of the daemon's clock before the moment under test: its start-up fits in it


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[FaultRig]:
    world = FaultRig("sqlite", tmp_path)
    try:
        yield world
    finally:
        world.close()


class FakeTime:
    """The daemon's wall clock, through its offset file: ``set(moment)`` makes its now ``moment``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, moment: datetime) -> None:
        self._write((moment - datetime.now(UTC)).total_seconds())

    def step(self, seconds: float) -> None:
        self._write(float(self.path.read_text()) + seconds)

    def _write(self, offset: float) -> None:
        """Whole or not at all: the daemon rereads the file every 50 ms."""
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(f"{offset:.6f}")
        os.replace(temporary, self.path)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=float(self.path.read_text()))


def add_at(rig: FaultRig, name: str, schedule: str, start: datetime, **spec: object) -> Task:
    """A task whose next slot is the first after ``start`` (the daemon's time, not the test's)."""
    zone = str(spec.pop("timezone", BERLIN))
    first = parse_schedule(schedule, zone, hash_key=name).next_after(start)
    command = tuple(spec.pop("command", ("true",)))  # type: ignore[call-overload]
    task_spec = TaskSpec(name=name, command=command, schedule=schedule, timezone=zone, retries=0, **spec)  # type: ignore[arg-type]
    return rig.store.tasks.add(task_spec, now=start, next_run_at=first)


def daemon_at(rig: FaultRig, name: str, moment: datetime) -> tuple[Node, FakeTime]:
    fake = FakeTime(rig.tmp_path / f"{name}-clock-offset")
    fake.set(moment)
    node = rig.daemon(name, clock_offset_file=str(fake.path), timezone=BERLIN)
    return rig.wait_up(node), fake


def slots(rows: list) -> list[datetime]:  # type: ignore[type-arg]
    return [r.scheduled_for for r in rows]


def assert_cadence(rows: list, every: timedelta, across: datetime) -> None:  # type: ignore[type-arg]
    """Every slot of the run of ``rows`` once, none missing, each a success, spanning ``across``."""
    times = slots(rows)
    assert times == sorted(set(times)), "no slot twice"
    assert all(b - a == every for a, b in itertools.pairwise(times)), times
    assert times[0] < across < times[-1], (times[0], across, times[-1])
    assert {r.status for r in rows} == {S.SUCCESS}, [(r.scheduled_for, r.status, r.reason) for r in rows]


def test_spring_forward_each_slot_once_and_the_missing_hour_runs_at_three(rig: FaultRig) -> None:
    start = SPRING - timedelta(seconds=LEAD)
    gap = add_at(rig, "in_the_gap", "0 30 2 * * *", start)
    three = add_at(rig, "at_three", "0 0 3 * * *", start)
    hourly = add_at(rig, "hourly", "0 0 * * * *", start)
    every = add_at(rig, "every_two", "*/2 * * * * *", start)
    a, _ = daemon_at(rig, "a", start)
    wait_for(lambda: any(r.scheduled_for >= SPRING + timedelta(seconds=6) for r in rig.rows(every)), "03:00:06 CEST")
    assert a.stop() == 0, a.output

    for task in (gap, three, hourly):
        [run] = rig.rows(task)
        assert (run.scheduled_for, run.status) == (SPRING, S.SUCCESS), task.name
    assert rig.store.tasks.get("in_the_gap").next_run_at == datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert rig.store.tasks.get("hourly").next_run_at == SPRING + timedelta(hours=1)
    assert_cadence([r for r in rig.rows(every) if r.scheduled_for >= start + timedelta(seconds=4)],
                   timedelta(seconds=2), SPRING)  # fmt: skip
    assert "Traceback" not in a.master_log + a.output
    assert rig.live_rows() == [] and rig.duplicate_successes() == []
    assert rig.wait_no_leftovers() == []


def test_fall_back_the_fixed_time_runs_in_the_first_hour_only_the_wildcard_in_both(rig: FaultRig) -> None:
    first_two = FALL - timedelta(hours=1)  # 02:00 CEST, the first of the two
    start = first_two - timedelta(seconds=LEAD)
    fixed = add_at(rig, "at_two", "0 0 2 * * *", start)
    hourly = add_at(rig, "hourly", "0 0 * * * *", start)
    a, _ = daemon_at(rig, "a", start)
    wait_for(lambda: rig.rows(fixed) and rig.rows(hourly), "the first 02:00")
    assert a.stop() == 0, a.output
    assert slots(rig.rows(fixed)) == [first_two] and slots(rig.rows(hourly)) == [first_two]

    # The runner is back in the second 02:00 hour (an hour later, as the clocks say 02:00 again).
    start = FALL - timedelta(seconds=LEAD)
    every = add_at(rig, "every_two", "*/2 * * * * *", start)
    b, _ = daemon_at(rig, "b", start)
    wait_for(lambda: len(rig.rows(hourly)) == 2, "the second 02:00 (CET) of the hourly task")
    wait_for(lambda: any(r.scheduled_for >= FALL + timedelta(seconds=6) for r in rig.rows(every)), "02:00:06 CET")
    assert b.stop() == 0, b.output

    assert slots(rig.rows(fixed)) == [first_two], "02:00 is not run again in the repeated hour"
    assert rig.store.tasks.get("at_two").next_run_at == datetime(2026, 10, 26, 1, 0, tzinfo=UTC)  # 02:00 CET
    assert slots(rig.rows(hourly)) == [first_two, FALL]
    assert {r.status for r in rig.rows(hourly)} == {S.SUCCESS}
    assert_cadence([r for r in rig.rows(every) if r.scheduled_for >= start + timedelta(seconds=4)],
                   timedelta(seconds=2), FALL)  # fmt: skip
    assert "Traceback" not in a.master_log + b.master_log + a.output + b.output
    assert rig.live_rows() == [] and rig.duplicate_successes() == []
    assert rig.wait_no_leftovers() == []


def _clock_jumps(rig: FaultRig) -> int:
    """Occurrences of the open "clock jump" alert (one alert, counted again at each jump)."""
    return sum(a.count for a in rig.store.alerts.list(state=AlertState.OPEN) if a.kind == "clock_jump")


def test_a_clock_stepped_two_hours_forward_then_back(rig: FaultRig) -> None:
    start = datetime(2026, 6, 1, 9, 59, 52, tzinfo=UTC)
    zone = {"timezone": "UTC"}
    owed = {
        policy: add_at(rig, f"ten_{policy}", "*/10 * * * *", start, catchup=policy, **zone) for policy in CatchupPolicy
    }
    every = add_at(rig, "every_two", "*/2 * * * * *", start, **zone)
    noon = add_at(rig, "at_ten", "0 10 * * *", start, **zone)
    a, fake = daemon_at(rig, "a", start)
    ten = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    wait_for(lambda: all(
        [r.status for r in rig.rows(t)] == [S.SUCCESS] for t in [noon, *owed.values()]), "10:00 run")  # fmt: skip

    fake.step(2 * 3600)  # past 12:00: in the pass after the step, 12:00 is on time, 10:10-11:50 are owed
    wait_for(lambda: len(rig.rows(owed[CatchupPolicy.ALL])) >= 13, "the owed slots of catch-up all")
    wait_for(lambda: "jumped forward by 72" in a.master_log and _clock_jumps(rig) == 1, "the clock-jump alert")
    wait_for(lambda: not rig.live_rows(), "the owed runs ended")
    after_forward = fake.now()
    rows = {p: rig.rows(t) for p, t in owed.items()}
    owed_slots = [ten + timedelta(minutes=10 * i) for i in range(1, 12)]
    noon_ = ten + timedelta(hours=2)
    assert [(r.scheduled_for, r.status, r.trigger.value) for r in rows[CatchupPolicy.ALL]] == [
        (ten, S.SUCCESS, "schedule"),
        *[(s, S.SUCCESS, "catchup") for s in owed_slots],
        (noon_, S.SUCCESS, "schedule"),
    ], "every owed slot, in order, then the one on time"
    for policy in (CatchupPolicy.LATEST, CatchupPolicy.NONE):  # 12:00 on time: no catch-up run
        assert [(r.scheduled_for, r.status) for r in rows[policy]] == [
            (ten, S.SUCCESS),
            *[(s, S.MISSED) for s in owed_slots],
            (noon_, S.SUCCESS),
        ], policy
    ended = [(r.started_at, r.finished_at) for r in rows[CatchupPolicy.ALL][1:]]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ended)), "one after another"

    fake.step(-2 * 3600)
    back = after_forward - timedelta(hours=2)
    wait_for(lambda: "jumped back by 72" in a.master_log and _clock_jumps(rig) == 2, "the clock-jump alert again")
    wait_for(lambda: [r for r in rig.rows(every) if r.scheduled_for < after_forward - timedelta(hours=1)],
             "the two-second task running again on the stepped-back clock")  # fmt: skip
    for task in owed.values():
        upcoming = rig.store.tasks.get(task.name).next_run_at
        assert upcoming is not None and back < upcoming <= back + timedelta(minutes=10), (task.name, upcoming)
    assert rig.store.tasks.get("at_ten").next_run_at == ten + timedelta(days=1), "10:00 is not run again"
    time.sleep(2)  # the fault itself: the stepped-back clock goes on a moment
    assert a.stop() == 0, a.output
    assert slots(rig.rows(noon)) == [ten]
    assert "Traceback" not in a.master_log + a.output
    assert rig.live_rows() == [] and rig.duplicate_successes() == []
    assert rig.wait_no_leftovers() == []
