"""The scheduling core: planning and claiming slots, starting and recording runs (the ledger and
its recorder), retries, leases and heartbeats, recovery after a crash. The entry points
(:mod:`~smartcron.runner.daemon`, :mod:`~smartcron.runner.tick`, :mod:`~smartcron.runner.manual`)
sit above it; the child processes themselves are :mod:`smartcron.runner.process`'s business."""
