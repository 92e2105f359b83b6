"""The listing of ``smartcron why`` as people read it: one line per slot, and runs of identical
outcomes grouped once the listing is long (a task with seconds has thousands of slots a day)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.why_lines import GROUP_AFTER, next_lines, why_lines
from smartcron.services.why import explain_task
from smartcron.store import Store
from tests.conftest import utc
from tests.runner.runner_support import add_task, settings_for
from tests.services.why_support import ran

T0 = utc(2026, 3, 2, 14)
EVERY_TWO_SECONDS = "*/2 * * * * *"


def test_consecutive_identical_outcomes_of_a_task_with_seconds_share_one_line(
    sqlite_store: Store, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    task = add_task(sqlite_store, "poll", ("true",), next_run_at=T0, schedule=EVERY_TWO_SECONDS, created=T0)
    slots = [T0 + timedelta(seconds=2 * i) for i in range(1800)]
    rows = ran(sqlite_store, task, slots[:1000]) + ran(sqlite_store, task, [slots[1000]], status=ExecutionStatus.FAILED)
    rows += ran(sqlite_store, task, slots[1001:])
    report = explain_task(sqlite_store, settings, "poll", since=T0 - timedelta(seconds=1), now=slots[-1])
    assert len(report.slots) == 1800
    assert [line.render() for line in why_lines(report)] == [
        f"2026-03-02 14:00:00-14:33:18 UTC  ran        1,000 times, all success (#{rows[0].id}-#{rows[999].id})",
        f"2026-03-02 14:33:20 UTC  ran        #{rows[1000].id} on node-a: failed in 1 s",
        f"2026-03-02 14:33:22-14:59:58 UTC  ran        799 times, all success (#{rows[1001].id}-#{rows[-1].id})",
    ]
    assert next_lines(report) == [
        "2026-03-02 15:00:00 UTC  (2026-03-02T15:00:00Z)",
        "2026-03-02 15:00:02 UTC  (2026-03-02T15:00:02Z)",
        "2026-03-02 15:00:04 UTC  (2026-03-02T15:00:04Z)",
    ]


def test_a_short_listing_keeps_one_line_per_slot(sqlite_store: Store, tmp_path: Path) -> None:
    settings = settings_for(sqlite_store, tmp_path / "home")
    task = add_task(sqlite_store, "poll", ("true",), next_run_at=T0, schedule=EVERY_TWO_SECONDS, created=T0)
    slots = [T0 + timedelta(seconds=2 * i) for i in range(GROUP_AFTER)]
    ran(sqlite_store, task, slots)
    report = explain_task(sqlite_store, settings, "poll", since=T0 - timedelta(seconds=1), now=slots[-1])
    assert len(why_lines(report)) == GROUP_AFTER
