"""The silences page: silences in force (remove one), silence a task or a rule for a while, and
turn custom rules on or off. Forms need their role and the CSRF token, call the same services as
``smartcron alerts silence`` / ``alerts rules enable|disable`` and the API, and come back here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smartcron.domain.enums import AlertState
from smartcron.services.rule_actions import set_alert_rule_enabled
from smartcron.services.silence_actions import MAX_REASON, remove_silence, silence_alerts
from smartcron.web.auth import Principal, require_admin, require_operator, require_viewer
from smartcron.web.rendering import flash, render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Viewer = Annotated[Principal, Depends(require_viewer)]
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]
HELD_BACK_SCAN = 500
"""How many of the newest open alerts the page matches against each silence."""
DURATIONS = (("30m", "30 minutes"), ("1h", "1 hour"), ("2h", "2 hours"), ("8h", "8 hours"), ("1d", "1 day"),
             ("7d", "7 days"))  # fmt: skip


def _back() -> Response:
    return RedirectResponse("/silences", status_code=303)


@router.get("/silences")
def silences_page(request: Request, _: Viewer) -> Response:
    store = request.app.state.store
    now = store.database_now()
    silences = store.silences.list(now=now)
    active = store.alerts.list(state=AlertState.OPEN, limit=HELD_BACK_SCAN)
    held = {item.id: sum(item.matches(alert.kind, alert.task_id) for alert in active) for item in silences}
    return render(
        request,
        "silences.html",
        {
            "silences": silences,
            "held": held,
            "rules": store.alert_rules.list(),
            "tasks": [task.name for task in store.tasks.list()],
            "durations": DURATIONS,
            "max_reason": MAX_REASON,
        },
    )


@router.post("/silences")
async def add_silence(
    request: Request,
    principal: Operator,
    duration: Annotated[str, Form(max_length=32)],
    task: Annotated[str, Form(max_length=128)] = "",
    rule: Annotated[str, Form(max_length=128)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    silence = silence_alerts(
        request.app.state.store,
        by=f"web:{principal.actor}",
        task=task or None,
        rule=rule or None,
        duration=duration,
        reason=reason.strip() or None,
    )
    flash(request, f"Silenced {silence.describe()} until {silence.until:%Y-%m-%d %H:%M} UTC (silence {silence.id}).")
    return _back()


@router.post("/silences/{silence_id}/delete")
async def delete_silence(
    request: Request, principal: Operator, silence_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    silence = remove_silence(request.app.state.store, silence_id, by=f"web:{principal.actor}")
    flash(request, f"Removed silence {silence.id} of {silence.describe()}: its open alerts are sent now.")
    return _back()


@router.post("/alerts/rules/{name}/enable")
async def enable_rule(request: Request, principal: Admin, name: Annotated[str, Path(max_length=128)]) -> Response:
    set_alert_rule_enabled(request.app.state.store, name, enabled=True, by=f"web:{principal.actor}")
    flash(request, f"Enabled rule {name}.")
    return _back()


@router.post("/alerts/rules/{name}/disable")
async def disable_rule(request: Request, principal: Admin, name: Annotated[str, Path(max_length=128)]) -> Response:
    set_alert_rule_enabled(request.app.state.store, name, enabled=False, by=f"web:{principal.actor}")
    flash(request, f"Disabled rule {name}; its open alerts are resolved.")
    return _back()
