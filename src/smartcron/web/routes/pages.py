"""Server-rendered pages. Each full page has a ``/partials/...`` twin that htmx fetches again when
the page's event stream says something it shows has changed; with JavaScript off the pages read
the same and a reload refreshes them. Filters live in the URL (``/?status=failing&q=vend``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.errors import UserError
from smartcron.web import queries, task_filter
from smartcron.web.alert_view import open_alert_count
from smartcron.web.auth import Principal, require_admin, require_viewer
from smartcron.web.panels import alert_center, health_panel
from smartcron.web.rendering import render
from smartcron.web.schedule_view import describe_schedule, next_fire_times
from smartcron.web.task_filter import TaskFilter
from smartcron.web.why_view import explain_recent

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Viewer = Annotated[Principal, Depends(require_viewer)]
Admin = Annotated[Principal, Depends(require_admin)]
TaskName = Annotated[str, Path(min_length=1, max_length=128)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
Before = Annotated[int | None, Query(ge=1, le=2**62)]
StatusFilter = Annotated[str | None, Query(max_length=32)]
RECENT_LIMIT = 50


def _grid_context(
    request: Request, category: str | None, q: str | None, status: str | None, offset: int
) -> dict[str, Any]:
    store = request.app.state.store
    state = request.app.state
    now = state.clock.now()
    wanted = TaskFilter.parse(status)
    page = queries.task_grid(
        store,
        now=now,
        category=category,
        search=q,
        offset=offset,
        successes=state.success_window,
        status=task_filter.condition(wanted, now) if wanted else None,
    )
    return {
        "page": page,
        "filters": {"category": category or "", "q": q or "", "status": wanted.value if wanted else ""},
        "task_filters": list(TaskFilter),
        "summary": task_filter.summary(store, now),
        "categories": queries.categories(store),
        "running": queries.running_task_ids(store),
    }


@router.get("/")
def grid(
    request: Request,
    _: Viewer,
    category: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=128)] = None,
    status: StatusFilter = None,
    offset: Offset = 0,
) -> Response:
    return render(request, "grid.html", _grid_context(request, category, q, status, offset))


@router.get("/partials/grid")
def grid_partial(
    request: Request,
    _: Viewer,
    category: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=128)] = None,
    status: StatusFilter = None,
    offset: Offset = 0,
) -> Response:
    return render(request, "partials/grid.html", _grid_context(request, category, q, status, offset))


def _status_filter(value: str | None) -> ExecutionStatus | None:
    """The Runs form sends ``status=`` for "any"."""
    if not value:
        return None
    try:
        return ExecutionStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in ExecutionStatus)
        raise UserError(f"status {value[:40]!r}: expected one of {known}") from None


class RunFilters:
    """The Runs page's filters beside the task name: status, trigger and time range."""

    def __init__(
        self,
        status: Annotated[str | None, Query(max_length=40)] = None,
        trigger: Annotated[str | None, Query(max_length=40)] = None,
        within: Annotated[str | None, Query(max_length=8)] = None,
    ) -> None:
        self.status, self.trigger, self.within = status, trigger, within


WITHIN = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
"""The time ranges the Runs page offers: slots of the last hour, day, week or month."""


def _choice(field: str, value: str | None, known: Sequence[str]) -> str | None:
    """A filter's value, None for "any" (the form sends it empty); UserError naming the field."""
    if not value:
        return None
    if value not in known:
        raise UserError(f"{field} {value[:40]!r}: expected one of {', '.join(known)}")
    return value


def _executions_context(request: Request, task: str | None, filters: RunFilters, before: int | None) -> dict[str, Any]:
    store = request.app.state.store
    wanted = _status_filter(filters.status)
    trigger = _choice("trigger", filters.trigger, [t.value for t in Trigger])
    within = _choice("within", filters.within, list(WITHIN))
    since = request.app.state.clock.now() - WITHIN[within] if within else None
    runs = queries.runs_of_tasks_named_like(
        store,
        task,
        status=wanted,
        trigger=Trigger(trigger) if trigger else None,
        since=since,
        limit=RECENT_LIMIT,
        before_id=before,
    )
    return {
        "runs": runs,
        "filters": {
            "task": task or "",
            "status": wanted.value if wanted else "",
            "trigger": trigger or "",
            "within": within or "",
        },
        "statuses": [s.value for s in ExecutionStatus],
        "triggers": [t.value for t in Trigger],
        "withins": list(WITHIN),
        "next_before": runs[-1].id if len(runs) == RECENT_LIMIT else None,
        "before": before,
    }


@router.get("/executions")
def executions(
    request: Request,
    _: Viewer,
    filters: Annotated[RunFilters, Depends()],
    task: Annotated[str | None, Query(max_length=128)] = None,
    before: Before = None,
) -> Response:
    return render(request, "executions.html", _executions_context(request, task, filters, before))


@router.get("/partials/executions")
def executions_partial(
    request: Request,
    _: Viewer,
    filters: Annotated[RunFilters, Depends()],
    task: Annotated[str | None, Query(max_length=128)] = None,
    before: Before = None,
) -> Response:
    return render(request, "partials/executions.html", _executions_context(request, task, filters, before))


def _task_context(request: Request, name: str) -> dict[str, Any]:
    state = request.app.state
    task = state.store.tasks.get(name)
    now = state.clock.now()
    zone = task.spec.timezone or state.settings.timezone
    counts = state.success_window.counts([task.id], since=now - queries.SUCCESS_WINDOW)
    runs_7d, successes_7d = counts.get(task.id, (0, 0))
    return {
        "task": task,
        "spec": task.spec.to_dict(),
        "zone": zone,
        "words": describe_schedule(task.spec.schedule, task_name=task.name),
        "fire_times": next_fire_times(task.spec.schedule, zone, now, task_name=task.name),
        "history": queries.task_history(state.store, task.id, limit=RECENT_LIMIT),
        "success_rate": successes_7d / runs_7d if runs_7d else None,
        "runs_7d": runs_7d,
        "now": now,
    }


@router.get("/tasks/{name}")
def task_page(request: Request, _: Viewer, name: TaskName) -> Response:
    context = _task_context(request, name)
    context["why"] = explain_recent(request.app.state, context["task"], context["now"])
    return render(request, "task.html", context)


@router.get("/partials/tasks/{name}")
def task_partial(request: Request, _: Viewer, name: TaskName) -> Response:
    return render(request, "partials/task_live.html", _task_context(request, name))


@router.get("/health")
def health(request: Request, _: Viewer) -> Response:
    return render(request, "health.html", health_panel(request))


@router.get("/partials/health")
def health_partial(request: Request, _: Viewer) -> Response:
    return render(request, "partials/health.html", health_panel(request))


@router.get("/alerts")
def alerts(request: Request, _: Viewer, before: Before = None) -> Response:
    return render(request, "alerts.html", alert_center(request, before))


@router.get("/partials/alerts")
def alerts_partial(request: Request, _: Viewer) -> Response:
    return render(request, "partials/alerts.html", alert_center(request, None))


@router.get("/partials/alert-history")
def alert_history_partial(request: Request, _: Viewer) -> Response:
    return render(request, "partials/alert_history.html", alert_center(request, None))


@router.get("/partials/alert-count")
def alert_count_partial(request: Request, _: Viewer) -> Response:
    return render(request, "partials/alert_count.html", {"open_alerts": open_alert_count(request.app.state.store)})


@router.get("/charts")
def charts(
    request: Request, _: Viewer, hours: Annotated[int | None, Query(ge=1, le=queries.CHART_RANGES[-1])] = None
) -> Response:
    store = request.app.state.store
    chosen = hours or queries.fitted_chart_hours(store, request.app.state.clock.now())
    ranges = sorted({*queries.CHART_RANGES, chosen})  # a range from the URL is offered beside the usual ones
    context = {"metric_names": store.metrics.names(), "hours": chosen, "ranges": ranges}
    return render(request, "charts.html", context)


@router.get("/audit")
def audit(request: Request, _: Admin, before: Before = None) -> Response:
    entries = request.app.state.store.audit.list(limit=100, before_id=before)
    return render(
        request, "audit.html", {"entries": entries, "next_before": entries[-1].id if len(entries) == 100 else None}
    )
