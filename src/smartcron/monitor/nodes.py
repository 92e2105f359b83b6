"""The runners of an installation as people look at them: ``smartcron nodes``, the dashboard, health.

One :class:`NodeView` per runner (a daemon, or a tick while it runs), read from its heartbeat and
from the rows it runs, judged by the database's clock:

* ``active``: it beats and claims;
* ``draining``: asked to drain (``smartcron nodes drain``), it claims nothing new and finishes
  what runs, then stops;
* ``lost``: its heartbeat is older than its lease, so the other runners take its runs over;
* ``stopped``: its last heartbeat said it was going away.

Health adds two checks from the same views: a node lost with runs still recorded as running, and
a node whose clock is more than ``SKEW_LIMIT`` from the database's (DESIGN 9: skew is reported,
never trusted; slots and leases follow the database's clock either way).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from smartcron.config import Settings
from smartcron.domain.enums import CheckStatus, ExecutionStatus
from smartcron.domain.health import CheckResult
from smartcron.store import Store
from smartcron.store.nodes import Heartbeat

RUNNER_ROLES = ("runner", "tick")
SKEW_LIMIT = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    role: str
    state: str
    tags: tuple[str, ...]
    version: str | None
    host: str | None
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime
    heartbeat_age: float
    """Seconds since its last heartbeat, by the database's clock."""
    clock_offset_ms: int | None
    """Its own clock minus the database's when it last beat (positive: ahead)."""
    running: int
    """Its rows recorded ``running``."""
    lease_expires_at: datetime | None
    """The latest lease among those rows."""
    drain_requested_by: str | None

    @property
    def skewed(self) -> bool:
        return self.clock_offset_ms is not None and abs(self.clock_offset_ms) > SKEW_LIMIT.total_seconds() * 1000

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["skewed"] = self.skewed
        return data


def _state(beat: Heartbeat, age: float, lease: float) -> str:
    info = beat.info or {}
    if not info.get("active", True):
        return "stopped"
    if age > lease:
        return "lost"
    if beat.drain_requested_at is not None or info.get("state") == "draining":
        return "draining"
    return "active"


def node_views(store: Store, settings: Settings, now: datetime) -> list[NodeView]:
    """Every runner that ever beat, newest heartbeat first; ``now`` by the database's clock."""
    running = store.executions.live(status=ExecutionStatus.RUNNING)
    counts = Counter(row.node for row in running)
    leases: dict[str, datetime] = {}
    for row in running:
        if row.node is not None and row.lease_expires_at is not None:
            leases[row.node] = max(leases.get(row.node, row.lease_expires_at), row.lease_expires_at)
    views = []
    for beat in store.nodes.all():
        if beat.role not in RUNNER_ROLES:
            continue
        info = beat.info or {}
        age = max(0.0, (now - beat.heartbeat_at).total_seconds())
        lease = float(info.get("lease_seconds") or settings.runner_lease_seconds)
        offset = info.get("clock_offset_ms")
        views.append(
            NodeView(
                name=beat.name,
                role=beat.role,
                state=_state(beat, age, lease),
                tags=tuple(str(tag) for tag in info.get("tags") or ()),
                version=beat.version,
                host=info.get("host"),
                pid=beat.pid,
                started_at=beat.started_at,
                heartbeat_at=beat.heartbeat_at,
                heartbeat_age=round(age, 1),
                clock_offset_ms=int(offset) if isinstance(offset, int | float) else None,
                running=counts.get(beat.name, 0),
                lease_expires_at=leases.get(beat.name),
                drain_requested_by=beat.drain_requested_by,
            )
        )
    return views


def check_clock_skew(views: Sequence[NodeView]) -> CheckResult:
    """WARN when a live node's clock is more than SKEW_LIMIT away from the database's."""
    live = [view for view in views if view.state in ("active", "draining")]
    skewed = [view for view in live if view.skewed]
    worst = max((abs(view.clock_offset_ms or 0) for view in live), default=0)
    if not skewed:
        return CheckResult(
            "clock_skew", CheckStatus.OK, worst / 1000, "every live node's clock agrees with the database's"
        )
    names = ", ".join(f"{view.name} ({(view.clock_offset_ms or 0) / 1000:+.1f} s)" for view in skewed)
    return CheckResult(
        "clock_skew",
        CheckStatus.WARN,
        worst / 1000,
        f"clock off the database's by more than {SKEW_LIMIT.total_seconds():g} s on: {names} "
        "(slots and leases follow the database's clock; fix NTP on those machines)",
    )


def check_lost_nodes(views: Sequence[NodeView]) -> CheckResult:
    """WARN for nodes that stopped beating with runs still recorded as theirs."""
    lost = [view for view in views if view.state == "lost" and view.running]
    if not lost:
        return CheckResult("lost_nodes", CheckStatus.OK, 0, "no lost node holds runs")
    names = ", ".join(f"{view.name} ({view.running} run(s))" for view in lost)
    return CheckResult(
        "lost_nodes",
        CheckStatus.WARN,
        float(len(lost)),
        f"lost node(s) still holding runs: {names}; a live runner takes them over",
    )
