"""Form posts from the pages: each one needs its role and the session's CSRF token, does one
thing through ``web.actions`` (or the owning repository), says what happened in a flash message
and sends the browser back to the page it came from (303, so a reload does not repeat it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from smartcron.domain.alert_rules import RULE_NAME, RuleKind
from smartcron.domain.enums import Severity
from smartcron.errors import UserError
from smartcron.web.actions import Actions
from smartcron.web.auth import Principal, require_admin, require_operator
from smartcron.web.rendering import flash
from smartcron.web.routes.system import safe_next

router = APIRouter(include_in_schema=False)
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]
TaskName = Annotated[str, Path(min_length=1, max_length=128)]
Next = Annotated[str, Form(max_length=2000)]


def _back(next_url: str) -> Response:
    return RedirectResponse(safe_next(next_url), status_code=303)


def _actions(request: Request, principal: Principal) -> Actions:
    return Actions(request.app.state.store, request.app.state.settings, principal)


@router.post("/tasks/{name}/run")
async def run_task(request: Request, principal: Operator, name: TaskName, next: Next = "/") -> Response:
    queued = _actions(request, principal).run_now(name)
    flash(request, f"Queued a run of {name} (#{queued.execution_id}); the runner starts it within a second.")
    return _back(next)


@router.post("/tasks/{name}/pause")
async def pause_task(request: Request, principal: Operator, name: TaskName, next: Next = "/") -> Response:
    _actions(request, principal).pause(name)
    flash(request, f"Paused {name}.")
    return _back(next)


@router.post("/tasks/{name}/resume")
async def resume_task(request: Request, principal: Operator, name: TaskName, next: Next = "/") -> Response:
    _actions(request, principal).resume(name)
    flash(request, f"Resumed {name}.")
    return _back(next)


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


@router.post("/alerts/{alert_id}/ack")
async def acknowledge_alert(
    request: Request, principal: Operator, alert_id: Annotated[int, Path(ge=1, le=2**62)], next: Next = "/alerts"
) -> Response:
    _actions(request, principal).acknowledge(alert_id)
    flash(request, f"Acknowledged alert {alert_id}.")
    return _back(next)


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
    store = request.app.state.store
    if not RULE_NAME.match(name):
        raise UserError(f"rule name {name!r}: use letters, digits and _ . - (no spaces)")
    task_id = store.tasks.get(task).id if task else None
    now = request.app.state.clock.now()
    rule = store.alert_rules.add(
        name, kind, threshold, severity=severity, now=now, task_id=task_id, window_seconds=window_seconds
    )
    store.audit.record(f"web:{principal.actor}", "rule.add", name, rule.to_dict() | {"created_at": None}, now=now)
    flash(request, f"Added rule {name}: {rule.describe()}.")
    return _back("/alerts")


@router.post("/alerts/rules/{name}/delete")
async def remove_rule(request: Request, principal: Admin, name: Annotated[str, Path(max_length=128)]) -> Response:
    store = request.app.state.store
    store.alert_rules.remove(name)
    store.audit.record(f"web:{principal.actor}", "rule.remove", name, None, now=request.app.state.clock.now())
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
