"""The JSON API under ``/api/v1``: the same data and actions as the pages, for scripts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.openapi.models import Example

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.task import TaskOrigin
from smartcron.errors import ConflictError, TaskSpecError
from smartcron.web import queries
from smartcron.web.actions import Actions
from smartcron.web.auth import Principal, require_admin, require_operator, require_viewer
from smartcron.web.panels import scorecard_or_reason, scorecard_rows
from smartcron.web.routes.api_models import (
    ActivityOut,
    BucketOut,
    CheckOut,
    ExecutionOut,
    ExecutionPage,
    FireTimeOut,
    HealthOut,
    HeartbeatOut,
    IndicatorOut,
    LogOut,
    PointOut,
    QueuedOut,
    SeriesOut,
    TaskDetail,
    TaskOut,
    TaskPage,
    TaskStateOut,
)
from smartcron.web.schedule_view import describe_schedule, next_fire_times
from smartcron.web.tasklog import read_run_log

ERRORS = {
    401: {"description": "No valid session or token"},
    403: {"description": "Not allowed for this role, or a missing CSRF token"},
    404: {"description": "No such object"},
}
router = APIRouter(prefix="/api/v1", tags=["api"], responses=ERRORS)  # type: ignore[arg-type]
Viewer = Annotated[Principal, Depends(require_viewer)]
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]
TaskName = Annotated[str, Path(min_length=1, max_length=128)]
Id = Annotated[int, Path(ge=1, le=2**62)]
MAX_HOURS = 24 * 90


@router.get("/tasks", response_model=TaskPage, summary="List tasks with their last run and 7-day success rate")
def list_tasks(
    request: Request,
    _: Viewer,
    category: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=128, description="part of a name or description")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 100,
) -> TaskPage:
    state = request.app.state
    page = queries.task_grid(
        state.store,
        now=state.clock.now(),
        category=category,
        search=q,
        offset=offset,
        limit=limit,
        successes=state.success_window,
    )
    items = [TaskOut.of(row.task, row.runs_7d, row.successes_7d) for row in page.rows]
    return TaskPage(items=items, total=page.total, offset=page.offset, limit=page.limit)


@router.get("/tasks/{name}", response_model=TaskDetail, summary="One task: settings, schedule, next runs")
def get_task(request: Request, _: Viewer, name: TaskName) -> TaskDetail:
    state = request.app.state
    task = state.store.tasks.get(name)
    now = state.clock.now()
    runs, successes = state.success_window.counts([task.id], since=now - queries.SUCCESS_WINDOW).get(task.id, (0, 0))
    fire = next_fire_times(task.spec.schedule, task.spec.timezone or state.settings.timezone, now, task_name=task.name)
    return TaskDetail(
        task=TaskOut.of(task, runs, successes),
        spec=task.spec.to_dict(),
        schedule_in_words=describe_schedule(task.spec.schedule, task_name=task.name),
        next_runs=[]
        if isinstance(fire, str)
        else [FireTimeOut(utc=f.utc, local=f.local.isoformat(), dst_change=f.dst_change) for f in fire],
        next_runs_unavailable=fire if isinstance(fire, str) else None,
    )


@router.post("/tasks/{name}/run", response_model=QueuedOut, status_code=202, summary="Queue a run now")
async def run_task(request: Request, principal: Operator, name: TaskName) -> QueuedOut:
    queued = Actions(request.app.state.store, request.app.state.settings, principal).run_now(name)
    return QueuedOut(task=queued.task, execution_id=queued.execution_id)


@router.post("/tasks/{name}/pause", response_model=TaskStateOut, summary="Pause a task (no new runs)")
async def pause_task(request: Request, principal: Operator, name: TaskName) -> TaskStateOut:
    task = Actions(request.app.state.store, request.app.state.settings, principal).pause(name)
    return TaskStateOut(task=task.name, paused=task.paused, next_run_at=task.next_run_at)


@router.post("/tasks/{name}/resume", response_model=TaskStateOut, summary="Resume a paused task")
async def resume_task(request: Request, principal: Operator, name: TaskName) -> TaskStateOut:
    task = Actions(request.app.state.store, request.app.state.settings, principal).resume(name)
    return TaskStateOut(task=task.name, paused=task.paused, next_run_at=task.next_run_at)


EDIT_EXAMPLES: dict[str, Example] = {
    "schedule": {"summary": "A new schedule and timeout", "value": {"schedule": "*/10 * * * *", "timeout": 120}},
    "disable": {"summary": "Turn a task off", "value": {"enabled": False}},
}


@router.patch(
    "/tasks/{name}",
    response_model=TaskOut,
    summary="Change some task-file keys of a task (admin)",
    responses={422: {"description": "A key is unknown or its value is not valid; the detail names it"}},
)
async def edit_task(
    request: Request,
    principal: Admin,
    name: TaskName,
    changes: Annotated[dict[str, Any], Body(openapi_examples=EDIT_EXAMPLES)],
) -> TaskOut:
    """The keys given are checked exactly like a task-file entry, the others stay as they are
    (422 naming the field for a bad value, as `POST /tasks` answers). Audited as `task.edit`."""
    state = request.app.state
    try:
        task = Actions(state.store, state.settings, principal).edit(name, changes)
    except TaskSpecError as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None
    since = state.clock.now() - queries.SUCCESS_WINDOW
    runs, successes = state.success_window.counts([task.id], since=since).get(task.id, (0, 0))
    return TaskOut.of(task, runs, successes)


TASK_EXAMPLES: dict[str, Example] = {
    "argv": {
        "summary": "A command as an argument list",
        "value": {
            "name": "sync_vend_inventory",
            "category": "vend",
            "command": ["php", "/var/www/jobs/sync_vend_inventory.php"],
            "schedule": "*/30 * * * *",
            "timezone": "Pacific/Auckland",
            "timeout": 300,
            "retries": 3,
        },
    },
    "shell": {
        "summary": "A shell command line",
        "value": {"name": "daily_report", "command": "report.sh | mail ops", "shell": True, "schedule": "@daily"},
    },
}


@router.post(
    "/tasks",
    response_model=TaskOut,
    status_code=201,
    summary="Register a task from task-file keys (admin)",
    responses={
        409: {"description": "A task with this name already exists"},
        422: {"description": "A key is unknown or its value is not valid; the detail names it"},
    },
)
async def create_task(
    request: Request,
    principal: Admin,
    fields: Annotated[dict[str, Any], Body(openapi_examples=TASK_EXAMPLES)],
) -> TaskOut:
    """The body holds the keys of one `[[task]]` entry of a task file (see the task-file
    reference): `name`, `command` and `schedule` are required, every other key takes its default.
    It is checked exactly like a task file entry. The task's origin is `api`, so `tasks apply
    --prune` removes it only with `--yes`. Audited as `task.add`."""
    state = request.app.state
    try:
        task = Actions(state.store, state.settings, principal).create(fields, origin=TaskOrigin.API)
    except ConflictError:
        raise
    except TaskSpecError as exc:
        raise HTTPException(status_code=422, detail=exc.message) from None
    return TaskOut.of(task, 0, 0)


@router.delete(
    "/tasks/{name}",
    status_code=204,
    summary="Unregister a task and its run history (admin)",
    responses={409: {"description": "The task was declared in a task file and `force` is not set"}},
)
async def delete_task(
    request: Request,
    principal: Admin,
    name: TaskName,
    force: Annotated[
        bool, Query(description="also remove a task declared in a task file (its next `tasks apply` adds it back)")
    ] = False,
) -> Response:
    """Removes the task with its runs, as `smartcron tasks remove` does. A built-in task is
    refused (422: disable it instead). A task declared in a task file is refused (409) unless
    `?force=true`: the next `smartcron tasks apply` of that file would register it again, so it
    belongs removed from the file. Audited as `task.remove`."""
    state = request.app.state
    try:
        Actions(state.store, state.settings, principal).delete(name, force=force)
    except ConflictError as exc:
        raise ConflictError(f"{exc.message} with ?force=true") from None
    return Response(status_code=204)


@router.get(
    "/executions",
    response_model=ExecutionPage,
    summary="Runs, newest first (by id; a task's runs by slot), paged with `before`",
)
def list_executions(
    request: Request,
    _: Viewer,
    task: Annotated[str | None, Query(max_length=128)] = None,
    status: ExecutionStatus | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="the last run of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
) -> ExecutionPage:
    store = request.app.state.store
    if task:
        task_id = store.tasks.get(task).id
        runs = queries.task_history(store, task_id, status=status, limit=limit, before_id=before)
    else:
        runs = store.executions.list(status=status, limit=limit, before_id=before)
    return ExecutionPage(
        items=[ExecutionOut.of(run) for run in runs], next_before=runs[-1].id if len(runs) == limit else None
    )


@router.get("/executions/{execution_id}", response_model=ExecutionOut, summary="One run")
def get_execution(request: Request, _: Viewer, execution_id: Id) -> ExecutionOut:
    return ExecutionOut.of(request.app.state.store.executions.get(execution_id))


@router.get("/executions/{execution_id}/log", response_model=LogOut, summary="A run's full output from its log")
def get_execution_log(request: Request, _: Viewer, execution_id: Id) -> LogOut:
    state = request.app.state
    run = state.store.executions.get(execution_id)
    task = state.store.tasks.get_by_id(run.task_id)
    log = read_run_log(state.settings.log_dir, category=task.spec.category, name=task.name, execution_id=run.id)
    return LogOut(execution_id=run.id, found=log.found, truncated=log.truncated, text=log.text)


@router.post(
    "/executions/{execution_id}/cancel",
    response_model=ExecutionOut,
    summary="Cancel a queued or running run",
    responses={409: {"description": "The run has already ended"}},
)
async def cancel_execution(request: Request, principal: Operator, execution_id: Id) -> ExecutionOut:
    """A queued run ends `cancelled` at once. A running run is marked (`cancel_requested_at`,
    `cancel_requested_by`) and its runner stops its process group at its next lease renewal (TERM,
    the task's grace, KILL), recording `cancelled` with the reason "cancelled by web:WHO". The answer
    is the run as it is now."""
    run = Actions(request.app.state.store, request.app.state.settings, principal).cancel(execution_id)
    return ExecutionOut.of(run)


@router.get("/health", response_model=HealthOut, summary="Latest health checks, runner heartbeats, scorecard")
def health(request: Request, _: Viewer) -> HealthOut:
    state = request.app.state
    now = state.clock.now()
    card, reason = scorecard_or_reason(request)
    rows = scorecard_rows(card)
    return HealthOut(
        checks=[
            CheckOut(
                name=c.name, status=c.status.value, value=c.result.value, message=c.result.message, at=c.at, node=c.node
            )
            for c in state.store.health.latest()
        ],
        heartbeats=[
            HeartbeatOut(
                node=b.name,
                role=b.role,
                heartbeat_at=b.heartbeat_at,
                age_seconds=max(0.0, (now - b.heartbeat_at).total_seconds()),
            )
            for b in state.store.nodes.all()
        ],
        scorecard=None if rows is None else [IndicatorOut(**row) for row in rows],
        scorecard_unavailable=reason,
    )


@router.get("/metrics/{name}", response_model=SeriesOut, summary="A metric's averages over time")
def metric_series(
    request: Request,
    _: Viewer,
    name: Annotated[str, Path(min_length=1, max_length=64)],
    hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24,
    step: Annotated[int, Query(ge=60, le=86400, description="seconds per point")] = 300,
) -> SeriesOut:
    state = request.app.state
    until = state.clock.now()
    since = until - timedelta(hours=hours)
    step = max(step, (hours * 3600) // 2000 + 1)  # at most ~2,000 points whatever is asked
    points = state.store.metrics.series(name, since, until, step)
    return SeriesOut(name=name, step_seconds=step, points=[PointOut(at=p.at, value=p.value) for p in points])


@router.get(
    "/stats/activity",
    response_model=ActivityOut,
    summary="Finished runs, failures and average duration per time bucket",
)
def activity(
    request: Request,
    _: Viewer,
    hours: Annotated[int, Query(ge=1, le=MAX_HOURS)] = 24,
    bucket: Annotated[int, Query(ge=60, le=86400, description="seconds per bucket")] = 60,
) -> ActivityOut:
    state = request.app.state
    until = state.clock.now()
    since = until - timedelta(hours=hours)
    bucket = max(bucket, (hours * 3600) // 2000 + 1)
    found = state.activity.buckets(since=since, until=until, width=bucket)
    filled = queries.fill_buckets(found, since=since, until=until, width=bucket)
    return ActivityOut(
        bucket_seconds=bucket,
        buckets=[
            BucketOut(
                start=b.start,
                runs=b.runs,
                failures=b.failures,
                failure_rate=b.failure_rate,
                avg_duration_ms=b.avg_duration_ms,
            )
            for b in filled
        ],
    )
