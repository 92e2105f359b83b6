"""Slot planning: on-time runs, catch-up policies, missed rows (DESIGN 3.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from smartcron.domain.enums import CatchupPolicy, Trigger
from smartcron.domain.planning import MISSED_COUNT_CAP, SlotPlan, on_time_tolerance, plan_slots, triage_waiting
from tests.conftest import utc

ANCHOR = utc(2026, 1, 1)


@dataclass
class Every:
    """A schedule firing every ``seconds`` from ANCHOR, counting how often it is asked."""

    seconds: int
    calls: int = field(default=0)

    @property
    def has_seconds(self) -> bool:
        return self.seconds < 60

    def _index(self, when: datetime) -> int:
        return int((when - ANCHOR).total_seconds() // self.seconds)

    def _at(self, index: int) -> datetime:
        return ANCHOR + timedelta(seconds=index * self.seconds)

    def next_after(self, after: datetime) -> datetime:
        self.calls += 1
        return self._at(self._index(after) + 1)

    def between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        found: list[datetime] = []
        slot = self.next_after(after)
        while slot <= until and len(found) < limit:
            self.calls += 1
            found.append(slot)
            slot = self._at(self._index(slot) + 1)
        return found

    def latest_at_or_before(self, when: datetime, not_before: datetime) -> datetime | None:
        self.calls += 1
        slot = self._at(self._index(when))
        return slot if slot > not_before else None


HOURLY = Every(3600)
MINUTELY = Every(60)


def plan(
    schedule: Every,
    next_run_at: datetime,
    now: datetime,
    catchup: CatchupPolicy = CatchupPolicy.LATEST,
    starting_deadline: int | None = None,
    max_missed_rows: int = 100,
    catchup_limit: int = 100,
) -> SlotPlan:
    return plan_slots(
        schedule,
        next_run_at=next_run_at,
        now=now,
        catchup=catchup,
        starting_deadline=starting_deadline,
        max_missed_rows=max_missed_rows,
        catchup_limit=catchup_limit,
    )


def runs(result: SlotPlan) -> list[tuple[str, Trigger]]:
    return [(r.slot.strftime("%H:%M:%S"), r.trigger) for r in result.runs]


def hms(slots: tuple[datetime, ...]) -> list[str]:
    return [s.strftime("%H:%M:%S") for s in slots]


def test_slot_due_now_runs_on_schedule_and_next_run_moves_to_the_following_slot() -> None:
    result = plan(MINUTELY, utc(2026, 3, 1, 10, 0), utc(2026, 3, 1, 10, 0, 0, 300_000))
    assert runs(result) == [("10:00:00", Trigger.SCHEDULE)]
    assert result.missed == () and result.summary is None
    assert result.next_run_at == utc(2026, 3, 1, 10, 1)


def test_task_not_yet_due_plans_nothing_and_keeps_its_next_run() -> None:
    result = plan(MINUTELY, utc(2026, 3, 1, 10, 1), utc(2026, 3, 1, 10, 0, 30))
    assert result.is_empty
    assert result.next_run_at == utc(2026, 3, 1, 10, 1)


def test_minute_slot_a_few_seconds_late_still_counts_as_on_time() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 10, 0, 45))
    assert runs(result) == [("10:00:00", Trigger.SCHEDULE)]


def test_minute_slot_later_than_the_tolerance_runs_as_catchup_under_latest() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 10, 1, 1))
    assert runs(result) == [("10:00:00", Trigger.CATCHUP)]
    assert result.next_run_at == utc(2026, 3, 1, 11)


def test_runner_down_three_hours_latest_runs_newest_slot_once_and_records_the_others_missed() -> None:
    # Hourly task, runner down from 09:59 to 13:30: slots 10:00, 11:00, 12:00, 13:00 were missed.
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 30))
    assert runs(result) == [("13:00:00", Trigger.CATCHUP)]
    assert hms(result.missed) == ["10:00:00", "11:00:00", "12:00:00"]
    assert result.next_run_at == utc(2026, 3, 1, 14)


def test_latest_with_a_starting_deadline_lets_a_slot_go_missed_once_it_is_too_late() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 30), starting_deadline=600)
    assert result.runs == ()
    assert hms(result.missed) == ["10:00:00", "11:00:00", "12:00:00", "13:00:00"]


def test_latest_within_the_starting_deadline_runs_the_newest_slot() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 5), starting_deadline=600)
    assert runs(result) == [("13:00:00", Trigger.CATCHUP)]


def test_latest_runs_the_on_time_slot_and_records_earlier_ones_missed() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 0, 2))
    assert runs(result) == [("13:00:00", Trigger.SCHEDULE)]
    assert hms(result.missed) == ["10:00:00", "11:00:00", "12:00:00"]


def test_runner_down_three_hours_all_runs_every_slot_in_order() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 30), CatchupPolicy.ALL)
    assert runs(result) == [
        ("10:00:00", Trigger.CATCHUP),
        ("11:00:00", Trigger.CATCHUP),
        ("12:00:00", Trigger.CATCHUP),
        ("13:00:00", Trigger.CATCHUP),
    ]
    assert result.missed == ()


def test_all_runs_late_slots_before_the_on_time_one() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 11), utc(2026, 3, 1, 13, 0, 1), CatchupPolicy.ALL)
    assert runs(result) == [
        ("11:00:00", Trigger.CATCHUP),
        ("12:00:00", Trigger.CATCHUP),
        ("13:00:00", Trigger.SCHEDULE),
    ]


def test_all_is_bounded_and_records_the_oldest_slots_missed() -> None:
    result = plan(MINUTELY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 10, 9, 30), CatchupPolicy.ALL, catchup_limit=3)
    # The bound is on catch-up runs; the on-time slot runs as well.
    assert runs(result) == [
        ("10:06:00", Trigger.CATCHUP),
        ("10:07:00", Trigger.CATCHUP),
        ("10:08:00", Trigger.CATCHUP),
        ("10:09:00", Trigger.SCHEDULE),
    ]
    assert hms(result.missed) == [f"10:0{m}:00" for m in range(6)]


def test_all_with_a_starting_deadline_runs_only_slots_within_it() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 30), CatchupPolicy.ALL, starting_deadline=3 * 3600)
    assert runs(result) == [
        ("11:00:00", Trigger.CATCHUP),
        ("12:00:00", Trigger.CATCHUP),
        ("13:00:00", Trigger.CATCHUP),
    ]
    assert hms(result.missed) == ["10:00:00"]


def test_runner_down_three_hours_none_records_every_missed_slot_and_runs_nothing() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 30), CatchupPolicy.NONE)
    assert result.runs == ()
    assert hms(result.missed) == ["10:00:00", "11:00:00", "12:00:00", "13:00:00"]
    assert result.next_run_at == utc(2026, 3, 1, 14)


def test_none_still_runs_a_slot_that_is_on_time() -> None:
    result = plan(HOURLY, utc(2026, 3, 1, 12), utc(2026, 3, 1, 13, 0, 5), CatchupPolicy.NONE)
    assert runs(result) == [("13:00:00", Trigger.SCHEDULE)]
    assert hms(result.missed) == ["12:00:00"]


def test_missed_slots_beyond_the_row_limit_are_counted_in_one_summary_row() -> None:
    # 181 minute slots from 10:00 to 13:00, the newest runs: 180 missed, 5 get their own row.
    result = plan(MINUTELY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 13, 0, 1), max_missed_rows=5)
    assert runs(result) == [("13:00:00", Trigger.SCHEDULE)]
    assert hms(result.missed) == ["12:55:00", "12:56:00", "12:57:00", "12:58:00", "12:59:00"]
    assert result.summary is not None
    assert (result.summary.first, result.summary.last, result.summary.count) == (
        utc(2026, 3, 1, 10),
        utc(2026, 3, 1, 12, 54),
        175,
    )
    assert result.summary.reason == "175 slots missed from 2026-03-01T10:00:00+00:00 to 2026-03-01T12:54:00+00:00"


def test_summary_and_individual_rows_account_for_every_missed_slot_whatever_the_limit() -> None:
    for limit in (1, 2, 50, 99, 100, 101, 150, 500):
        result = plan(MINUTELY, utc(2026, 3, 1, 10), utc(2026, 3, 1, 12, 30), CatchupPolicy.NONE, max_missed_rows=limit)
        counted = len(result.missed) + (result.summary.count if result.summary else 0)
        # 151 slots from 10:00 to 12:30; 12:30 is on time and runs, the other 150 are missed.
        assert counted == 150, limit
        assert len(result.missed) == min(limit, 150)


def test_a_months_long_gap_of_an_every_second_task_is_cheap_and_counted_with_a_bound() -> None:
    every_second = Every(1)
    result = plan(every_second, utc(2026, 1, 1), utc(2026, 4, 1), CatchupPolicy.LATEST, max_missed_rows=10)
    assert runs(result) == [("00:00:00", Trigger.SCHEDULE)]
    assert len(result.missed) == 10
    assert result.summary is not None and result.summary.at_least
    assert result.summary.count > MISSED_COUNT_CAP
    assert "at least" in result.summary.reason
    assert every_second.calls < 3 * MISSED_COUNT_CAP


def test_second_level_tolerance_is_one_period() -> None:
    ten_seconds = Every(10)
    assert on_time_tolerance(ten_seconds, utc(2026, 3, 1, 10), None) == timedelta(seconds=10)
    on_time = plan(ten_seconds, utc(2026, 3, 1, 10), utc(2026, 3, 1, 10, 0, 9))
    assert runs(on_time) == [("10:00:00", Trigger.SCHEDULE)]
    late = plan(ten_seconds, utc(2026, 3, 1, 10), utc(2026, 3, 1, 10, 0, 9, 500_000), starting_deadline=5)
    assert late.runs == () and hms(late.missed) == ["10:00:00"]


@pytest.mark.parametrize(("deadline", "expected"), [(None, 60), (600, 60), (20, 20), (0, 0)])
def test_minute_tolerance_is_sixty_seconds_or_a_shorter_starting_deadline(deadline: int | None, expected: int) -> None:
    assert on_time_tolerance(HOURLY, utc(2026, 3, 1, 10), deadline) == timedelta(seconds=expected)


def test_next_run_at_that_is_not_a_slot_of_the_schedule_is_still_planned_once() -> None:
    # A task added with next_run_at = "now" (not on a minute boundary) runs once, then follows its schedule.
    result = plan(MINUTELY, utc(2026, 3, 1, 10, 0, 17), utc(2026, 3, 1, 10, 0, 20))
    assert runs(result) == [("10:00:17", Trigger.SCHEDULE)]
    assert result.next_run_at == utc(2026, 3, 1, 10, 1)


def test_slots_claimed_by_a_dead_runner_are_judged_like_missed_slots() -> None:
    left = [utc(2026, 3, 1, 12), utc(2026, 3, 1, 10), utc(2026, 3, 1, 11)]
    now = utc(2026, 3, 1, 13, 30)
    latest_runs, latest_missed = triage_waiting(
        HOURLY, left, now=now, catchup=CatchupPolicy.LATEST, starting_deadline=None
    )
    assert [(r.slot, r.trigger) for r in latest_runs] == [(utc(2026, 3, 1, 12), Trigger.CATCHUP)]
    assert latest_missed == [utc(2026, 3, 1, 10), utc(2026, 3, 1, 11)]
    none_runs, none_missed = triage_waiting(HOURLY, left, now=now, catchup=CatchupPolicy.NONE, starting_deadline=None)
    assert none_runs == [] and len(none_missed) == 3
    fresh_runs, _ = triage_waiting(
        HOURLY, [utc(2026, 3, 1, 13, 30)], now=now, catchup=CatchupPolicy.NONE, starting_deadline=None
    )
    assert [r.trigger for r in fresh_runs] == [Trigger.SCHEDULE]
