"""Manual runs: ``smartcron tasks run NAME [--wait]`` (and the web's "run now", which only queues).

A manual run is a ``scheduled`` row with trigger ``manual`` (``ExecutionRepository.enqueue``). When a
runner or a tick that may run the task is alive (a fresh heartbeat, marked active), it starts the
row within a second; otherwise the caller runs it in-process through a one-row engine session, so
``tasks run`` works with no runner at all. With ``wait`` the call returns the final row. Manual
runs follow the task's overlap policy like any other row, and are not retried.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timedelta

from smartcron.clock import Clock, SystemClock
from smartcron.config import Settings
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from smartcron.errors import UserError
from smartcron.runner.runlock import daemon_starting_here
from smartcron.runner.scheduling.engine import Engine
from smartcron.runner.scheduling.leases import RUNNER_ROLES
from smartcron.runner.scheduling.recovery import look_after_runs
from smartcron.runner.tick import supervise
from smartcron.services.manual_run import queue_manual_run
from smartcron.store import Store

WAIT_POLL_SECONDS = 0.2
FRESH_MINIMUM_SECONDS = 5.0


def trigger(
    settings: Settings,
    store: Store,
    name: str,
    *,
    wait: bool,
    clock: Clock | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    by: str | None = None,
) -> Execution:
    """Queue a manual run of task ``name``; run it here when no runner is alive. See the module doc.
    With ``by`` (``cli:root``) the run is queued and audited as the dashboard and the API do."""
    clock = clock or SystemClock()
    task = store.tasks.get(name)
    if by is not None:
        execution_id = queue_manual_run(store, task, by=by, now=clock.now())
    else:
        execution_id = store.executions.enqueue(task.id, scheduled_for=clock.now())
    if runner_alive(store, settings, task, clock.now()) or daemon_starting_here(settings):
        if not wait:
            return store.executions.get(execution_id)
        return _wait_for(settings, store, task, execution_id, clock, base_env, cwd)
    if not task.spec.runs_on(settings.node, settings.node_tags):
        if not wait:
            return store.executions.get(execution_id)
        raise UserError(f"task {name!r} runs only on {', '.join(task.spec.nodes)}; no runner there is alive (queued)")
    return run_here(settings, store, execution_id, clock=clock, base_env=base_env, cwd=cwd)


def runner_alive(store: Store, settings: Settings, task: Task, now: datetime) -> bool:
    """A runner or tick that may run ``task`` has beaten recently and said it is active."""
    fresh = timedelta(seconds=max(FRESH_MINIMUM_SECONDS, 3 * settings.runner_heartbeat_interval))
    for beat in store.nodes.all():
        info = beat.info or {}
        tags = [str(tag) for tag in info.get("tags", ())] if isinstance(info.get("tags"), list) else []
        if beat.role not in RUNNER_ROLES or not task.spec.runs_on(beat.name, tags):
            continue
        active = bool(info.get("active", True))
        if active and now - beat.heartbeat_at <= fresh:
            return True
    return False


def run_here(
    settings: Settings,
    store: Store,
    execution_id: int,
    *,
    clock: Clock,
    base_env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Execution:
    """Start one queued row in this process, supervise it to its end, and return the final row."""
    engine = Engine(
        settings,
        store,
        clock=clock,
        role="manual",
        base_env=os.environ if base_env is None else base_env,
        cwd=cwd or os.getcwd(),
    )
    only = {execution_id}
    engine.start()
    try:
        look_after_runs(engine, clock.now(), announced=False)  # a dead runner's row must not block this one
        engine.run_pass(clock.now(), plan=False, only=only)
        supervise(
            engine,
            done=lambda: store.executions.get(execution_id).status.is_final and not engine.has_work(),
            announced=False,
            only=only,
        )
    finally:
        engine.stop(grace=0)
    return store.executions.get(execution_id)


def _wait_for(
    settings: Settings,
    store: Store,
    task: Task,
    execution_id: int,
    clock: Clock,
    base_env: Mapping[str, str] | None,
    cwd: str | None,
) -> Execution:
    while True:
        execution = store.executions.get(execution_id)
        if execution.status.is_final:
            return execution
        unstarted = execution.started_at is None
        here = task.spec.runs_on(settings.node, settings.node_tags)
        if (
            unstarted
            and here
            and not runner_alive(store, settings, task, clock.now())
            and not daemon_starting_here(settings)
        ):
            # The runner went away before starting it: run it here after all.
            return run_here(settings, store, execution_id, clock=clock, base_env=base_env, cwd=cwd)
        clock.sleep(WAIT_POLL_SECONDS)
