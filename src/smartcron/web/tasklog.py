"""One run's full output, read from its task's log file.

The runner appends each run to ``<logs>/tasks/<category>_<task>.log`` after a header line
``=== ... execution <id> ...``. The output of a run is everything from its header to the next
header. Logs are only ever found from an execution id: the path comes from the task's category and
name in the database, and is checked to stay inside the log directory, so no request can name a file.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from smartcron.logs import task_log_path

HEADER_PREFIX = b"=== "
MAX_LOG_BYTES = 2 * 1024 * 1024
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class RunLog:
    text: str
    found: bool
    truncated: bool
    source: str | None


def make_inert(text: str) -> str:
    """Terminal escapes and control characters removed: output shows as plain text, nothing more."""
    return _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


def _candidates(log_dir: Path, category: str, name: str) -> list[Path]:
    """The task's current log and its rotated copies, newest first, all inside ``<logs>/tasks``."""
    base = task_log_path(log_dir, category, name)
    tasks_dir = (log_dir / "tasks").resolve()
    try:
        if base.resolve().parent != tasks_dir:
            return []
    except OSError:
        return []
    rotated = sorted(
        (p for p in tasks_dir.glob(f"{glob_escape(base.name)}*") if p != base and p.is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    return ([base] if base.is_file() else []) + rotated


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if path.suffix == ".gz" else path.open("rb")


def _lines_of_run(handle: IO[bytes], marker: re.Pattern[bytes]) -> Iterator[bytes] | None:
    for line in handle:
        if line.startswith(HEADER_PREFIX) and marker.search(line):
            return _until_next_header(handle, first=line)
    return None


def _until_next_header(handle: IO[bytes], *, first: bytes) -> Iterator[bytes]:
    yield first
    for line in handle:
        if line.startswith(HEADER_PREFIX) and b"execution " in line:
            return
        yield line


def read_run_log(log_dir: str | Path, *, category: str, name: str, execution_id: int) -> RunLog:
    """The output of run ``execution_id`` (at most ``MAX_LOG_BYTES``), made inert for display."""
    marker = re.compile(rb"execution #?" + str(int(execution_id)).encode() + rb"\b")
    for path in _candidates(Path(log_dir), category, name):
        try:
            with _open(path) as handle:
                lines = _lines_of_run(handle, marker)
                if lines is None:
                    continue
                collected = bytearray()
                truncated = False
                for line in lines:
                    if len(collected) + len(line) > MAX_LOG_BYTES:
                        truncated = True
                        break
                    collected += line
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        text = make_inert(collected.decode("utf-8", errors="replace"))
        return RunLog(text=text, found=True, truncated=truncated, source=path.name)
    return RunLog(text="", found=False, truncated=False, source=None)
