"""``explain_window`` itself (pure): the cap on how many slots one report explains."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcron.domain import why as why_module
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.task import Task, TaskSpec
from smartcron.domain.why import explain_window
from tests.conftest import utc

T0 = utc(2026, 3, 2, 14)


def test_a_window_with_more_slots_than_the_cap_explains_the_newest_and_says_it_was_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(why_module, "MAX_SLOTS", 50)
    schedule = parse_schedule("*/10 * * * * *", "UTC")
    task = Task(1, TaskSpec(name="poll", command=("true",), schedule=schedule.expr), created_at=T0)
    now = T0 + timedelta(minutes=10)
    report = explain_window(task, schedule, since=T0, now=now, rows=[])
    assert report.truncated
    slots = [record.slot for record in report.slots]
    assert len(slots) <= 50 and slots[-1] == now
    assert slots == schedule.between(report.since, now, 100)
    assert report.since >= T0


def test_a_window_within_the_cap_is_explained_whole() -> None:
    schedule = parse_schedule("*/10 * * * * *", "UTC")
    task = Task(1, TaskSpec(name="poll", command=("true",), schedule=schedule.expr), created_at=T0)
    report = explain_window(task, schedule, since=T0, now=T0 + timedelta(minutes=10), rows=[])
    assert (report.truncated, report.since, len(report.slots)) == (False, T0, 60)
