"""The seed's success indicators as checks: what ``smartcron health`` reports and the dashboard shows.

Every indicator only reads the store (the web calls this on page loads), and at worst warns: a
task failing or a slow task is a reason to look, not a reason for the health run to fail. The
checks that watch the same things directly (runner heartbeat, dead and hung runs) can fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from smartcron.config import Settings
from smartcron.domain.enums import AlertState, CheckStatus, Severity
from smartcron.domain.health import CheckResult
from smartcron.monitor.checks import LOG_DIR_CHECK
from smartcron.monitor.metrics import DATABASE_SIZE_MB
from smartcron.store import Store

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
RUNNER_MINUTE_LIMIT = 90.0
"""Seconds a heartbeat may age and the runner still count as running every minute: a tick a
minute apart plus the time the tick itself takes."""
HEALTH_INTERVAL = timedelta(minutes=5)
HEALTH_SLACK = timedelta(minutes=2, seconds=30)
SUCCESS_TARGET = 99.0
DURATION_WINDOW = timedelta(days=7)
NAMES_SHOWN = 5


def _warn_or_ok(ok: bool, value: float | None, name: str, good: str, bad: str) -> CheckResult:
    return CheckResult(name, CheckStatus.OK if ok else CheckStatus.WARN, value, good if ok else bad)


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names[:NAMES_SHOWN]) + (
        f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
    )


def runner_every_minute(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """From the heartbeat age each health run recorded over the last hour."""
    name = "runner_every_minute"
    samples = store.health.history("runner_heartbeat", now - HOUR, until=now + timedelta(seconds=1))
    if not samples:
        return CheckResult(name, CheckStatus.WARN, None, "no health run in the last hour recorded the runner")
    ages = [r.result.value for r in samples]
    if any(age is None for age in ages):
        return CheckResult(name, CheckStatus.WARN, None, "no runner reported during the last hour")
    oldest = max(age for age in ages if age is not None)
    return _warn_or_ok(
        oldest <= RUNNER_MINUTE_LIMIT,
        oldest,
        name,
        f"runner heartbeat never older than {oldest:.0f} s in {len(samples)} health run(s) over the last hour",
        f"runner heartbeat was {oldest:.0f} s old within the last hour (limit {RUNNER_MINUTE_LIMIT:.0f} s)",
    )


def health_every_five_minutes(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """The longest gap between health runs over the last hour (value, minutes). When the first
    health run ever was within the hour (a new installation), the hour starts with it."""
    name = "health_every_5_minutes"
    times = store.health.run_times(now - HOUR)
    young = bool(times) and store.health.last_run_before(now - HOUR) is None
    since = f"since the first one {_minutes(now - times[0]):g} min ago" if young else "in the last hour"
    points = [*times, now] if young else [now - HOUR, *times, now]
    gap = max(later - earlier for earlier, later in itertools.pairwise(points))
    minutes = _minutes(gap)
    return _warn_or_ok(
        gap <= HEALTH_INTERVAL + HEALTH_SLACK,
        minutes,
        name,
        f"{len(times)} health runs {since}, never more than {minutes:g} min apart",
        f"health runs were up to {minutes:g} min apart {since} ({len(times)} runs)",
    )


def _minutes(span: timedelta) -> float:
    return round(span.total_seconds() / 60, 1)


def tasks_enabled(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """Every task enabled (or paused on purpose), and every active task has a next run."""
    tasks = store.tasks.states()
    disabled = [task.name for task in tasks if not task.enabled]
    unscheduled = [task.name for task in tasks if task.active and task.next_run_at is None]
    paused = sum(1 for task in tasks if task.enabled and task.paused)
    problems = []
    if disabled:
        problems.append(f"disabled: {_listing(disabled)}")
    if unscheduled:
        problems.append(f"no next run: {_listing(unscheduled)}")
    return _warn_or_ok(
        not problems,
        float(len(disabled) + len(unscheduled)),
        "tasks_enabled",
        f"{len(tasks)} task(s), all enabled" + (f" ({paused} paused on purpose)" if paused else ""),
        "; ".join(problems),
    )


def success_rate(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """Slots of the last 24 hours that succeeded after retries (value, percent)."""
    outcomes = store.run_stats.slot_outcomes(now - DAY, now)
    rate = outcomes.success_rate
    if rate is None:
        return CheckResult("success_rate", CheckStatus.OK, None, "no run finished in the last 24 hours")
    return _warn_or_ok(
        rate >= SUCCESS_TARGET,
        round(rate, 2),
        "success_rate",
        f"{rate:.2f} % of {outcomes.decided} slot(s) succeeded in the last 24 hours (after retries)",
        f"only {rate:.2f} % of {outcomes.decided} slot(s) succeeded in the last 24 hours after retries "
        f"({outcomes.failed} failed; target {SUCCESS_TARGET:g} %)",
    )


def durations_within_timeout(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """Tasks whose average run over the last 7 days took more than half their timeout (value: count)."""
    slow = [
        f"{d.task_name} ({d.average_ms / 1000:.0f} s of {d.timeout} s)"
        for d in store.run_stats.durations(now - DURATION_WINDOW, now)
        if d.timeout > 0 and d.average_ms > d.timeout * 1000 / 2
    ]
    return _warn_or_ok(
        not slow,
        float(len(slow)),
        "durations_within_timeout",
        "every task's average duration over 7 days is within half its timeout",
        f"average duration over half the timeout: {_listing(slow)}",
    )


def logs_under_limit(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """The log directory's size as the newest health run measured it (the web must not walk it)."""
    measured = [r.result for r in store.health.latest() if r.name == LOG_DIR_CHECK]
    if not measured:
        return CheckResult(LOG_DIR_CHECK, CheckStatus.WARN, None, "the health monitor has not measured the logs yet")
    return max(measured, key=lambda result: result.value or 0.0)


def database_growth(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """Database growth per day (value, MiB) from the sizes the health runs recorded."""
    name = "database_growth"
    newest = store.metrics.latest(DATABASE_SIZE_MB, at_or_before=now)
    older = store.metrics.latest(DATABASE_SIZE_MB, at_or_before=now - DAY)
    if newest is None or newest.value is None or older is None or older.value is None or newest.at <= older.at:
        return CheckResult(name, CheckStatus.OK, None, "not enough history yet: the growth shows after a day")
    days = (newest.at - older.at).total_seconds() / DAY.total_seconds()
    per_day = (newest.value - older.value) / days
    limit = settings.health_db_growth_warn_mb
    return _warn_or_ok(
        per_day <= limit,
        round(per_day, 3),
        name,
        f"the database grows {per_day:.2f} MiB a day ({newest.value:.1f} MiB now)",
        f"the database grows {per_day:.1f} MiB a day, over {limit:g} MiB ({newest.value:.1f} MiB now)",
    )


def no_dead_or_hung(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """What the newest health run found: dead runs marked abandoned and hung runs killed."""
    latest = [r for r in store.health.latest() if r.name in ("dead_tasks", "hung_tasks")]
    if not latest:
        return CheckResult("no_dead_or_hung", CheckStatus.WARN, None, "the health monitor has not checked runs yet")
    found = sum(r.result.value or 0 for r in latest)
    return _warn_or_ok(
        found == 0,
        float(found),
        "no_dead_or_hung",
        "no dead or hung run in the last health run",
        "; ".join(r.result.message for r in latest if r.result.value),
    )


def no_critical_alert(store: Store, settings: Settings, now: datetime) -> CheckResult:
    """Open (not acknowledged) critical alerts (value: count)."""
    critical = [a for a in store.alerts.list(state=AlertState.OPEN, limit=1000) if a.severity is Severity.CRITICAL]
    return _warn_or_ok(
        not critical,
        float(len(critical)),
        "no_critical_alert",
        "no open critical alert",
        f"{len(critical)} open critical alert(s): {_listing([a.message for a in critical])}",
    )


Indicator = Callable[[Store, Settings, datetime], CheckResult]

INDICATORS: tuple[Indicator, ...] = (
    runner_every_minute,
    health_every_five_minutes,
    tasks_enabled,
    success_rate,
    durations_within_timeout,
    logs_under_limit,
    database_growth,
    no_dead_or_hung,
    no_critical_alert,
)


WINDOWED: frozenset[Indicator] = frozenset({success_rate, durations_within_timeout, database_growth})
"""Indicators over a day or a week of history: an answer a minute old is as good as a fresh one,
and on a large history they are most of the scorecard's cost (the dashboard keeps them a while)."""


def scorecard(
    store: Store, settings: Settings, now: datetime, *, kept: Mapping[Indicator, CheckResult] | None = None
) -> list[CheckResult]:
    """Every success indicator, in the seed's order; those in ``kept`` are taken from it, not computed."""
    kept = kept or {}
    return [kept[indicator] if indicator in kept else indicator(store, settings, now) for indicator in INDICATORS]
