"""Activity charts without rescanning history: buckets that can no longer change are kept.

A bucket of finished runs is settled once its end lies ``SETTLE`` in the past (a runner commits a
run's finish within a second of its finish time). Settled buckets are read from the database once
per dashboard process and kept in memory; every request reads only the unsettled tail (the last few
minutes) through the ``finished_at`` index. A 30-day chart thus costs one scan, once, instead of
one per refresh. Rows deleted by retention are older than anything the charts show.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from smartcron.clock import Clock
from smartcron.store import Store
from smartcron.web.queries import Bucket, activity

SETTLE = timedelta(minutes=5)
KEEP = timedelta(days=92)
MAX_WIDTHS = 6


@dataclass
class _Settled:
    start: int | None = None
    end: int | None = None
    buckets: dict[int, Bucket] = field(default_factory=dict)


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class ActivityCache:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._by_width: OrderedDict[int, _Settled] = OrderedDict()

    def buckets(self, *, since: datetime, until: datetime, width: int) -> list[Bucket]:
        """Non-empty buckets of ``width`` seconds from ``since`` (rounded down) to ``until``."""
        first = _epoch(since) // width * width
        settled_end = min(_epoch(until), _epoch(self._clock.now() - SETTLE)) // width * width
        if settled_end <= first:
            return activity(self._store, since=_at(first), until=until, bucket_seconds=width)
        with self._lock:
            settled = self._settled(width)
            self._extend(settled, first, settled_end, width)
            kept = [settled.buckets[s] for s in range(first, settled_end, width) if s in settled.buckets]
        tail = activity(self._store, since=_at(settled_end), until=until, bucket_seconds=width)
        return kept + tail

    def _settled(self, width: int) -> _Settled:
        settled = self._by_width.pop(width, None) or _Settled()
        self._by_width[width] = settled  # most recently used last
        while len(self._by_width) > MAX_WIDTHS:
            self._by_width.popitem(last=False)
        return settled

    def _extend(self, settled: _Settled, first: int, settled_end: int, width: int) -> None:
        if settled.start is None or settled.end is None or first > settled.end or settled_end < settled.start:
            settled.buckets.clear()  # no overlap with what is kept: start afresh
            self._load(settled, first, settled_end, width)
            settled.start, settled.end = first, settled_end
            return
        if first < settled.start:
            self._load(settled, first, settled.start, width)
            settled.start = first
        if settled_end > settled.end:
            self._load(settled, settled.end, settled_end, width)
            settled.end = settled_end
        horizon = _epoch(self._clock.now() - KEEP)
        if settled.start < horizon:
            settled.buckets = {s: b for s, b in settled.buckets.items() if s >= horizon}
            settled.start = max(settled.start, horizon // width * width)

    def _load(self, settled: _Settled, start: int, end: int, width: int) -> None:
        for bucket in activity(self._store, since=_at(start), until=_at(end), bucket_seconds=width):
            settled.buckets[_epoch(bucket.start)] = bucket
