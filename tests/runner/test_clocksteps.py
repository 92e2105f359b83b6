"""The database's clock as the runner follows it, and what a step of it means for the schedule."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

from smartcron.clock import FakeClock
from smartcron.domain.enums import AlertState
from smartcron.runner.scheduling.clocksteps import CLOCK_JUMP_ALERT, after_clock_jump, keep_cadence
from smartcron.runner.scheduling.dbclock import ClockReading, DatabaseClock
from smartcron.store import Store
from tests.conftest import utc
from tests.runner.runner_support import add_task, running_engine, settings_for

T0 = utc(2026, 3, 1, 12)


class ServerClock:
    """A store whose database reports a time of the test's choosing (and is not SQLite)."""

    dialect = "postgresql"

    def __init__(self, now: datetime) -> None:
        self.server_now = now

    def database_now(self) -> datetime:
        return self.server_now


def test_now_follows_the_server_not_the_nodes_own_clock_and_reports_the_skew() -> None:
    local = FakeClock(T0 + timedelta(seconds=7))  # this node's clock runs 7 s fast
    server = ServerClock(T0)
    clock = DatabaseClock(server, local)  # type: ignore[arg-type]
    first = clock.sync()
    assert first is not None and first.skew == timedelta(seconds=7) and not first.jumped
    local.advance(3)  # three seconds pass, by both clocks
    server.server_now += timedelta(seconds=3)
    assert clock.now() == T0 + timedelta(seconds=3)
    local.set(T0 - timedelta(hours=2))  # the node's own clock is stepped: the runner's now is not
    assert clock.now() == T0 + timedelta(seconds=3)


def test_a_step_of_the_servers_clock_is_a_jump_at_the_next_sync() -> None:
    local = FakeClock(T0)
    server = ServerClock(T0)
    clock = DatabaseClock(server, local)  # type: ignore[arg-type]
    clock.sync()
    local.advance(1)
    server.server_now = T0 - timedelta(hours=2)  # somebody set the database server's clock back
    reading = clock.sync()
    assert reading is not None and reading.jumped
    assert round(reading.jump.total_seconds()) == -7201
    assert clock.now() == T0 - timedelta(hours=2)


def test_after_a_step_back_wildcard_tasks_keep_their_cadence_and_fixed_time_tasks_do_not_run_again(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(store, tmp_path / "home")
    before_step = T0 + timedelta(hours=2)
    add_task(store, "every_five", ("true",), next_run_at=before_step + timedelta(minutes=5),
                          schedule="*/5 * * * *")  # fmt: skip
    nightly = add_task(store, "nightly", ("true",), next_run_at=utc(2026, 3, 1, 14, 30), schedule="30 14 * * *")
    clock = FakeClock(T0)  # the clock went back two hours
    with running_engine(settings, store, clock, role="runner") as engine:
        after_clock_jump(engine, ClockReading(T0, timedelta(0), timedelta(hours=-2)), clock.now())
        assert keep_cadence(engine, clock.now()) == 0  # once is enough
    assert store.tasks.get("every_five").next_run_at == T0 + timedelta(minutes=5)
    assert store.tasks.get("nightly").next_run_at == nightly.next_run_at  # it ran at 14:30 already
    [alert] = store.alerts.list(state=AlertState.OPEN)
    assert alert.kind == CLOCK_JUMP_ALERT and "jumped back by 7200 s" in alert.message


def test_the_daemon_acts_on_a_jump_the_lease_keeper_noticed(store: Store, tmp_path: Path) -> None:
    settings = settings_for(store, tmp_path / "home")
    clock = FakeClock(T0)
    add_task(store, "every_minute", ("true",), next_run_at=T0 + timedelta(hours=2), schedule="* * * * *")
    with running_engine(settings, store, clock, role="runner") as engine:
        noticed = threading.Event()
        engine.note_clock_jump(ClockReading(T0, timedelta(0), timedelta(hours=-2)))
        for reading in engine.take_clock_jumps():
            after_clock_jump(engine, reading, clock.now())
            noticed.set()
        assert noticed.is_set() and engine.take_clock_jumps() == []
    assert store.tasks.get("every_minute").next_run_at == T0 + timedelta(minutes=1)
