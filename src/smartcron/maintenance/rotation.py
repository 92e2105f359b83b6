"""Log rotation in the seed's layout: ``x.log`` -> ``x.log.YYYY-MM-DD`` once a day, gzip after
``retention_compress_after_days``, delete after ``retention_logs_days``.

Rotation is a rename and nothing else, which is what makes it safe while the runner, ticks and the
health monitor write: every writer appends with ``O_APPEND`` to the file it has open. A line
written just after the rename lands at the end of the renamed file, which is still whole; the
writer's next line notices the rename (``WatchedFileHandler`` stats the path before each record;
the runner opens a task's log per run) and creates a fresh ``x.log``. Nothing copies and truncates,
so no line can fall between a copy and a truncate. A rotated file is only compressed once it has
been quiet for a while by the wall clock, so no writer can still hold it open when it goes.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

ROTATED = re.compile(r"^(?P<base>.+\.log)\.(?P<day>\d{4}-\d{2}-\d{2})(?P<gz>\.gz)?$")
QUIET_SECONDS = 600.0
"""A rotated file is compressed or deleted only when nothing wrote to it for this long."""

Progress = Callable[[str], None]


@dataclass(slots=True)
class RotationReport:
    rotated: list[str] = field(default_factory=list)
    compressed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {"rotated": self.rotated, "compressed": self.compressed, "deleted": self.deleted}


def log_directories(log_dir: str | Path) -> list[Path]:
    """The directories rotation looks in: the log directory and its ``tasks/``."""
    base = Path(log_dir)
    return [directory for directory in (base, base / "tasks") if directory.is_dir()]


def _entries(directories: list[Path]) -> Iterator[Path]:
    for directory in directories:
        with os.scandir(directory) as found:
            yield from sorted(Path(entry.path) for entry in found if entry.is_file(follow_symlinks=False))


def _quiet(path: Path, wall_now: float, quiet_seconds: float) -> bool:
    try:
        return wall_now - path.stat().st_mtime >= quiet_seconds
    except FileNotFoundError:
        return False


def _compress(path: Path) -> Path:
    """Gzip ``path`` next to itself (through a temporary name), keep its mtime, remove it."""
    target = path.with_name(path.name + ".gz")
    partial = path.with_name(path.name + ".gz.partial")
    stat = path.stat()
    with path.open("rb") as source, gzip.open(partial, "wb") as sink:
        shutil.copyfileobj(source, sink, 1024 * 1024)
    os.utime(partial, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(partial, target)
    path.unlink()
    return target


def rotate_logs(
    log_dir: str | Path,
    *,
    now: datetime,
    zone: ZoneInfo,
    compress_after_days: int,
    keep_days: int,
    quiet_seconds: float = QUIET_SECONDS,
    progress: Progress | None = None,
) -> RotationReport:
    """Rotate, compress and delete; each step is idempotent and safe to run while logs are written.

    ``now`` (in ``zone``) names the rotated files and decides what is old enough; the quiet check
    uses the file system's own clock, since it is about real writers.
    """
    today = now.astimezone(zone).date()
    report = RotationReport()
    directories = log_directories(log_dir)
    wall_now = time.time()
    for path in _entries(directories):
        if path.suffix == ".log":
            if _rotate(path, today):
                report.rotated.append(str(path))
        elif (match := ROTATED.match(path.name)) is not None:
            _age_out(path, match, today, wall_now, compress_after_days, keep_days, quiet_seconds, report)
        if progress:
            progress(path.name)
    if report.rotated or report.compressed or report.deleted:
        log.info(
            "log rotation: %d rotated, %d compressed, %d deleted",
            len(report.rotated),
            len(report.compressed),
            len(report.deleted),
            extra={"action": "rotate"},
        )
    return report


def _rotate(path: Path, today: date) -> bool:
    """Rename a non-empty ``x.log`` to ``x.log.<today>`` unless today's rotation already happened."""
    try:
        if path.stat().st_size == 0:
            return False
    except FileNotFoundError:
        return False
    target = path.with_name(f"{path.name}.{today.isoformat()}")
    if target.exists() or target.with_name(target.name + ".gz").exists():
        return False  # once a day: what was written since stays in x.log until tomorrow
    try:
        os.rename(path, target)
    except FileNotFoundError:  # another rotation got there first
        return False
    return True


def _age_out(
    path: Path,
    match: re.Match[str],
    today: date,
    wall_now: float,
    compress_after_days: int,
    keep_days: int,
    quiet_seconds: float,
    report: RotationReport,
) -> None:
    try:
        day = date.fromisoformat(match["day"])
    except ValueError:
        return
    if not _quiet(path, wall_now, quiet_seconds):
        return
    if day < today - timedelta(days=keep_days):
        path.unlink(missing_ok=True)
        report.deleted.append(str(path))
        return
    # Never the file rotated today: writers that stat'ed before the rename may still append to it.
    if not match["gz"] and day <= today - timedelta(days=max(compress_after_days, 1)):
        report.compressed.append(str(_compress(path)))
