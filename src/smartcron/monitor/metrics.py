"""System and runner figures sampled into ``smart_cron_metrics`` on every health run.

The names are what the dashboard charts ask ``store.metrics.series()`` for. Samples older than
``retention_metrics_raw_days`` are reduced to hourly averages and those older than
``retention_metrics_days`` deleted by ``smartcron maintenance cleanup``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from smartcron.config import Settings
from smartcron.monitor.checks import MIB, SystemReaders, SystemSnapshot, read_snapshot
from smartcron.store import Store
from smartcron.store.nodes import Heartbeat

CPU_PERCENT = "cpu_percent"
MEMORY_PERCENT = "memory_percent"
DISK_DATA_PERCENT = "disk_used_percent.data"
DISK_LOGS_PERCENT = "disk_used_percent.logs"
LOAD1 = "load1"
RUNNER_RSS_MB = "runner_rss_mb"
LOG_DIR_MB = "log_dir_mb"
DATABASE_SIZE_MB = "database_size_mb"
"""Kept so the scorecard can tell how fast the database grows per day."""

METRIC_DESCRIPTIONS: dict[str, str] = {
    CPU_PERCENT: "CPU in use on the machine, in percent.",
    MEMORY_PERCENT: "Memory in use on the machine, in percent.",
    DISK_DATA_PERCENT: "Space used on the file system of the data directory, in percent.",
    DISK_LOGS_PERCENT: "Space used on the file system of the log directory, in percent.",
    LOAD1: "The 1-minute load average.",
    RUNNER_RSS_MB: "Resident memory of this node's runner daemon, in MiB (when one runs).",
    LOG_DIR_MB: "Size of the log directory, in MiB.",
    DATABASE_SIZE_MB: "Size of the database, in MiB (when the database can tell).",
}
"""What each sampled figure is, for the metrics reference."""

METRIC_NAMES = (
    CPU_PERCENT,
    MEMORY_PERCENT,
    DISK_DATA_PERCENT,
    DISK_LOGS_PERCENT,
    LOAD1,
    RUNNER_RSS_MB,
    LOG_DIR_MB,
    DATABASE_SIZE_MB,
)


def runner_rss_mb(heartbeats: Sequence[Heartbeat], node: str, readers: SystemReaders) -> float | None:
    """Resident memory of this node's runner daemon, when one is running."""
    for beat in heartbeats:
        if beat.name == node and beat.role == "runner" and beat.pid:
            return readers.process_rss_mb(beat.pid)
    return None


def metric_samples(
    snapshot: SystemSnapshot, *, runner_rss: float | None, database_bytes: int | None
) -> dict[str, float]:
    samples = {
        CPU_PERCENT: snapshot.cpu_percent,
        MEMORY_PERCENT: snapshot.memory_percent,
        DISK_DATA_PERCENT: snapshot.disk_data_percent,
        DISK_LOGS_PERCENT: snapshot.disk_logs_percent,
        LOAD1: snapshot.load[0],
        LOG_DIR_MB: snapshot.log_dir_bytes / MIB,
    }
    if runner_rss is not None:
        samples[RUNNER_RSS_MB] = runner_rss
    if database_bytes is not None:
        samples[DATABASE_SIZE_MB] = database_bytes / MIB
    return samples


def record_metrics(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    snapshot: SystemSnapshot | None = None,
    readers: SystemReaders | None = None,
    heartbeats: Sequence[Heartbeat] | None = None,
) -> dict[str, float]:
    """Sample every metric at ``now`` and store it; returns what was stored.

    The health monitor passes the snapshot its checks used; the daemon may call this alone.
    """
    readers = readers or SystemReaders()
    snapshot = snapshot or read_snapshot(settings, readers)
    beats = store.nodes.all() if heartbeats is None else heartbeats
    samples = metric_samples(
        snapshot,
        runner_rss=runner_rss_mb(beats, settings.node, readers),
        database_bytes=store.health.database_size_bytes(),
    )
    store.metrics.record(samples, at=now, node=settings.node)
    return samples
