"""Clocks. Pure code takes ``now``; loops receive a :class:`Clock` so tests can drive time."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current wall-clock time, aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; only differences mean anything."""
        ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Sleep on the monotonic clock; return True early when ``wake`` is set."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return bool(wake and wake.is_set())
        if wake is None:
            time.sleep(seconds)
            return False
        return wake.wait(seconds)


class OffsetClock:
    """The system clock with its wall time shifted by the number of seconds written in a file: how
    the fault tests step a real daemon's clock (``clock_offset_file`` setting). The file is read
    again at most every ``REREAD_SECONDS``; a missing or unreadable file means no shift. The
    monotonic clock is never shifted, as a real clock step leaves it alone too."""

    REREAD_SECONDS = 0.05

    def __init__(self, path: str) -> None:
        self._path = path
        self._offset = timedelta(0)
        self._read_at = float("-inf")
        self._lock = threading.Lock()
        self._base = SystemClock()

    def _current_offset(self) -> timedelta:
        mono = time.monotonic()
        with self._lock:
            if mono - self._read_at >= self.REREAD_SECONDS:
                self._read_at = mono
                try:
                    with open(self._path, encoding="ascii") as source:
                        self._offset = timedelta(seconds=float(source.read().strip() or 0))
                except (OSError, ValueError):
                    self._offset = timedelta(0)
            return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self._current_offset()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        return self._base.sleep(seconds, wake)


def system_clock(offset_file: str = "") -> Clock:
    """The clock a command runs on: the system's, or (fault tests) one shifted by ``offset_file``."""
    return OffsetClock(offset_file) if offset_file else SystemClock()


class FakeClock:
    """A clock that only moves when told to; ``sleep`` advances it instantly."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 1000.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._mono += seconds

    def set(self, when: datetime) -> None:
        """Jump the wall clock (the monotonic clock moves by the same amount, never back)."""
        with self._lock:
            delta = (when.astimezone(UTC) - self._now).total_seconds()
            self._now = when.astimezone(UTC)
            self._mono += max(0.0, delta)

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        if wake is not None and wake.is_set():
            return True
        self.advance(max(0.0, seconds))
        return bool(wake and wake.is_set())


def utcnow() -> datetime:
    """For the edges only (CLI, web); pure code takes ``now`` as an argument."""
    return datetime.now(UTC)
