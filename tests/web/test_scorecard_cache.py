"""The dashboard's scorecard: answered from memory, refreshed in the background, the indicators over
days of history refreshed only once a minute."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from smartcron.clock import FakeClock
from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.domain.health import CheckResult
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web.panels import ScorecardCache
from tests.conftest import utc

NOW = utc(2026, 3, 1, 12)


@pytest.fixture
def counted(store: Store, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the scorecard read the registry and the week's durations."""
    calls: Counter[str] = Counter()
    for repository, method in ((store.tasks, "states"), (store.run_stats, "durations")):
        original = getattr(repository, method)

        def counting(*args: Any, _original: Any = original, _name: str = method, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(repository, method, counting)
    return calls


def refresh(cache: ScorecardCache) -> None:
    """A request after the scorecard went stale, and the background refresh it started."""
    card, _, problem = cache.get()
    assert problem is None and card is not None
    thread = cache._thread
    assert thread is not None, "no refresh was started"
    thread.join(timeout=30)
    assert not thread.is_alive()
    cache._thread = None


def test_state_indicators_refresh_every_few_seconds_and_windowed_ones_every_minute(
    store: Store, settings: Settings, counted: Counter[str]
) -> None:
    clock = FakeClock(NOW)
    cache = ScorecardCache(store, settings, clock)

    first, computed_at, _ = cache.get()  # the first request computes it at once
    assert first is not None and computed_at == NOW
    assert counted == {"states": 1, "durations": 1}

    clock.advance(ScorecardCache.MAX_AGE / 2)
    cache.get()
    assert cache._thread is None and counted == {"states": 1, "durations": 1}, "fresh: nothing recomputed"

    clock.advance(ScorecardCache.MAX_AGE)
    refresh(cache)
    assert counted == {"states": 2, "durations": 1}

    clock.advance(ScorecardCache.WINDOWED_MAX_AGE)
    refresh(cache)
    assert counted == {"states": 3, "durations": 2}
    card, computed_at, _ = cache.get()
    assert computed_at == clock.now()
    assert card is not None and [r.name for r in card] == [r.name for r in first]


def test_a_windowed_indicator_shows_a_change_only_once_its_minute_is_over(store: Store, settings: Settings) -> None:
    clock = FakeClock(NOW)
    cache = ScorecardCache(store, settings, clock)
    assert durations_check(cache).status is CheckStatus.OK

    slow_run(store, clock.now())  # 50 s of a 60 s timeout: over half of it
    clock.advance(ScorecardCache.MAX_AGE * 2)
    refresh(cache)
    assert durations_check(cache).status is CheckStatus.OK, "kept for its minute"

    clock.advance(ScorecardCache.WINDOWED_MAX_AGE)
    refresh(cache)
    assert durations_check(cache).status is CheckStatus.WARN
    assert "slow (50 s of 60 s)" in durations_check(cache).message


def durations_check(cache: ScorecardCache) -> CheckResult:
    card, _, _ = cache.get()
    assert card is not None
    [found] = [r for r in card if r.name == "durations_within_timeout"]
    return found


def slow_run(store: Store, at: datetime) -> None:
    spec = TaskSpec(name="slow", command=("true",), schedule="* * * * *", timeout=60)
    task_id = store.tasks.add(spec, now=at, next_run_at=at).id
    slot = at - timedelta(minutes=5)
    [run] = store.executions.claim([SlotClaim(task_id, slot, Trigger.SCHEDULE)], node="n", token="t", now=slot)
    store.executions.begin([run.id], node="n", token="t", now=slot, lease_until=at)
    outcome = Outcome(status=ExecutionStatus.SUCCESS, finished_at=slot + timedelta(seconds=50), duration_ms=50_000)
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
