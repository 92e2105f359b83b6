"""``/metrics``: Prometheus text read from the store at scrape time (a custom collector).

Run counts and duration sums are Prometheus counters over every run the store has recorded. They
are aggregated once per dashboard process and then kept up to date incrementally by reading only
rows that finished since the last scrape (the ``finished_at`` index), so a scrape stays cheap with
millions of rows. A row committed more than ``OVERLAP`` after its finish time would be missed;
runners commit within a second. Deleting old rows (retention) never lowers a counter.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select

from smartcron.clock import Clock
from smartcron.store import Store
from smartcron.store.schema import alerts as a
from smartcron.store.schema import executions as e
from smartcron.store.schema import tasks as t
from smartcron.web.queries import running_count

OVERLAP = timedelta(minutes=5)
Key = tuple[int, str]


class RunTotals:
    """Finished runs per (task id, status) and duration sums per task, maintained incrementally."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._watermark: datetime | None = None
        self._recent: dict[int, datetime] = {}
        self.runs: dict[Key, int] = defaultdict(int)
        self.duration_ms: dict[int, float] = defaultdict(float)
        self.timed_runs: dict[int, int] = defaultdict(int)

    def refresh(self) -> None:
        with self._lock:
            if self._watermark is None:
                self._load_all()
            else:
                self._load_since(self._watermark - OVERLAP)

    def _load_all(self) -> None:
        with self._store.engine.connect() as conn:
            if conn.dialect.name == "postgresql":  # one snapshot for the three queries below
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                watermark = conn.execute(select(func.max(e.c.finished_at))).scalar_one_or_none()
                if watermark is None:  # nothing finished yet: the next scrape loads everything again
                    return
                totals = select(
                    e.c.task_id, e.c.status, func.count(), func.sum(e.c.duration_ms), func.count(e.c.duration_ms)
                )
                for task_id, status, count, duration_sum, timed in conn.execute(
                    totals.where(e.c.finished_at <= watermark).group_by(e.c.task_id, e.c.status)
                ):
                    self.runs[(int(task_id), status)] += int(count)
                    self.duration_ms[int(task_id)] += float(duration_sum or 0)
                    self.timed_runs[int(task_id)] += int(timed)
                recent = select(e.c.id, e.c.finished_at).where(
                    e.c.finished_at > watermark - OVERLAP, e.c.finished_at <= watermark
                )
                self._recent = {int(i): at for i, at in conn.execute(recent)}
        self._watermark = watermark

    def _load_since(self, since: datetime) -> None:
        query = select(e.c.id, e.c.task_id, e.c.status, e.c.duration_ms, e.c.finished_at).where(e.c.finished_at > since)
        with self._store.engine.connect() as conn:
            rows = conn.execute(query).all()
        watermark = self._watermark
        for execution_id, task_id, status, duration, finished_at in rows:
            if execution_id in self._recent:
                continue
            self._recent[int(execution_id)] = finished_at
            self.runs[(int(task_id), status)] += 1
            if duration is not None:
                self.duration_ms[int(task_id)] += float(duration)
                self.timed_runs[int(task_id)] += 1
            if watermark is None or finished_at > watermark:
                watermark = finished_at
        self._watermark = watermark
        if watermark is not None:
            horizon = watermark - OVERLAP
            self._recent = {i: at for i, at in self._recent.items() if at > horizon}


class StoreCollector(Collector):
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._totals = RunTotals(store)

    def collect(self) -> Iterator[Metric]:
        self._totals.refresh()
        now = self._clock.now()
        with self._store.engine.connect() as conn:
            task_rows = conn.execute(select(t.c.id, t.c.name, t.c.last_success_at)).all()
            open_alerts = conn.execute(
                select(a.c.severity, func.count()).where(a.c.state != "resolved").group_by(a.c.severity)
            ).all()
        names = {int(r[0]): r[1] for r in task_rows}

        runs = CounterMetricFamily("smartcron_runs", "Finished runs by task and status.", labels=["task", "status"])
        for (task_id, status), count in sorted(self._totals.runs.items()):
            if task_id in names:
                runs.add_metric([names[task_id], status], count)
        yield runs

        durations = SummaryMetricFamily("smartcron_run_duration_seconds", "Run time of finished runs.", labels=["task"])
        for task_id, total_ms in sorted(self._totals.duration_ms.items()):
            if task_id in names:
                durations.add_metric([names[task_id]], self._totals.timed_runs[task_id], total_ms / 1000)
        yield durations

        last_success = GaugeMetricFamily(
            "smartcron_task_last_success_timestamp_seconds",
            "When the task last succeeded (Unix time).",
            labels=["task"],
        )
        for _, name, success_at in task_rows:
            if success_at is not None:
                last_success.add_metric([name], success_at.timestamp())
        yield last_success

        yield GaugeMetricFamily("smartcron_running_runs", "Runs in progress now.", value=running_count(self._store))

        alerts = GaugeMetricFamily(
            "smartcron_open_alerts", "Alerts not yet resolved, by severity.", labels=["severity"]
        )
        counted: dict[str, int] = {str(severity): int(n) for severity, n in open_alerts}
        for severity in ("critical", "high", "low"):
            alerts.add_metric([severity], int(counted.get(severity, 0)))
        yield alerts

        heartbeat = GaugeMetricFamily(
            "smartcron_runner_heartbeat_age_seconds", "Seconds since each runner's last heartbeat.", labels=["node"]
        )
        for beat in self._store.nodes.all("runner"):
            heartbeat.add_metric([beat.name], max(0.0, (now - beat.heartbeat_at).total_seconds()))
        yield heartbeat


def make_registry(store: Store, clock: Clock) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, clock))
    return registry
