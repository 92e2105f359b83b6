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
