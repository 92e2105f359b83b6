"""Writing the outcomes a runner of this node left in the spool (``spool``), before anything else.

A runner that stopped or died while its database was away left outcomes on disk. The next runner
of the node (daemon or tick) hands them to its ledger at start, before recovery looks at the
node's rows, so a run that ended with a known outcome is recorded with it (and its real finish
time) rather than as ``unknown_outcome``. Each is written under its own lease token: a run that
another node took over meanwhile is not written (the fence), and its spool file goes either way.
"""

from __future__ import annotations

import logging

from smartcron.runner.scheduling.engine import Engine

log = logging.getLogger(__name__)


def replay_spool(engine: Engine) -> int:
    """Hand every spooled outcome to the ledger, and write the runs ``smartcron exec`` kept while
    the database was away; returns how many outcomes there were."""
    from smartcron.runner.wrapped import write_unrecorded

    write_unrecorded(engine.store, engine.settings)
    spool = engine.recorder.spool
    entries = spool.load() if spool is not None else []
    if not entries:
        return 0
    rows = {row.id: row for row in engine.store.executions.by_ids(entry.execution_id for entry in entries)}
    tasks = engine.store.tasks.by_ids(row.task_id for row in rows.values())
    handed = 0
    for entry in entries:
        row = rows.get(entry.execution_id)
        task = tasks.get(row.task_id) if row is not None else None
        if row is None or task is None or row.status.is_final:
            assert spool is not None
            spool.remove([entry.execution_id])  # its row is gone or ended: nothing left to write
            continue
        context = engine.ledger.open(row, task, entry.token, attached=True)
        engine.ledger.submit(context, entry.outcome, spooled=True)
        handed += 1
    log.info("writing %d outcome(s) kept in the spool", handed, extra={"action": "record"})
    return handed
