"""One run's output, read back from its task's log file (``smartcron logs``).

The runner appends every run of a task to ``<logs>/tasks/<category>_<task>.log``, each after a
header line ``=== <start> <task> execution <id> attempt <n> (<trigger>) ===``; a run's output is
what follows its header up to the next header of that task. Rotated copies (``.log.1``,
``.log.2026-11-26``, compressed ``.gz``) are searched too, newest first. The file is always derived
from the execution's task (its category and name are slugs), never from user input.
"""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO, cast

from smartcron.logs import task_log_path

FOLLOW_POLL_SECONDS = 0.2
READ_CHUNK = 1 << 20


def header_pattern(task_name: str, execution_id: int | None = None) -> re.Pattern[bytes]:
    """A header line of ``task_name`` (of one execution when given)."""
    ident = str(int(execution_id)).encode() if execution_id is not None else rb"\d+"
    return re.compile(
        rb"^=== \S+ " + re.escape(task_name.encode()) + rb" execution " + ident + rb" attempt \d+ \(\w+\) ===\r?\n?$"
    )


def log_files(log_dir: str | Path, category: str, name: str) -> list[Path]:
    """The task's current log, then its rotated copies, newest first; none when the task's name or
    category would put them outside ``<logs>/tasks`` (both are slugs; a row written around the
    registry might hold anything)."""
    current = task_log_path(log_dir, category, name)
    try:
        if current.resolve().parent != (Path(log_dir) / "tasks").resolve():
            return []
    except OSError:
        return []
    rotated = [p for p in current.parent.glob(f"{glob_escape(current.name)}.*") if p.is_file()]
    rotated.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return ([current] if current.is_file() else []) + rotated


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if path.suffix == ".gz" else path.open("rb")


def read_run_output(log_dir: str | Path, *, category: str, name: str, execution_id: int) -> Iterator[bytes] | None:
    """The lines run ``execution_id`` wrote (header excluded), or None when no log holds it."""
    found = locate_run_output(log_dir, category=category, name=name, execution_id=execution_id)
    return found[1] if found else None


def locate_run_output(
    log_dir: str | Path, *, category: str, name: str, execution_id: int
) -> tuple[Path, Generator[bytes, None, None]] | None:
    """The log file that holds run ``execution_id`` and the lines the run wrote there (header
    excluded), or None when no log holds it. Close the iterator, or read it to the end."""
    mine = header_pattern(name, execution_id)
    for path in log_files(log_dir, category, name):
        try:
            handle = _open(path)
        except OSError:
            continue
        try:
            found = any(mine.match(line) for line in handle)
        except (OSError, EOFError, gzip.BadGzipFile):
            found = False
        if found:
            return path, _until_next_header(handle, header_pattern(name))
        handle.close()
    return None


def _until_next_header(handle: IO[bytes], any_header: re.Pattern[bytes]) -> Generator[bytes, None, None]:
    with handle:
        for line in handle:
            if any_header.match(line):
                return
            yield line


def follow_run_output(
    log_dir: str | Path,
    *,
    category: str,
    name: str,
    execution_id: int,
    still_running: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """Like ``read_run_output``, then keep reading the current log while ``still_running()``."""
    path = task_log_path(log_dir, category, name)
    mine, any_header = header_pattern(name, execution_id), header_pattern(name)
    seen_header = False
    pending = b""
    with path.open("rb") as handle:
        while True:
            # Asked before reading: what the run wrote before it ended is read after, never lost.
            running = still_running()
            while chunk := handle.read(READ_CHUNK):
                lines = (pending + chunk).splitlines(keepends=True)
                pending = lines.pop() if not lines[-1].endswith(b"\n") else b""
                for line in lines:
                    if not seen_header:
                        seen_header = bool(mine.match(line))
                    elif any_header.match(line):
                        return
                    else:
                        yield line
            if not running:
                if seen_header and pending:
                    yield pending
                return
            sleep(FOLLOW_POLL_SECONDS)
