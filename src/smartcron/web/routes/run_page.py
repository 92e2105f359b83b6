"""One run's page, ``/executions/{id}``, live while the run is.

Its state (status, elapsed time, the timeout's deadline, exit code, the buttons) is a fragment
re-read on every ``sse:run`` event, like the other live pages. Its output is not a database change,
so while the run is queued or running the page asks ``/partials/executions/{id}/log?after=OFFSET``
once a second for what the log holds beyond what it shows: ``204 No Content`` when nothing is new,
else the new text (appended to the page) and the next offset; once the run has ended and its
output is read to the end, the answer stops the asking. A finished run's page shows its whole log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution
from smartcron.web.auth import Principal, require_viewer
from smartcron.web.livelog import RunOutputReader
from smartcron.web.rendering import render
from smartcron.web.tasklog import make_inert, read_run_log

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Viewer = Annotated[Principal, Depends(require_viewer)]
ExecutionId = Annotated[int, Path(ge=1, le=2**62)]
After = Annotated[int | None, Query(ge=0, le=2**40, description="bytes of the run's output the page already shows")]
RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT})


def _reader(request: Request) -> RunOutputReader:
    reader: RunOutputReader = request.app.state.run_output
    return reader


def run_state_context(request: Request, run: Execution) -> dict[str, Any]:
    """What the state fragment of a run's page shows."""
    task = request.app.state.store.tasks.get_by_id(run.task_id)
    now = request.app.state.clock.now()
    live = not run.status.is_final
    deadline = None
    if live and run.started_at is not None and task.spec.timeout:
        deadline = run.started_at + timedelta(seconds=task.spec.timeout)
    elapsed_ms = (now - run.started_at).total_seconds() * 1000 if live and run.started_at else None
    return {
        "run": run,
        "task": task,
        "live": live,
        "deadline": deadline,
        "elapsed_ms": max(0.0, elapsed_ms) if elapsed_ms is not None else None,
        "retryable": run.status in RETRYABLE,
        "message": None,
    }


def _full_log_context(request: Request, run: Execution) -> dict[str, Any]:
    task = request.app.state.store.tasks.get_by_id(run.task_id)
    log = read_run_log(
        request.app.state.settings.log_dir, category=task.spec.category, name=task.name, execution_id=run.id
    )
    return {"run": run, "log": log, "preview": make_inert(run.output or "")}


@router.get("/executions/{execution_id}")
def execution_page(request: Request, _: Viewer, execution_id: ExecutionId) -> Response:
    run = request.app.state.store.executions.get(execution_id)
    context = run_state_context(request, run)
    if run.status.is_final:
        context |= _full_log_context(request, run) | {"heading": False}
    else:
        task = context["task"]
        tail = _reader(request).tail(
            category=task.spec.category,
            name=task.name,
            execution_id=run.id,
            running=run.status is ExecutionStatus.RUNNING,
        )
        context |= {"tail": tail, "offset": tail.end, "polling": not tail.ended}
    return render(request, "execution.html", context)


@router.get("/partials/executions/{execution_id}/state")
def execution_state_partial(request: Request, _: Viewer, execution_id: ExecutionId) -> Response:
    run = request.app.state.store.executions.get(execution_id)
    return render(request, "partials/run_state.html", run_state_context(request, run))


@router.get("/partials/executions/{execution_id}/log")
def execution_log_partial(request: Request, _: Viewer, execution_id: ExecutionId, after: After = None) -> Response:
    """Without ``after``: the run's whole log (the Runs page's panel). With it: the output beyond
    ``after`` bytes, at most ``livelog.SLICE_BYTES`` per answer."""
    run = request.app.state.store.executions.get(execution_id)  # asked before the log is read
    if after is None:
        return render(request, "partials/log.html", _full_log_context(request, run))
    still_going = not run.status.is_final
    if run.status is ExecutionStatus.SCHEDULED:
        return Response(status_code=204)
    task = request.app.state.store.tasks.get_by_id(run.task_id)
    piece = _reader(request).after(
        category=task.spec.category,
        name=task.name,
        execution_id=run.id,
        offset=after,
        running=still_going,
    )
    grew = piece.end > after
    if still_going and not grew and not piece.ended:
        return Response(status_code=204)
    polling = not piece.ended and (still_going or grew)
    return render(
        request, "partials/log_append.html", {"run": run, "text": piece.text, "offset": piece.end, "polling": polling}
    )
