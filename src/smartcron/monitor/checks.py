"""Health checks of the machine and the store: each a small function returning a ``CheckResult``.

What the machine reports (disk, memory, CPU, load, directory sizes, process RSS) is read through
``SystemReaders``, so a test can say "the disk is 91 % full" without filling a disk. Checks that
repair run state (dead, hung, stale runs) live in ``monitor.repair``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus
from smartcron.domain.health import CheckResult, threshold_status
from smartcron.errors import SmartcronError
from smartcron.store import Store
from smartcron.store.nodes import Heartbeat

MIB = 1024 * 1024
RUNNER_ROLES = ("runner", "tick")
"""Heartbeat roles that prove a runner is alive: the daemon, or the crontab line's ``tick``."""
DATABASE_SLOW_SECONDS = 1.0
LOG_DIR_CHECK = "log_dir_size"


def _existing_ancestor(path: str) -> str:
    """The path itself or its nearest existing parent: a data dir not created yet is on that disk."""
    candidate = Path(path).absolute()
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return str(candidate)


def _disk_used_percent(path: str) -> float:
    return float(psutil.disk_usage(_existing_ancestor(path)).percent)


def _memory_percent() -> float:
    return float(psutil.virtual_memory().percent)


class _CpuPercent:
    """psutil measures CPU between two calls; the first call of a process has no interval yet, so it
    blocks briefly once, and later calls (inside the daemon) measure since the previous one."""

    def __init__(self) -> None:
        self._primed = False

    def __call__(self) -> float:
        if not self._primed:
            self._primed = True
            return float(psutil.cpu_percent(interval=0.2))
        return float(psutil.cpu_percent(interval=None))


def _directory_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # rotated or deleted while walking
                continue
    return total


def _process_rss_mb(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).memory_info().rss) / MIB
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


@dataclass(frozen=True, slots=True)
class SystemReaders:
    """Where the monitor reads the machine's figures; replace any of them in tests."""

    disk_used_percent: Callable[[str], float] = _disk_used_percent
    memory_percent: Callable[[], float] = _memory_percent
    cpu_percent: Callable[[], float] = field(default_factory=_CpuPercent)
    load_average: Callable[[], tuple[float, float, float]] = os.getloadavg
    cpu_count: Callable[[], int] = lambda: os.cpu_count() or 1
    directory_size: Callable[[str], int] = _directory_size
    process_rss_mb: Callable[[int], float | None] = _process_rss_mb


def check_database(store: Store) -> CheckResult:
    """Reachable, schema current, round-trip latency (value, ms) and connection-pool use."""
    from smartcron.store.migrate import ensure_current

    try:
        latency = store.ping()
        ensure_current(store.engine)
    except SmartcronError as exc:
        return CheckResult("database", CheckStatus.FAIL, None, exc.message)
    pool = store.engine.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    pool_text = f", pool {checked_out()}/{size()} in use" if callable(checked_out) and callable(size) else ""
    status = CheckStatus.WARN if latency >= DATABASE_SLOW_SECONDS else CheckStatus.OK
    return CheckResult(
        "database", status, round(latency * 1000, 3), f"{store.dialect} answers in {latency * 1000:.1f} ms{pool_text}"
    )


@dataclass(frozen=True, slots=True)
class SystemSnapshot:
    """The machine's figures, read once per health run and shared by the checks and the metrics."""

    disk_data_percent: float
    disk_logs_percent: float
    memory_percent: float
    cpu_percent: float
    load: tuple[float, float, float]
    cpu_count: int
    log_dir_bytes: int


def read_snapshot(settings: Settings, readers: SystemReaders) -> SystemSnapshot:
    log_dir = settings.log_dir
    return SystemSnapshot(
        disk_data_percent=readers.disk_used_percent(settings.data_dir),
        disk_logs_percent=readers.disk_used_percent(log_dir),
        memory_percent=readers.memory_percent(),
        cpu_percent=readers.cpu_percent(),
        load=readers.load_average(),
        cpu_count=max(1, readers.cpu_count()),
        log_dir_bytes=readers.directory_size(log_dir) if os.path.isdir(log_dir) else 0,
    )


def check_disk(name: str, path: str, used: float, settings: Settings) -> CheckResult:
    """Percent used of the disk holding ``path`` (value), against the warn and critical thresholds."""
    status = threshold_status(
        used, warn_at=settings.health_disk_warn_percent, fail_at=settings.health_disk_critical_percent
    )
    limits = f"warn {settings.health_disk_warn_percent:g} %, critical {settings.health_disk_critical_percent:g} %"
    return CheckResult(name, status, round(used, 1), f"{used:.1f} % used on the disk of {path} ({limits})")


def check_memory(snapshot: SystemSnapshot, settings: Settings) -> CheckResult:
    used = snapshot.memory_percent
    status = threshold_status(used, warn_at=settings.health_memory_warn_percent)
    return CheckResult(
        "memory",
        status,
        round(used, 1),
        f"{used:.1f} % of memory used (warn {settings.health_memory_warn_percent:g} %)",
    )


def check_cpu(snapshot: SystemSnapshot, settings: Settings) -> CheckResult:
    """CPU use (value) and load. The 1-minute load per CPU decides: 100 % CPU for a moment is normal."""
    load1, load5, load15 = snapshot.load
    status = threshold_status(load1 / snapshot.cpu_count, warn_at=settings.health_load_warn_per_cpu)
    return CheckResult(
        "cpu",
        status,
        round(snapshot.cpu_percent, 1),
        f"CPU {snapshot.cpu_percent:.0f} %, load {load1:.2f} {load5:.2f} {load15:.2f} on {snapshot.cpu_count} CPU(s)"
        f" (warn at {settings.health_load_warn_per_cpu:g} per CPU)",
    )


def newest_runner_heartbeat(heartbeats: Sequence[Heartbeat]) -> Heartbeat | None:
    runners = [beat for beat in heartbeats if beat.role in RUNNER_ROLES]
    return max(runners, key=lambda beat: beat.heartbeat_at, default=None)


def check_runner_heartbeat(heartbeats: Sequence[Heartbeat], now: datetime, settings: Settings) -> CheckResult:
    """FAIL when the newest runner or tick heartbeat is older than ``health_runner_down_after``.

    The value is the heartbeat's age in seconds (None when no runner ever reported).
    """
    newest = newest_runner_heartbeat(heartbeats)
    limit = settings.health_runner_down_after
    if newest is None:
        return CheckResult(
            "runner_heartbeat",
            CheckStatus.FAIL,
            None,
            "no runner has ever reported: start `smartcron run`, or `smartcron install` for the crontab line",
        )
    age = (now - newest.heartbeat_at).total_seconds()
    who = f"{newest.role} on {newest.name}"
    if age > limit:
        return CheckResult(
            "runner_heartbeat", CheckStatus.FAIL, round(age, 1), f"runner down: last heartbeat {age:.0f} s ago ({who})"
        )
    return CheckResult(
        "runner_heartbeat", CheckStatus.OK, round(max(age, 0.0), 1), f"{who} beat {max(age, 0):.0f} s ago"
    )


def check_log_dir(snapshot: SystemSnapshot, settings: Settings) -> CheckResult:
    """Total size of the log directory in MiB (value), against ``health_log_dir_max_mb``."""
    size_mb = snapshot.log_dir_bytes / MIB
    limit = settings.health_log_dir_max_mb
    status = CheckStatus.WARN if size_mb > limit else CheckStatus.OK
    return CheckResult(
        "log_dir_size",
        status,
        round(size_mb, 2),
        f"logs take {size_mb:.1f} MiB of at most {limit} MiB ({settings.log_dir})",
    )
