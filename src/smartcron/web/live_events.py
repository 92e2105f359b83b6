"""What a live page is told, and when: one server-sent event stream per tab (``/events``).

The dashboard is not the runner, so nothing inside this process knows when a run starts. The
database does: :class:`ChangeFeed` reads a small snapshot of it (:mod:`smartcron.store.changes`)
about once a second, shared by every open stream, and each stream sends one event per kind of
change. An event's id is the digest of every kind at that moment, so a browser that reconnects with
``Last-Event-ID`` is told at once about exactly the kinds that changed while it was away.

Kinds (the SSE event names; fragments listen with ``hx-trigger="sse:run"`` and so on):

* ``run``: a run was queued, started or ended;
* ``task``: a task was added, removed, edited, paused or resumed;
* ``alert``: an alert was raised, acknowledged or resolved;
* ``health``: the health monitor recorded a run of its checks;
* ``node``: a runner (or tick, health monitor) appeared, came back, or was lost.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial

import anyio.to_thread
from sse_starlette import ServerSentEvent

from smartcron.clock import Clock
from smartcron.config import Settings
from smartcron.errors import SmartcronError
from smartcron.store import Store
from smartcron.store.changes import StateSnapshot

log = logging.getLogger(__name__)

KINDS = ("run", "task", "alert", "health", "node")
Digests = dict[str, str]
BEAT_EVENT = "beat"


def _digest(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=4).hexdigest()


def alive_nodes(
    heartbeats: tuple[tuple[str, str, datetime], ...],
    *,
    now: datetime,
    runner_lost_after: float,
    other_lost_after: float,
) -> tuple[tuple[str, str], ...]:
    """The (name, role) pairs whose heartbeat is recent enough. A runner is lost when its lease
    would be past (``runner_lease_seconds``); a tick or health monitor beats only when it runs, so it
    counts as lost after ``health_runner_down_after``."""
    return tuple(
        (name, role)
        for name, role, at in heartbeats
        if (now - at).total_seconds() <= (runner_lost_after if role == "runner" else other_lost_after)
    )


def digests_of(snapshot: StateSnapshot, *, now: datetime, settings: Settings) -> Digests:
    """One short digest per kind: equal digests, nothing of that kind changed."""
    alive = alive_nodes(
        snapshot.heartbeats,
        now=now,
        runner_lost_after=settings.runner_lease_seconds,
        other_lost_after=settings.health_runner_down_after,
    )
    return {
        "run": _digest(snapshot.max_execution_id, snapshot.live_runs, snapshot.last_finished_at),
        "task": _digest(snapshot.task_count, snapshot.tasks_updated_at),
        "alert": _digest(snapshot.alert_states, snapshot.max_alert_id),
        "health": _digest(snapshot.max_health_id),
        "node": _digest(alive),
    }


def event_id(digests: Mapping[str, str]) -> str:
    return "-".join(digests[kind] for kind in KINDS)


def parse_event_id(value: str | None) -> Digests | None:
    """The digests an event id carries, or None for no id or one that is not ours."""
    if not value:
        return None
    parts = value.split("-")
    if len(parts) != len(KINDS) or not all(len(p) == 8 and all(c in "0123456789abcdef" for c in p) for p in parts):
        return None
    return dict(zip(KINDS, parts, strict=True))


def changed_kinds(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    return [kind for kind in KINDS if before.get(kind) != after.get(kind)]


class ChangeFeed:
    """The newest digests, read from the database at most once per ``interval`` whatever the number
    of streams: a stream that asks within the interval gets the value the last one read."""

    def __init__(self, store: Store, settings: Settings, clock: Clock, *, interval: float = 1.0) -> None:
        self.interval = interval
        self._store = store
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: Digests | None = None
        self._read_at = 0.0

    def current_sync(self, *, fresh: bool = False) -> Digests:
        """The newest digests; ``fresh`` reads the database even within the interval."""
        with self._lock:
            mono = self._clock.monotonic()
            if fresh or self._cached is None or mono - self._read_at >= self.interval * 0.9:
                snapshot = self._store.changes.snapshot()
                self._cached = digests_of(snapshot, now=self._clock.now(), settings=self._settings)
                self._read_at = mono
            return self._cached

    async def current(self, *, fresh: bool = False) -> Digests:
        return await anyio.to_thread.run_sync(partial(self.current_sync, fresh=fresh))


def _event(kind: str, digests: Digests) -> ServerSentEvent:
    return ServerSentEvent(data=kind, event=kind, id=event_id(digests), sep="\n")


def beat() -> ServerSentEvent:
    """Sent when nothing else was: the page knows its stream is alive (``static/js/app.js``)."""
    return ServerSentEvent(data="", event=BEAT_EVENT, sep="\n")


async def event_stream(
    feed: ChangeFeed,
    last_event_id: str | None,
    *,
    still_allowed: Callable[[], Awaitable[bool]] | None = None,
    recheck_every: float = 30.0,
) -> AsyncIterator[ServerSentEvent]:
    """Events from now on; first, for a reconnecting browser, one per kind that changed since its
    last event id, or a ``ready`` event carrying the current id.

    ``still_allowed`` is asked every ``recheck_every`` seconds whether the login that opened the
    stream still holds (the user may have been removed, or their password changed, since): the
    stream ends when it does not, and the browser's reconnect then meets the login page."""
    try:
        current = await feed.current(fresh=True)  # a tab that comes back is told what it missed at once
    except SmartcronError as exc:
        log.warning("live events unavailable: %s", exc.message, extra={"action": "events"})
        return
    before = parse_event_id(last_event_id)
    missed = changed_kinds(before, current) if before is not None else []
    for kind in missed:
        yield _event(kind, current)
    if not missed:
        yield _event("ready", current)
    next_check = anyio.current_time() + recheck_every
    while True:
        await anyio.sleep(feed.interval)
        if still_allowed is not None and anyio.current_time() >= next_check:
            if not await still_allowed():
                return
            next_check = anyio.current_time() + recheck_every
        try:
            newest = await feed.current()
        except SmartcronError as exc:  # the browser reconnects (and shows the page stale meanwhile)
            log.warning("live events interrupted: %s", exc.message, extra={"action": "events"})
            return
        for kind in changed_kinds(current, newest):
            yield _event(kind, newest)
        current = newest
