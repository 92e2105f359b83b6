"""Alerts, their custom rules and silences through the JSON API under ``/api/v1``: the same
service functions, checks and audit entries as ``smartcron alerts`` and the alert center."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field

from smartcron.domain.silences import Silence, silenced_until
from smartcron.services.rule_actions import add_alert_rule, remove_alert_rule, set_alert_rule_enabled
from smartcron.services.silence_actions import remove_silence, silence_alerts
from smartcron.web.actions import Actions
from smartcron.web.auth import Principal, require_admin, require_operator, require_viewer
from smartcron.web.routes import api_examples as examples
from smartcron.web.routes.api_examples import example
from smartcron.web.routes.api_models import AlertOut, RuleIn, RuleOut, SnoozeIn

ERRORS = {
    401: {"description": "No valid session or token"},
    403: {"description": "Not allowed for this role, or a missing CSRF token"},
    404: {"description": "No such object"},
}
router = APIRouter(prefix="/api/v1", tags=["alerts"], responses=ERRORS)  # type: ignore[arg-type]
Viewer = Annotated[Principal, Depends(require_viewer)]
Operator = Annotated[Principal, Depends(require_operator)]
Admin = Annotated[Principal, Depends(require_admin)]
Id = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/alerts", response_model=list[AlertOut], summary="Alerts, newest first")
def list_alerts(
    request: Request,
    _: Viewer,
    active: Annotated[bool, Query(description="only open and acknowledged ones")] = False,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AlertOut]:
    """Each open alert a silence covers says until when (`silenced_until`)."""
    store = request.app.state.store
    alerts = store.alerts.list(active_only=active, limit=limit, before_id=before)
    now = store.database_now()
    silences = store.silences.active(now)
    return [
        AlertOut.of(alert, silenced_until=silenced_until(silences, alert.kind, alert.task_id, now)) for alert in alerts
    ]


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut, summary="Acknowledge an alert")
async def acknowledge_alert(request: Request, principal: Operator, alert_id: Id) -> AlertOut:
    alert = Actions(request.app.state.store, request.app.state.settings, principal).acknowledge(alert_id)
    return AlertOut.of(alert)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertOut,
    summary="Resolve an alert by hand",
)
async def resolve_alert(request: Request, principal: Operator, alert_id: Id) -> AlertOut:
    """The alert becomes `resolved`; those who were told about it get a "resolved" message. A
    resolved alert stays as it was (the answer is still 200). Audited as `alert.resolve`, as
    `smartcron alerts resolve` and the alert center's Resolve button are."""
    alert = Actions(request.app.state.store, request.app.state.settings, principal).resolve(alert_id)
    return AlertOut.of(alert)


SNOOZE_EXAMPLES: dict[str, Example] = {
    "duration": {"summary": "For two hours", "value": {"duration": "2h"}},
    "until": {"summary": "Until a time", "value": {"until": "2026-03-02T08:00:00+13:00"}},
}


@router.post(
    "/alerts/{alert_id}/snooze",
    response_model=AlertOut,
    summary="Snooze an alert: no message about it for a while",
    responses={
        409: {"description": "The alert is already resolved"},
        422: {"description": "Neither or both of duration and until, or a snooze outside 1 min to 30 days"},
    },
)
async def snooze_alert(
    request: Request,
    principal: Operator,
    alert_id: Id,
    snooze: Annotated[SnoozeIn, Body(openapi_examples=SNOOZE_EXAMPLES)],
) -> AlertOut:
    """Until the snooze ends, no first message or reminder is sent about the alert; it stays
    active, shown and counted. Then its reminders resume (one is sent at once if owed). Snoozing
    again replaces the end time. Give `duration` or `until`, 1 minute to 30 days ahead. Audited
    as `alert.snooze` with the end time, as `smartcron alerts snooze` is."""
    actions = Actions(request.app.state.store, request.app.state.settings, principal)
    return AlertOut.of(actions.snooze(alert_id, duration=snooze.duration, until=snooze.until))


@router.get("/alerts/rules", response_model=list[RuleOut], summary="Custom alert rules")
def list_rules(request: Request, _: Viewer) -> list[RuleOut]:
    return [RuleOut.of(rule) for rule in request.app.state.store.alert_rules.list()]


RULE_EXAMPLES: dict[str, Example] = {
    "long_run": {
        "summary": "A run longer than an hour",
        "value": {"name": "payroll-slow", "kind": "long_run", "threshold": "1h", "task": "payroll_auto_start"},
    },
    "failure_rate": {
        "summary": "Over 20 % failures in 6 hours",
        "value": {"name": "flaky", "kind": "failure_rate", "threshold": 20, "window": "6h", "min_runs": 5},
    },
}


@router.post(
    "/alerts/rules",
    response_model=RuleOut,
    status_code=201,
    summary="Add a custom alert rule (admin)",
    responses={
        422: {"description": "A value the rule checks refuse; the detail names it"},
        409: {"description": "A rule with this name already exists"},
    },
)
async def add_rule(
    request: Request, principal: Admin, rule: Annotated[RuleIn, Body(openapi_examples=RULE_EXAMPLES)]
) -> RuleOut:
    """Checked as `smartcron alerts rules add` and the alert center's form check it; a rule that
    already exists is refused. The runner applies a new rule within 30 s. Audited as `rule.add`."""
    added = add_alert_rule(
        request.app.state.store,
        by=f"web:{principal.actor}",
        name=rule.name,
        kind=rule.kind.value,
        threshold=rule.threshold,
        task=rule.task,
        window=rule.window,
        min_runs=rule.min_runs,
        severity=rule.severity.value,
    )
    return RuleOut.of(added)


@router.delete("/alerts/rules/{name}", status_code=204, summary="Remove a custom alert rule (admin)")
async def remove_rule(
    request: Request, principal: Admin, name: Annotated[str, Path(min_length=1, max_length=128)]
) -> Response:
    """The rule's open alerts are resolved with it (nothing would resolve them otherwise).
    Audited as `rule.remove`."""
    remove_alert_rule(request.app.state.store, name, by=f"web:{principal.actor}")
    return Response(status_code=204)


RuleName = Annotated[str, Path(min_length=1, max_length=128)]


@router.post("/alerts/rules/{name}/enable", response_model=RuleOut, summary="Turn a custom alert rule on (admin)")
async def enable_rule(request: Request, principal: Admin, name: RuleName) -> RuleOut:
    """As `smartcron alerts rules enable` and the silences page: the runner judges by it again
    within 30 s. Audited as `rule.enable`."""
    rule = set_alert_rule_enabled(request.app.state.store, name, enabled=True, by=f"web:{principal.actor}")
    return RuleOut.of(rule)


@router.post("/alerts/rules/{name}/disable", response_model=RuleOut, summary="Turn a custom alert rule off (admin)")
async def disable_rule(request: Request, principal: Admin, name: RuleName) -> RuleOut:
    """As `smartcron alerts rules disable`: it is no longer evaluated, and the alerts it raised are
    resolved (nothing would resolve them while it is off). Audited as `rule.disable`."""
    rule = set_alert_rule_enabled(request.app.state.store, name, enabled=False, by=f"web:{principal.actor}")
    return RuleOut.of(rule)


class SilenceIn(BaseModel):
    """What to silence (a task, a rule, or a rule on one task) and for how long: `duration` or
    `until`, one of them, 1 minute to 90 days."""

    model_config = ConfigDict(extra="forbid")

    task: str | None = Field(default=None, max_length=128, description="the task whose alerts to silence")
    rule: str | None = Field(default=None, max_length=128, description="the custom rule whose alerts to silence")
    duration: Annotated[str, Field(max_length=32)] | float | None = Field(
        default=None, description="`30m`, `2h`, `1d`, or seconds as a number"
    )
    until: datetime | None = Field(default=None, description="the end of the silence, ISO 8601 with an offset")
    reason: str | None = Field(default=None, max_length=255, description="why, for the others")


class SilenceOut(BaseModel):
    model_config = example(examples.SILENCE)

    id: int
    task: str | None
    rule: str | None
    until: datetime
    reason: str | None
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, silence: Silence) -> SilenceOut:
        return cls(
            id=silence.id,
            task=silence.task_name,
            rule=silence.rule_name,
            until=silence.until,
            reason=silence.reason,
            created_by=silence.created_by,
            created_at=silence.created_at,
        )


@router.get("/alerts/silences", response_model=list[SilenceOut], summary="Silences in force, ending soonest first")
def list_silences(
    request: Request,
    _: Viewer,
    ended: Annotated[bool, Query(description="also those that have ended")] = False,
) -> list[SilenceOut]:
    store = request.app.state.store
    return [SilenceOut.of(item) for item in store.silences.list(now=store.database_now(), include_ended=ended)]


SILENCE_EXAMPLES: dict[str, Example] = {
    "task": {
        "summary": "A task, for two hours",
        "value": {"task": "nightly_backup", "duration": "2h", "reason": "disk swap"},
    },
    "rule": {"summary": "A rule, until a time", "value": {"rule": "flaky", "until": "2026-03-02T08:00:00+13:00"}},
}


@router.post(
    "/alerts/silences",
    response_model=SilenceOut,
    status_code=201,
    summary="Silence the alerts of a task or a rule for a while",
    responses={422: {"description": "No task or rule, neither or both of duration and until, or out of bounds"}},
)
async def add_silence(
    request: Request, principal: Operator, body: Annotated[SilenceIn, Body(openapi_examples=SILENCE_EXAMPLES)]
) -> SilenceOut:
    """Until it ends, no message (first or reminder) is sent about the alerts it covers; they are
    still raised, stored and shown. An alert still open when the silence ends gets its message
    then. Audited as `alert.silence`, as `smartcron alerts silence add` and the silences page are."""
    silence = silence_alerts(
        request.app.state.store,
        by=f"web:{principal.actor}",
        task=body.task,
        rule=body.rule,
        duration=body.duration,
        until=body.until,
        reason=body.reason,
    )
    return SilenceOut.of(silence)


@router.delete("/alerts/silences/{silence_id}", status_code=204, summary="End a silence now")
async def delete_silence(request: Request, principal: Operator, silence_id: Id) -> Response:
    """Alerts it held back that are still open get their message at the dispatcher's next pass.
    Audited as `alert.unsilence`."""
    remove_silence(request.app.state.store, silence_id, by=f"web:{principal.actor}")
    return Response(status_code=204)
