"""Log rotation: daily renames, compression, deletion, and no line lost while processes write."""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from smartcron.maintenance.rotation import rotate_logs
from tests.conftest import utc

UTC_ZONE = ZoneInfo("UTC")
DAY1 = utc(2026, 3, 1, 4, 0)

WRITER = textwrap.dedent(
    """
    import logging, os, sys
    kind, log_dir, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    if kind == "task":
        # As the runner writes a task's log: open with O_APPEND per run, write, close.
        path = os.path.join(log_dir, "tasks", "demo_" + name + ".log")
        for start in range(0, count, 50):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            for i in range(start, min(start + 50, count)):
                os.write(fd, f"<{name}#{i}>\\n".encode())
            os.close(fd)
    else:
        from smartcron.logs import configure
        configure(log_dir, kind)
        log = logging.getLogger("smartcron.writer")
        for i in range(count):
            (log.error if name.startswith("err") else log.info)("<%s#%d>", name, i)
    """
)
LINE = re.compile(rb"<(\w+)#(\d+)>")


def read_all(directory: Path, stem: str) -> list[bytes]:
    """Lines of ``stem`` and of every rotated (and gzipped) copy of it."""
    lines: list[bytes] = []
    for path in sorted(directory.iterdir()):
        if not path.name.startswith(stem):
            continue
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        lines += data.splitlines()
    return lines


def numbers(lines: list[bytes]) -> Counter[tuple[str, int]]:
    found: Counter[tuple[str, int]] = Counter()
    for line in lines:
        for name, number in LINE.findall(line):
            found[(name.decode(), int(number))] += 1
    return found


def test_rotation_while_several_processes_write_loses_no_line(tmp_path: Path) -> None:
    log_dir = tmp_path / "logs"
    (log_dir / "tasks").mkdir(parents=True)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    count = 3000
    writers = {
        "run1": "runner",
        "tick1": "tick",
        "health1": "health",
        "clean1": "maintenance",
        "err1": "runner",  # errors go to master.log and errors.log
        "sync": "task",
        "payroll": "task",
    }
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    procs = [
        subprocess.Popen([sys.executable, str(script), kind, str(log_dir), name, str(count)], env=env)
        for name, kind in writers.items()
    ]
    day = DAY1
    rotations = 0
    while any(proc.poll() is None for proc in procs):
        rotate_logs(log_dir, now=day, zone=UTC_ZONE, compress_after_days=1, keep_days=10_000)
        rotations += 1
        day += timedelta(days=1)
        with contextlib.suppress(subprocess.TimeoutExpired):  # let the writers make progress in between
            procs[0].wait(timeout=0.005)
    assert [proc.wait() for proc in procs] == [0] * len(procs)
    rotated_master = [p for p in log_dir.iterdir() if p.name.startswith("master.log.")]
    assert rotations > 3 and len(rotated_master) > 3, "rotation must have happened while writing"
    # Compress everything that was rotated, as a later day's run would, then count every line.
    rotate_logs(
        log_dir, now=day + timedelta(days=5), zone=UTC_ZONE, compress_after_days=1, keep_days=10_000, quiet_seconds=0
    )
    assert any(p.name.endswith(".gz") for p in log_dir.iterdir())

    expected = {name: Counter({(name, i): 1 for i in range(count)}) for name in writers}
    master = numbers(read_all(log_dir, "master.log"))
    assert master == expected["run1"] + expected["tick1"] + expected["err1"]
    assert numbers(read_all(log_dir, "health.log")) == expected["health1"]
    assert numbers(read_all(log_dir, "cleanup.log")) == expected["clean1"]
    assert numbers(read_all(log_dir, "errors.log")) == expected["err1"]
    assert numbers(read_all(log_dir / "tasks", "demo_sync.log")) == expected["sync"]
    assert numbers(read_all(log_dir / "tasks", "demo_payroll.log")) == expected["payroll"]


def write(path: Path, text: str, *, age_seconds: float = 3600.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = path.stat().st_mtime - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_each_log_rotates_once_a_day_and_empty_logs_stay(tmp_path: Path) -> None:
    write(tmp_path / "master.log", "a\n")
    write(tmp_path / "tasks" / "vend_sync.log", "b\n")
    (tmp_path / "health.log").touch()

    first = rotate_logs(tmp_path, now=DAY1, zone=UTC_ZONE, compress_after_days=7, keep_days=90)
    write(tmp_path / "master.log", "c\n")
    again = rotate_logs(tmp_path, now=DAY1 + timedelta(hours=5), zone=UTC_ZONE, compress_after_days=7, keep_days=90)

    assert (
        sorted(Path(p).name for p in first.rotated) == ["master.log.2026-03-01", "vend_sync.log.2026-03-01"][:0] or True
    )
    assert sorted(Path(p).name for p in first.rotated) == ["master.log", "vend_sync.log"]
    assert (tmp_path / "master.log.2026-03-01").read_text() == "a\n"
    assert (tmp_path / "tasks" / "vend_sync.log.2026-03-01").read_text() == "b\n"
    assert again.rotated == [] and (tmp_path / "master.log").read_text() == "c\n"
    assert (tmp_path / "health.log").exists()


def test_the_day_of_a_rotation_is_the_local_date(tmp_path: Path) -> None:
    write(tmp_path / "master.log", "a\n")

    rotate_logs(
        tmp_path, now=utc(2026, 3, 1, 12, 30), zone=ZoneInfo("Pacific/Auckland"), compress_after_days=7, keep_days=90
    )

    assert (tmp_path / "master.log.2026-03-02").exists()  # 12:30 UTC is 01:30 the next day in Auckland


def test_old_rotated_logs_are_compressed_after_seven_days_and_deleted_after_ninety(tmp_path: Path) -> None:
    today = DAY1
    for days_ago in (0, 6, 7, 90, 91):
        stamp = (today - timedelta(days=days_ago)).date().isoformat()
        write(tmp_path / f"master.log.{stamp}", f"{days_ago}\n")
    write(tmp_path / "tasks" / "x_y.log.2025-01-01.gz", "")

    report = rotate_logs(tmp_path, now=today, zone=UTC_ZONE, compress_after_days=7, keep_days=90)

    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == [
        "master.log.2025-12-01.gz",
        "master.log.2026-02-22.gz",
        "master.log.2026-02-23",
        "master.log.2026-03-01",
    ]
    assert gzip.decompress((tmp_path / "master.log.2026-02-22.gz").read_bytes()) == b"7\n"
    assert [Path(p).name for p in report.deleted] == ["master.log.2025-11-30", "x_y.log.2025-01-01.gz"]
    assert not (tmp_path / "tasks" / "x_y.log.2025-01-01.gz").exists()


def test_a_rotated_file_still_being_written_is_not_compressed(tmp_path: Path) -> None:
    busy = write(tmp_path / "master.log.2026-02-01", "late line\n", age_seconds=0)

    rotate_logs(tmp_path, now=DAY1, zone=UTC_ZONE, compress_after_days=7, keep_days=90)

    assert busy.exists() and busy.read_text() == "late line\n"
