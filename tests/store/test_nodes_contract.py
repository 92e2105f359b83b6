"""Heartbeats: many processes starting at once all beat for the same (node, role)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from smartcron.store import Store
from tests.conftest import utc

NOW = utc(2026, 3, 1, 9, 30)


def test_concurrent_first_beats_leave_one_row_with_the_newest_time(store: Store) -> None:
    def beat(i: int) -> None:
        store.nodes.beat("box", "tick", now=NOW + timedelta(milliseconds=i), pid=1000 + i)

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(beat, range(40)))
    [only] = store.nodes.all()
    assert (only.name, only.role) == ("box", "tick")
    assert NOW <= only.heartbeat_at <= NOW + timedelta(milliseconds=39)


def test_a_beat_keeps_what_it_does_not_mention(store: Store) -> None:
    store.nodes.beat("box", "runner", now=NOW, pid=42, started_at=NOW, version="1.0", info={"tasks": 3})
    store.nodes.beat("box", "runner", now=NOW + timedelta(seconds=10))
    got = store.nodes.get("box", "runner")
    assert got is not None
    assert (got.pid, got.started_at, got.version, got.info) == (42, NOW, "1.0", {"tasks": 3})
    assert got.heartbeat_at == NOW + timedelta(seconds=10)
    assert store.nodes.latest("runner") == got
