"""One run's output: appended to the task's log file as it arrives, a tail kept for the row, capped.

The log gets a header line, then the output as written, until ``max_output_bytes``; after that one
marker line and nothing more (the supervisor keeps reading and discarding, so the task never blocks
on a full pipe). The preview is the tail of *everything* the task wrote, dropped bytes included:
the last lines usually say why a run ended, and the row is where people look first.
A log that cannot be written never stops the run; the preview still records the output.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TRUNCATION_MARKER = "[smartcron: output truncated after {limit} bytes]"
PREVIEW_MARKER = "[smartcron: {skipped} earlier bytes not shown here; the run's log has them]\n"
"""First line of a preview that holds only the tail of a longer output (it replaces as many bytes
of the tail, so the preview stays within its bound)."""

_made_directories: set[Path] = set()
"""Log directories known to exist: not made again for every run (a thousand runs at one instant).
One deleted meanwhile is made again when opening the log fails."""


@dataclass(frozen=True, slots=True)
class OutputSummary:
    preview: str
    total_bytes: int
    truncated: bool


def decode_tail(data: bytes) -> str:
    """Decode a tail cut at an arbitrary byte: skip a partial UTF-8 character at the start.

    A NUL byte becomes U+FFFD like an invalid byte: PostgreSQL refuses NUL in text, and a row that
    cannot be written would leave its run ``running`` for good."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] <= 0xBF:
        start += 1
    return data[start:].decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def _open_log(path: Path) -> int:
    directory = path.parent
    if directory not in _made_directories:
        directory.mkdir(parents=True, exist_ok=True)
        _made_directories.add(directory)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        return os.open(path, flags, 0o640)
    except FileNotFoundError:  # the directory was removed since
        _made_directories.discard(directory)
        directory.mkdir(parents=True, exist_ok=True)
        _made_directories.add(directory)
        return os.open(path, flags, 0o640)


class RunOutput:
    """Collects the output of one run. Not thread-safe: one thread (the supervisor's) feeds it."""

    def __init__(
        self, log_path: Path | None, *, preview_bytes: int, max_output_bytes: int, header: str | None = None
    ) -> None:
        self.log_path = log_path
        self.preview_bytes = preview_bytes
        self.max_output_bytes = max_output_bytes
        self.total_bytes = 0
        self.truncated = False
        self._header = header
        self._logged_bytes = 0
        self._tail = bytearray()
        self._tail_fed = 0  # bytes ever given to the tail
        self._log_fd: int | None = None
        self._ends_with_newline = True

    @classmethod
    def open(cls, log_path: Path, header: str, *, preview_bytes: int, max_output_bytes: int) -> RunOutput:
        """Open (append) the log, creating its directory, and write the run's header line."""
        output = cls(log_path, preview_bytes=preview_bytes, max_output_bytes=max_output_bytes, header=header)
        output.open_log()
        return output

    def open_log(self) -> None:
        """Open the log and write the header given to the constructor; before the first ``feed``.

        Apart from the constructor, so that the thread that reads the task's output (the
        supervisor's) opens its log, not the thread that starts a thousand processes at once.
        """
        if self.log_path is None or self._header is None:
            return
        try:
            self._log_fd = _open_log(self.log_path)
        except OSError as exc:
            log.warning("cannot open task log %s: %s", self.log_path, exc.strerror, extra={"action": "log"})
        self._write_log(self._header.encode("utf-8", errors="replace") + b"\n")
        self._header = None

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the task's output."""
        if not chunk:
            return
        self.total_bytes += len(chunk)
        self._keep_tail(chunk)
        if self.truncated:
            return
        room = self.max_output_bytes - self._logged_bytes
        kept = chunk if len(chunk) <= room else chunk[:room]
        if kept:
            self._logged_bytes += len(kept)
            self._ends_with_newline = kept.endswith(b"\n")
            self._write_log(kept)
        if len(kept) < len(chunk):
            self.truncated = True
            separator = b"" if self._ends_with_newline else b"\n"
            marker = TRUNCATION_MARKER.format(limit=self.max_output_bytes)
            self._write_log(separator + marker.encode() + b"\n")
            self._ends_with_newline = True

    def note(self, line: str) -> None:
        """A line from smartcron itself (e.g. why the command could not start), in log and preview."""
        data = line.encode("utf-8", errors="replace") + b"\n"
        if not self._ends_with_newline:
            data = b"\n" + data
        self._keep_tail(data)
        self._write_log(data)
        self._ends_with_newline = True

    def close(self) -> OutputSummary:
        """Close the log (flushed: writes are unbuffered) and summarise."""
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        return OutputSummary(self._preview_text(), self.total_bytes, self.truncated)

    def _preview_text(self) -> str:
        tail = self._preview()
        if self._tail_fed <= len(tail) or self.preview_bytes < 4 * len(PREVIEW_MARKER):
            return decode_tail(tail)  # all of it, or a preview too small to spend on a marker
        marker = b""
        for _ in range(2):  # the marker's own length changes the count it gives, by a digit at most
            kept = tail[len(marker) :]
            marker = PREVIEW_MARKER.format(skipped=self._tail_fed - len(kept)).encode()
        kept = tail[len(marker) :]
        return marker.decode() + decode_tail(kept)

    def _keep_tail(self, chunk: bytes) -> None:
        limit = self.preview_bytes
        self._tail_fed += len(chunk)
        if limit <= 0:
            return
        if len(chunk) >= limit:
            self._tail[:] = chunk[-limit:]
            return
        self._tail += chunk
        # Trim only when well past the limit, so a stream of small chunks costs one copy per ~limit bytes.
        if len(self._tail) > 2 * limit:
            del self._tail[:-limit]

    def _preview(self) -> bytes:
        return bytes(self._tail[-self.preview_bytes :]) if self.preview_bytes > 0 else b""

    def _write_log(self, data: bytes) -> None:
        if self._log_fd is None:
            return
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._log_fd, view)
                view = view[written:]
        except OSError as exc:  # disk full, I/O error: keep the run going, stop logging it
            log.warning("cannot write task log %s: %s", self.log_path, exc.strerror, extra={"action": "log"})
            os.close(self._log_fd)
            self._log_fd = None
