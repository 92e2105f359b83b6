"""Form posts from the pages: each one needs its role and the session's CSRF token, does one
thing through ``web.actions`` (or the owning repository), says what happened in a flash message
and sends the browser back to the page it came from (303, so a reload does not repeat it).

Run now, Pause and Resume sent by htmx are answered in place instead: the new rendering of the
element that shows the task (its grid row, or the task page's action bar) and the message in an
``HX-Trigger`` header, so the page keeps its filters and its scroll position."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from smartcron.domain.alert_rules import RuleKind
from smartcron.domain.enums import OverlapPolicy, Severity
from smartcron.errors import ConflictError, UserError
from smartcron.services.cancel import describe_cancel
from smartcron.services.rule_actions import add_alert_rule, remove_alert_rule
from smartcron.web import queries
from smartcron.web.actions import Actions
from smartcron.web.auth import Principal, require_admin, require_operator
from smartcron.web.panels import alert_center
from smartcron.web.rendering import display_time, flash, flash_event, render
from smartcron.web.routes.run_page import RETRYABLE, run_state_context
from smartcron.web.routes.system import safe_next

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]
TaskName = Annotated[str, Path(min_length=1, max_length=128)]
ExecutionId = Annotated[int, Path(ge=1, le=2**62)]
Next = Annotated[str, Form(max_length=2000)]


def _back(next_url: str) -> Response:
    return RedirectResponse(safe_next(next_url), status_code=303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _actions(request: Request, principal: Principal) -> Actions:
    return Actions(request.app.state.store, request.app.state.settings, principal)


def _task_answer(
    request: Request, name: str, next_url: str, message: str, link: tuple[str, str] | None = None
) -> Response:
    """In place for htmx (the element named by ``HX-Target``), else a flash and back."""
    target = request.headers.get("hx-target") or ""
    if not request.headers.get("hx-request") or not (target.startswith("task-row-") or target == "task-actions"):
        flash(request, message, link=link)
        return _back(next_url)
    state = request.app.state
    task = state.store.tasks.get(name)
    context = {"back": safe_next(next_url), "task": task}
    if target == "task-actions":
        answer = render(request, "partials/task_actions.html", context)
    else:
        row = queries.grid_row(task, state.success_window, now=state.clock.now())
        answer = render(
            request, "partials/grid_row.html", context | {"row": row, "running": queries.running_task_ids(state.store)}
        )
    answer.headers["HX-Trigger"] = flash_event(message, link)
    return answer


@router.post("/tasks/{name}/run")
async def run_task(request: Request, principal: Operator, name: TaskName, next: Next = "/") -> Response:
    queued = _actions(request, principal).run_now(name)
    run = queued.execution_id
    message = f"Queued a run of {name} (#{run}); the runner starts it within a second."
    return _task_answer(request, name, next, message, (f"/executions/{run}", f"open run #{run}"))


@router.post("/tasks/{name}/pause")
async def pause_task(request: Request, principal: Operator, name: TaskName, next: Next = "/") -> Response:
    _actions(request, principal).pause(name)
    return _task_answer(request, name, next, f"Paused {name}.")


@router.post("/tasks/{name}/resume")
async def resume_task(request: Request, principal: Operator, name: TaskName, next: Next = "/") -> Response:
    _actions(request, principal).resume(name)
    return _task_answer(request, name, next, f"Resumed {name}.")


@router.post("/executions/{execution_id}/cancel")
async def cancel_execution(request: Request, principal: Operator, execution_id: ExecutionId) -> Response:
    """Cancel a queued or running run. From the run's page (htmx) the answer is its new state;
    otherwise a flash message and back to the run's page."""
    try:
        run = _actions(request, principal).cancel(execution_id)
        message = _sentence(describe_cancel(run))
    except ConflictError as exc:
        if not request.headers.get("hx-request"):
            raise
        run, message = request.app.state.store.executions.get(execution_id), _sentence(exc.message)
    if request.headers.get("hx-request"):
        return render(request, "partials/run_state.html", run_state_context(request, run) | {"message": message})
    flash(request, message)
    return _back(f"/executions/{execution_id}")


@router.post("/executions/{execution_id}/rerun")
async def rerun_execution(request: Request, principal: Operator, execution_id: ExecutionId) -> Response:
    """ "Run again" (a queued or running run) and "Retry" (a failed or timed-out one): both queue a
    new manual run of the task, as Run now does."""
    run, queued = _actions(request, principal).run_again(execution_id)
    if run.status in RETRYABLE:
        message = (
            f"Retry of run #{run.id}: queued a manual run of {run.task_name} (#{queued.execution_id}), "
            "a new run as Run now makes, not one of the task's automatic retries."
        )
    else:
        message = f"Queued another run of {run.task_name} (#{queued.execution_id}); " + _when_it_starts(
            request.app.state.store.tasks.get(run.task_name).spec.overlap, busy=not run.status.is_final
        )
    flash(request, message, link=(f"/executions/{queued.execution_id}", f"open run #{queued.execution_id}"))
    return _back(f"/executions/{execution_id}")


def _when_it_starts(overlap: OverlapPolicy, *, busy: bool) -> str:
    """When a manual run queued beside a live one starts, by the task's overlap policy."""
    if not busy or overlap is OverlapPolicy.ALLOW:
        return "the runner starts it shortly."
    if overlap is OverlapPolicy.REPLACE:
        return "the task's overlap policy is replace: it stops the running run and takes its place."
    return "it starts when the task's current run has ended."


EDITABLE_TEXT = ("description", "schedule", "timezone")
EDITABLE_NUMBERS = ("priority", "timeout", "retries")


@router.post("/tasks/{name}/edit")
async def edit_task(request: Request, principal: Admin, name: TaskName) -> Response:
    form = await request.form()
    changes: dict[str, object] = {}
    for key in EDITABLE_TEXT:
        value = form.get(key)
        if isinstance(value, str):
            changes[key] = value.strip() or None if key == "timezone" else value.strip()
    for key in EDITABLE_NUMBERS:
        value = form.get(key)
        if isinstance(value, str) and value.strip():
            try:
                changes[key] = int(value)
            except ValueError:
                raise UserError(f"field {key!r}: expected a whole number, got {value[:40]!r}") from None
    changes["enabled"] = form.get("enabled") == "on"
    _actions(request, principal).edit(name, changes)
    flash(request, f"Saved {name}.")
    return _back(f"/tasks/{name}")


def _alert_answer(request: Request, next_url: str, message: str) -> Response:
    """The alert center's active alerts anew for htmx (``#alerts-live``), else a flash and back."""
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "alerts-live":
        answer = render(request, "partials/alerts.html", alert_center(request, None))
        answer.headers["HX-Trigger"] = flash_event(message)
        return answer
    flash(request, message)
    return _back(next_url)


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_alert(
    request: Request, principal: Operator, alert_id: Annotated[int, Path(ge=1, le=2**62)], next: Next = "/alerts"
) -> Response:
    _actions(request, principal).acknowledge(alert_id)
    return _alert_answer(request, next, f"Acknowledged alert {alert_id}.")


@router.post("/alerts/{alert_id}/resolve")
async def resolve_alert(
    request: Request, principal: Operator, alert_id: Annotated[int, Path(ge=1, le=2**62)], next: Next = "/alerts"
) -> Response:
    _actions(request, principal).resolve(alert_id)
    return _alert_answer(request, next, f"Resolved alert {alert_id}.")


@router.post("/alerts/{alert_id}/snooze")
async def snooze_alert(
    request: Request,
    principal: Operator,
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
    duration: Annotated[str, Form(max_length=32)],
    next: Next = "/alerts",
) -> Response:
    alert = _actions(request, principal).snooze(alert_id, duration=duration)
    until = display_time(request, alert.snoozed_until)
    return _alert_answer(request, next, f"Snoozed alert {alert_id}: no message about it until {until}.")


@router.post("/alerts/rules")
async def add_rule(
    request: Request,
    principal: Admin,
    name: Annotated[str, Form(max_length=128)],
    kind: Annotated[RuleKind, Form()],
    threshold: Annotated[float, Form(gt=0, le=10**9)],
    severity: Annotated[Severity, Form()],
    task: Annotated[str, Form(max_length=128)] = "",
    window_seconds: Annotated[int | None, Form(ge=60, le=30 * 86400)] = None,
) -> Response:
    rule = add_alert_rule(
        request.app.state.store,
        by=f"web:{principal.actor}",
        name=name,
        kind=kind.value,
        threshold=threshold,
        task=task or None,
        window=window_seconds,
        severity=severity.value,
    )
    flash(request, f"Added rule {name}: {rule.describe()}.")
    return _back("/alerts")


@router.post("/alerts/rules/{name}/delete")
async def remove_rule(request: Request, principal: Admin, name: Annotated[str, Path(max_length=128)]) -> Response:
    remove_alert_rule(request.app.state.store, name, by=f"web:{principal.actor}")
    flash(request, f"Removed rule {name}.")
    return _back("/alerts")


@router.post("/alerts/test-email")
async def send_test_email(request: Request, principal: Admin) -> Response:
    from smartcron.alerts.service import AlertService

    state = request.app.state
    actor = f"web:{principal.actor}"
    where = AlertService(state.store, state.settings).send_test(by=actor, now=state.clock.now())
    state.store.audit.record(actor, "alert.test", None, {"to": where}, now=state.clock.now())
    flash(request, f"Test message queued: {where}.")
    return _back("/alerts")
