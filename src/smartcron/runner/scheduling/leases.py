"""The periodic chores of a live runner (daemon or tick): heartbeat, leases, rows of dead runners.

Every ``runner_heartbeat_interval`` a runner writes its heartbeat (DESIGN 3.11), extends the
leases of the rows it runs, kills any run whose row another node has ended meanwhile (it lost its
lease: DESIGN 9, "a node that lost its lease kills its child and writes nothing"), ends the rows
of runners that died and takes up the retries they owed (``runner.recovery``).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from smartcron import __version__
from smartcron.domain.enums import ExecutionStatus
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.recovery import (
    OVERDUE_RETRY,
    recall_owed_retries,
    reclaim_stale_nodes,
    recover_own_rows,
)

log = logging.getLogger(__name__)

LOST_LEASE_REASON = "lost lease"


def heartbeat(engine: Engine, now: datetime, *, active: bool = True) -> None:
    """``active`` False says the runner is going away (manual runs then do not wait for it)."""
    engine.store.nodes.beat(
        engine.node,
        engine.role,
        now=now,
        pid=os.getpid(),
        started_at=engine.started_at,
        version=__version__,
        info={"active": active, "running": len(engine.supervisor.running()), "tags": list(engine.tags)},
    )


def renew_leases(engine: Engine, now: datetime) -> None:
    """Extend the leases of our running rows; kill runs whose row another node has ended."""
    until = now + timedelta(seconds=engine.settings.runner_lease_seconds)
    contexts = engine.supervised()
    tokens = {engine.lease_token} | {c.token for c in contexts.values() if c.token}
    for token in tokens:
        engine.store.executions.renew_leases(node=engine.node, token=token, until=until)
    supervised = engine.supervisor.running()
    if not supervised:
        return
    live = {row.id: row for row in engine.store.executions.live(node=engine.node, status=ExecutionStatus.RUNNING)}
    for execution_id in supervised:
        context = contexts.get(execution_id)
        row = live.get(execution_id)
        if context is not None and (row is None or row.lease_token != context.token):
            log.warning("lease lost: killing", extra={"execution": execution_id, "action": "kill"})
            engine.supervisor.kill(execution_id, LOST_LEASE_REASON)


def maintain(engine: Engine, now: datetime, *, heartbeat_too: bool) -> None:
    """All the chores at once, as the loops call them every heartbeat interval. Only a runner that
    announces itself (``heartbeat_too``: the daemon, a tick) takes up the retries other runners
    owed; a manual run done in-process does not."""
    if heartbeat_too:
        heartbeat(engine, now)
    renew_leases(engine, now)
    recover_own_rows(engine, now, startup=False)
    reclaim_stale_nodes(engine, now)
    if heartbeat_too:
        recall_owed_retries(engine, now, overdue=OVERDUE_RETRY)
