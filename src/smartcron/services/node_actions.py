"""Draining a runner, from the dashboard, the API or the command line: one rule, one audit entry
(action ``node.drain``, target the node's name)."""

from __future__ import annotations

from smartcron.errors import NotFoundError
from smartcron.store import Store


def drain_node(store: Store, name: str, *, by: str) -> None:
    """Ask runner ``name`` to drain, as ``by`` (``web:alice``, ``cli:root``): at its next heartbeat
    it stops claiming, leaves its queued runs to the other runners, finishes what runs and exits 0.
    Asking again changes nothing but the time and who asked. ``NotFoundError`` for a name no
    runner ever reported under."""
    now = store.database_now()
    if not store.nodes.request_drain(name, by=by, now=now):
        raise NotFoundError(f"no runner named {name!r} has ever reported (see `smartcron nodes`)")
    store.audit.record(by, "node.drain", name, {}, now=now)


DRAIN_MESSAGE = "asked {name} to drain: it claims nothing more, finishes what runs, then stops"
