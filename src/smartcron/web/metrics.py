"""``/metrics``: Prometheus text exposition (format 0.0.4) written directly from the store.

Run counts and duration sums are Prometheus counters over every run the store has recorded. They
are aggregated once per dashboard process and then kept up to date incrementally by reading only
rows that finished since the last scrape (:class:`~smartcron.web.finished_feed.FinishedFeed`), so a
scrape stays cheap with millions of rows. Deleting old rows (retention) never lowers a counter.

With 1,000 tasks a scrape holds about 8,000 series. Building them as ``prometheus_client`` metric
objects took ~60 ms per scrape (one Sample tuple, label dict and float formatting per series); the
text is instead written here, and each task's lines are kept and rewritten only when that task's
counters, name or last success change, so a scrape mostly joins strings it already has. Between
scrapes the joined text itself is kept (:mod:`smartcron.web.metrics_cache`); only the heartbeat
ages are written at every scrape.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, type_coerce

from smartcron.clock import Clock
from smartcron.store import Store
from smartcron.store.schema import alerts as a
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t
from smartcron.store.types import UtcDateTime
from smartcron.web.finished_feed import FinishedFeed
from smartcron.web.queries import running_count

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SEVERITIES = ("critical", "high", "low")
UTC_TIME = UtcDateTime()
Key = tuple[int, str]


class RunTotals:
    """Finished runs per (task id, status) and duration sums per task, maintained incrementally.

    ``changed`` collects the ids of tasks whose totals moved since the caller last emptied it."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._feed = FinishedFeed(store.engine, [e.c.task_id, e.c.status, e.c.duration_ms])
        self.runs: dict[Key, int] = defaultdict(int)
        self.statuses: dict[int, set[str]] = defaultdict(set)
        self.duration_ms: dict[int, float] = defaultdict(float)
        self.timed_runs: dict[int, int] = defaultdict(int)
        self.changed: set[int] = set()

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def refresh(self) -> None:
        """Bring the totals up to date; call with :attr:`lock` held."""
        if self._feed.watermark is None:
            self._load_all()
            return
        for _, _, task_id, status, duration in self._feed.new_rows():
            timed = duration is not None
            self._add(int(task_id), status, 1, float(duration) if timed else 0.0, int(timed))

    def _add(self, task_id: int, status: str, count: int, duration_sum: float, timed: int) -> None:
        self.runs[(task_id, status)] += count
        self.statuses[task_id].add(status)
        self.duration_ms[task_id] += duration_sum
        self.timed_runs[task_id] += timed
        self.changed.add(task_id)

    def _load_all(self) -> None:
        with self._store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # one snapshot for the feed's start and the totals
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                watermark = self._feed.start(conn)
                if watermark is None:  # nothing finished yet: the next scrape loads everything again
                    return
                totals = select(
                    e.c.task_id, e.c.status, func.count(), func.sum(e.c.duration_ms), func.count(e.c.duration_ms)
                )
                for task_id, status, count, duration_sum, timed in conn.execute(
                    totals.where(e.c.finished_at <= watermark).group_by(e.c.task_id, e.c.status)
                ):
                    self._add(int(task_id), status, int(count), float(duration_sum or 0), int(timed))


def label_value(text: str) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    if "\\" in text or '"' in text or "\n" in text:
        return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return text


def number(value: float) -> str:
    """A sample value as Prometheus prints floats (``1.0``, ``1787964075.123``)."""
    return repr(float(value))


def family(name: str, kind: str, help_text: str) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family of the exposition: its name, type, help text and labels."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return family(self.name, self.kind, self.help)


RUNS = Family("smartcron_runs_total", "counter", "Finished runs by task and status.", ("task", "status"))
DURATIONS = Family("smartcron_run_duration_seconds", "summary", "Run time of finished runs.", ("task",))
LAST_SUCCESS = Family(
    "smartcron_task_last_success_timestamp_seconds", "gauge", "When the task last succeeded (Unix time).", ("task",)
)
RUNNING = Family("smartcron_running_runs", "gauge", "Runs in progress now.")
OPEN_ALERTS = Family("smartcron_open_alerts", "gauge", "Alerts not yet resolved, by severity.", ("severity",))
HEARTBEAT_AGE = Family(
    "smartcron_runner_heartbeat_age_seconds", "gauge", "Seconds since each runner's last heartbeat.", ("node",)
)
FAMILIES = (RUNS, DURATIONS, LAST_SUCCESS, RUNNING, OPEN_ALERTS, HEARTBEAT_AGE)
"""Every family ``/metrics`` serves, in order; the heartbeat ages come last because they are the one
part written anew at every scrape."""

RUNS_HEADER = RUNS.header
DURATIONS_HEADER = DURATIONS.header
LAST_SUCCESS_HEADER = LAST_SUCCESS.header


def heartbeat_section(beats: Iterable[tuple[str, datetime]], now: datetime) -> bytes:
    """The heartbeat-age family for (runner name, last heartbeat) pairs, by name: ages are taken at
    ``now``, so this part is written at every scrape, never kept."""
    lines = [HEARTBEAT_AGE.header]
    lines.extend(
        f'smartcron_runner_heartbeat_age_seconds{{node="{label_value(name)}"}} '
        f"{number(max(0.0, (now - at).total_seconds()))}\n"
        for name, at in sorted(beats)
    )
    return "".join(lines).encode()


@dataclass(frozen=True, slots=True)
class _TaskLines:
    """A task's lines in each per-task family, valid while ``key`` (name, totals version, last
    success) is unchanged."""

    key: tuple[str, int, object]
    runs: str
    durations: str
    last_success: str


class MetricsExposition:
    """The text of one scrape. Safe to call from several request threads at once."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._totals = RunTotals(store)
        self._versions: dict[int, int] = defaultdict(int)  # bumped when a task's totals change
        self._lines: dict[int, _TaskLines] = {}
        # Last success as the driver returns it (integer milliseconds on SQLite): it only keys the
        # cache, and is turned into a time only when a task's line is written, not 10,000 times a scrape.
        self._dialect = store.engine.dialect
        self._raw_success = type_coerce(t.c.last_success_at, UTC_TIME.load_dialect_impl(self._dialect))

    def render(self) -> bytes:
        """The whole exposition, built now from the database (no reuse between scrapes)."""
        beats = [(beat.name, beat.heartbeat_at) for beat in self._store.nodes.all("runner")]
        return self.render_stored() + heartbeat_section(beats, self._clock.now())

    def render_stored(self) -> bytes:
        """Every family but the heartbeat ages: what depends only on the database, not on the time
        of the scrape (:class:`~smartcron.web.metrics_cache.CachedMetrics` keeps it between scrapes)."""
        with self._store.engine.connect() as conn:
            task_rows = conn.execute(select(t.c.id, t.c.name, self._raw_success).order_by(t.c.id)).all()
            open_alerts = conn.execute(
                select(a.c.severity, func.count()).where(a.c.state != "resolved").group_by(a.c.severity)
            ).all()
        running = running_count(self._store)
        with self._totals.lock:
            self._totals.refresh()
            for task_id in self._totals.changed:
                self._versions[task_id] += 1
            self._totals.changed.clear()
            lines = [self._lines_of(int(task_id), name, success_at) for task_id, name, success_at in task_rows]
            if len(self._lines) > len(lines):  # tasks were deleted
                self._lines = {int(row[0]): kept for row, kept in zip(task_rows, lines, strict=True)}
        counted = {str(severity): int(n) for severity, n in open_alerts}
        parts = [RUNS_HEADER, *(x.runs for x in lines), DURATIONS_HEADER, *(x.durations for x in lines)]
        parts += [LAST_SUCCESS_HEADER, *(x.last_success for x in lines)]
        parts.append(RUNNING.header)
        parts.append(f"smartcron_running_runs {number(running)}\n")
        parts.append(OPEN_ALERTS.header)
        parts.extend(
            f'smartcron_open_alerts{{severity="{severity}"}} {number(counted.get(severity, 0))}\n'
            for severity in SEVERITIES
        )
        return "".join(parts).encode()

    def _lines_of(self, task_id: int, name: str, raw_success: object) -> _TaskLines:
        """The task's lines, written anew only when its key changed; call with the totals' lock held."""
        key = (name, self._versions[task_id], raw_success)
        kept = self._lines.get(task_id)
        if kept is not None and kept.key == key:
            return kept
        label = label_value(name)
        totals = self._totals
        runs = "".join(
            f'smartcron_runs_total{{status="{status}",task="{label}"}} {number(totals.runs[(task_id, status)])}\n'
            for status in sorted(totals.statuses.get(task_id, ()))
        )
        durations = ""
        if task_id in totals.statuses:
            durations = (
                f'smartcron_run_duration_seconds_count{{task="{label}"}} {number(totals.timed_runs[task_id])}\n'
                f'smartcron_run_duration_seconds_sum{{task="{label}"}} {number(totals.duration_ms[task_id] / 1000)}\n'
            )
        last_success = ""
        success_at = UTC_TIME.process_result_value(raw_success, self._dialect)
        if success_at is not None:
            last_success = (
                f'smartcron_task_last_success_timestamp_seconds{{task="{label}"}} {number(success_at.timestamp())}\n'
            )
        kept = _TaskLines(key, runs, durations, last_success)
        self._lines[task_id] = kept
        return kept
