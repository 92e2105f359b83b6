"""``smartcron why`` across daylight-saving changes in Europe/Berlin, slots run by the real engine.

2026-03-29: at 02:00 CET (01:00 UTC) clocks jump to 03:00 CEST; 02:00-02:59 does not exist.
2026-10-25: at 03:00 CEST (01:00 UTC) clocks go back to 02:00 CET; 02:00-02:59 happens twice.
The rule is Debian cron's (DESIGN 3.3): a fixed-time task keeps wall-clock time (a skipped time
runs right after the jump, a repeated one in the first pass only); a task whose minute or hour
starts with '*' follows elapsed time.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from smartcron.clock import FakeClock
from smartcron.domain.schedule import parse_schedule
from smartcron.domain.why_model import SlotExplanation
from smartcron.store import Store
from tests.conftest import utc
from tests.runner.runner_support import add_task, running_engine, settings_for, settle
from tests.services.why_support import why

BERLIN = "Europe/Berlin"


def run_slots(store: Store, tmp_path: Path, schedule: str, since: datetime, until: datetime) -> list[SlotExplanation]:
    """Register a Berlin task, pass the engine at each of its slots up to ``until``, explain."""
    settings = settings_for(store, tmp_path / "home")
    parsed = parse_schedule(schedule, BERLIN)
    first = parsed.next_after(since)
    add_task(store, "job", ("true",), next_run_at=first, schedule=schedule, timezone=BERLIN, created=since)
    clock = FakeClock(first)
    with running_engine(settings, store, clock) as engine:
        for slot in parsed.between(since, until, 100):
            clock.set(slot)
            engine.run_pass(clock.now())
            settle(engine)
    return why(store, settings, "job", since=since, now=until)


def local(record: SlotExplanation) -> str:
    return record.slot.astimezone(parse_schedule("* * * * *", BERLIN).timezone).strftime("%H:%M %Z")


def test_a_fixed_time_slot_skipped_by_spring_forward_ran_at_the_jump_and_says_why(store: Store, tmp_path: Path) -> None:
    records = run_slots(store, tmp_path, "30 2 * * *", utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    [record] = records
    assert (local(record), record.outcome.value, record.slot) == ("03:00 CEST", "ran", utc(2026, 3, 29, 1))
    assert record.dst == (
        "02:30 does not exist on 2026-03-29 in Europe/Berlin: the clock jumped from 02:00 to 03:00; "
        "as Debian cron does, a fixed-time task runs once right after the jump, at 03:00"
    )


def test_an_hourly_slot_in_the_spring_forward_gap_is_not_due_and_says_why(store: Store, tmp_path: Path) -> None:
    records = run_slots(store, tmp_path, "30 * * * *", utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))
    assert [(local(r), r.outcome.value) for r in records] == [
        ("01:30 CET", "ran"),
        ("03:00 CEST", "not due"),
        ("03:30 CEST", "ran"),
    ]
    assert records[1].reason == (
        "02:30 does not exist on 2026-03-29 in Europe/Berlin: the clock jumped from 02:00 to 03:00; "
        "a task whose minute or hour field starts with '*' follows real elapsed time (Debian cron's rule), "
        "so there is no run for it"
    )


def test_a_fixed_time_slot_in_the_repeated_hour_runs_in_the_first_pass_only(store: Store, tmp_path: Path) -> None:
    records = run_slots(store, tmp_path, "30 2 * * *", utc(2026, 10, 24, 22), utc(2026, 10, 25, 3))
    assert [(local(r), r.outcome.value) for r in records] == [("02:30 CEST", "ran"), ("02:30 CET", "not due")]
    assert records[1].reason == (
        "02:30 happened twice on 2026-10-25 in Europe/Berlin (clocks went back from 03:00 to 02:00); "
        "as Debian cron does, a fixed-time task runs in the first pass only, at 02:30 CEST"
    )


def test_an_hourly_task_runs_in_both_passes_of_the_repeated_hour_and_says_why(store: Store, tmp_path: Path) -> None:
    records = run_slots(store, tmp_path, "30 * * * *", utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))
    assert [(local(r), r.outcome.value) for r in records] == [("02:30 CEST", "ran"), ("02:30 CET", "ran")]
    both = (
        "02:30 happened twice on 2026-10-25 in Europe/Berlin (clocks went back from 03:00 to 02:00); "
        "a task whose minute or hour field starts with '*' follows real elapsed time (Debian cron's rule), "
        "so it runs in both passes"
    )
    assert [r.dst for r in records] == [both, both]
