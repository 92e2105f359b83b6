"""A running run's output as it grows, for the live run page: its last part first, then the bytes
after an offset, a bounded slice per request.

Offsets count bytes of the run's own output (0 is the first byte after its header line) in the
task's current log, ``<logs>/tasks/<category>_<task>.log``. The file comes from the execution's
task in the database (and must lie inside the log directory), never from the request. Where the
run's output starts is found once, reading the log backwards from its end (a running run's header
is near the end), and remembered per file: a page asking every second costs a seek and a read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from smartcron.logs import task_log_path
from smartcron.runner.process.runlog import header_pattern
from smartcron.web.tasklog import make_inert

TAIL_BYTES = 64 * 1024
"""What the page shows first of a running run: its last 64 KiB."""
SLICE_BYTES = 256 * 1024
"""At most this much new output per answer; a page that is behind catches up over a few polls."""
SCAN_LIMIT = 64 * 1024 * 1024
"""How far back from the end of the log a run's header is looked for."""
_SCAN_BLOCK = 256 * 1024


@dataclass(frozen=True, slots=True)
class OutputSlice:
    """Output of one run between two offsets, made inert for display."""

    text: str
    start: int
    end: int
    """The offset to ask from next time."""
    found: bool
    """The current log holds the run's header."""
    ended: bool = False
    """The next run's header follows: nothing more of this run will come."""


def _utf8_cut(data: bytes) -> int:
    """The length of ``data`` without a multibyte character cut short at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # the lead byte of the last character: is the character whole?
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= needed else len(data) - back
    return len(data)


def _whole_part(data: bytes, *, final: bool) -> bytes:
    """What may be shown now: up to the last newline while more may follow (a line, an escape
    sequence or a character is never split between two answers), everything when ``final``."""
    if final:
        return data
    newline = data.rfind(b"\n")
    if newline >= 0:
        return data[: newline + 1]
    return data[: _utf8_cut(data)]


class RunOutputReader:
    """Reads runs' output from their task's current log; remembers where each run's output starts."""

    def __init__(self, log_dir: str | Path, *, max_remembered: int = 1024) -> None:
        self._log_dir = Path(log_dir)
        self._starts: OrderedDict[tuple[int, int, int], int] = OrderedDict()
        self._max = max_remembered
        self._lock = threading.Lock()

    def _current_log(self, category: str, name: str) -> Path | None:
        """The task's current log, if it exists and lies inside ``<logs>/tasks`` (see
        :func:`smartcron.runner.process.runlog.log_files`)."""
        current = task_log_path(self._log_dir, category, name)
        try:
            inside = current.resolve().parent == (self._log_dir / "tasks").resolve()
        except OSError:
            return None
        return current if inside and current.is_file() else None

    def _output_start(self, path: Path, name: str, execution_id: int) -> tuple[int, int] | None:
        """(offset in the file where the run's output starts, file size), or None."""
        try:
            info = path.stat()
        except OSError:
            return None
        key = (info.st_dev, info.st_ino, execution_id)
        with self._lock:
            known = self._starts.get(key)
            if known is not None and known <= info.st_size:
                self._starts.move_to_end(key)
                return known, info.st_size
        start = _find_header_end(path, name, execution_id, info.st_size)
        if start is None:
            return None  # not remembered: the header may be written in a moment
        with self._lock:
            self._starts[key] = start
            while len(self._starts) > self._max:
                self._starts.popitem(last=False)
        return start, info.st_size

    def tail(
        self, *, category: str, name: str, execution_id: int, running: bool, size: int = TAIL_BYTES
    ) -> OutputSlice:
        """The last ``size`` bytes of the run's output so far, starting at a line."""
        path = self._current_log(category, name)
        located = self._output_start(path, name, execution_id) if path else None
        if path is None or located is None:
            return OutputSlice(text="", start=0, end=0, found=False)
        output_start, file_size = located
        begin = max(output_start, file_size - size)
        data = _read(path, begin, file_size - begin)
        if begin > output_start:  # started inside a line: show from the next one
            newline = data.find(b"\n")
            skip = newline + 1 if newline >= 0 else 0
            data, begin = data[skip:], begin + skip
        shown, ended = _until_next_header(data, name, at_line_start=True)
        shown = _whole_part(shown, final=ended or not running)
        offset = begin - output_start
        return OutputSlice(_text(shown), offset, offset + len(shown), found=True, ended=ended)

    def after(
        self, *, category: str, name: str, execution_id: int, offset: int, running: bool, limit: int = SLICE_BYTES
    ) -> OutputSlice:
        """The run's output from ``offset`` on, at most ``limit`` bytes. Ask whether the run is
        still running *before* calling: what it wrote before it ended is then read too."""
        path = self._current_log(category, name)
        located = self._output_start(path, name, execution_id) if path else None
        if path is None or located is None:
            return OutputSlice(text="", start=offset, end=offset, found=False)
        output_start, file_size = located
        begin = output_start + offset
        if begin >= file_size:
            return OutputSlice(text="", start=offset, end=offset, found=True)
        at_line_start = offset == 0 or _read(path, begin - 1, 1) == b"\n"
        data = _read(path, begin, min(limit, file_size - begin))
        shown, ended = _until_next_header(data, name, at_line_start=at_line_start)
        complete = ended or (not running and begin + len(data) >= file_size)
        shown = _whole_part(shown, final=complete)
        return OutputSlice(_text(shown), offset, offset + len(shown), found=True, ended=ended)


def _text(data: bytes) -> str:
    return make_inert(data.decode("utf-8", errors="replace"))


def _read(path: Path, start: int, length: int) -> bytes:
    if length <= 0:
        return b""
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            return handle.read(length)
    except OSError:
        return b""


def _until_next_header(data: bytes, name: str, *, at_line_start: bool) -> tuple[bytes, bool]:
    """``data`` up to the next header line of the task (another run began there), and whether one was."""
    any_header = header_pattern(name)
    position = 0
    for index, line in enumerate(data.splitlines(keepends=True)):
        if (index > 0 or at_line_start) and line.endswith(b"\n") and any_header.match(line):
            return data[:position], True
        position += len(line)
    return data, False


def _find_header_end(path: Path, name: str, execution_id: int, size: int) -> int | None:
    """The offset just after the header line of run ``execution_id``, read backwards from the end."""
    needle = f" {name} execution {int(execution_id)} attempt ".encode()
    mine = header_pattern(name, execution_id)
    floor = max(0, size - SCAN_LIMIT)
    try:
        with path.open("rb") as handle:
            end = size
            while end > floor:
                begin = max(floor, end - _SCAN_BLOCK)
                handle.seek(begin)
                block = handle.read(end - begin + len(needle) + 512)  # overlaps the block after it
                found = block.rfind(needle)
                while found >= 0:
                    line_start = block.rfind(b"\n", 0, found) + 1
                    if line_start > 0 or begin == 0:
                        line_end = block.find(b"\n", found)
                        if line_end >= 0 and mine.match(block[line_start : line_end + 1]):
                            return begin + line_end + 1
                    found = block.rfind(needle, 0, found)
                end = begin
    except OSError:
        return None
    return None
