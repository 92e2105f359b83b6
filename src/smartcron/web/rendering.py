"""Jinja2 set-up: autoescaping always on, filters that turn times, durations and output into text."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from smartcron import __version__
from smartcron.web.alert_view import open_alert_count
from smartcron.web.auth import Principal, csrf_token, principal_of
from smartcron.web.tasklog import make_inert

TEMPLATES_DIR = Path(__file__).with_name("templates")
STATUS_CLASS = {
    "success": "ok",
    "running": "running",
    "scheduled": "queued",
    "failed": "bad",
    "timeout": "bad",
    "killed": "bad",
    "abandoned": "bad",
    "unknown_outcome": "warn",
    "superseded": "warn",
    "cancelled": "muted",
    "missed": "warn",
    "skipped": "muted",
}


def format_time(value: datetime | None, zone: tzinfo = UTC) -> str:
    """A moment in the dashboard's display zone (``web.display_timezone``, by default the
    installation's ``timezone``, as the CLI and the alert mails use), with the zone's abbreviation."""
    if value is None:
        return "-"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def format_duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 1:
        return f"{ms:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def format_percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def format_setting(value: Any, key: str = "", spec: Mapping[str, Any] | None = None) -> str:
    """A task-file value as plain text for a person: a command as a shell would read it (a shell
    script as itself), anything else as in JSON. Plain text, so autoescaping shows ``>&2`` as
    written (``tojson`` escapes ``<>&'`` for script blocks, which is wrong for display)."""
    if key == "command" and isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        if spec is not None and spec.get("shell") and len(value) == 1:
            return str(value[0])
        return shlex.join(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _inert_output(value: Any) -> Any:
    """Every value printed by a template loses terminal escapes and control characters (markup
    built by the templates themselves is left alone); autoescaping then makes it plain text."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return make_inert(value)
    return value


def _audit_details(details: Mapping[str, Any] | None) -> Any:
    from smartcron.web.audit_view import describe_details  # it formats values with this module

    return describe_details(details)


def make_templates(zone: tzinfo = UTC) -> Jinja2Templates:
    env = Environment(
        finalize=_inert_output,
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    @pass_context
    def time_in_display_zone(context: Context, value: datetime | None) -> str:
        return format_time(value, context.get("display_zone_info") or zone)

    env.filters.update(
        time=time_in_display_zone,
        duration=format_duration,
        percent=format_percent,
        inert=make_inert,
        setting=format_setting,
        audit_details=_audit_details,
        status_class=lambda s: STATUS_CLASS.get(str(s), "muted"),
        query=lambda params: urlencode({k: v for k, v in params.items() if v not in (None, "")}),
    )
    env.globals["version"] = __version__
    env.globals["default_zone_info"] = zone
    env.globals["display_zone"] = str(getattr(zone, "key", zone))
    return Jinja2Templates(env=env)


def _own_zone(principal: Principal | None) -> dict[str, Any]:
    """A user's own display zone for this page (every time, the footer, the charts), if they set one."""
    if principal is None or not principal.timezone:
        return {}
    try:
        zone = ZoneInfo(principal.timezone)
    except (ValueError, ZoneInfoNotFoundError):  # a zone this machine no longer knows: the default
        return {}
    return {"display_zone": principal.timezone, "display_zone_info": zone}


def display_time(request: Request, value: datetime | None) -> str:
    """``value`` as the ``time`` filter shows it to the user behind ``request`` (their own zone, or
    the installation's display zone), for messages built outside a template."""
    own = _own_zone(principal_of(request)).get("display_zone_info")
    templates: Jinja2Templates = request.app.state.templates
    default = templates.env.globals["default_zone_info"]
    return format_time(value, own or (default if isinstance(default, tzinfo) else UTC))


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    """Render a page with what every page needs: who is logged in, the CSRF token, a flash message."""
    templates: Jinja2Templates = request.app.state.templates
    fragment = bool(request.headers.get("hx-request"))
    flash = request.session.pop("flash", None) if not fragment else None
    link = request.session.pop("flash_link", None) if not fragment else None
    principal = principal_of(request)
    base = {
        "request": request,
        "principal": principal,
        **_own_zone(principal),
        "open_alerts": open_alert_count(request.app.state.store) if principal and not fragment else None,
        "csrf": csrf_token(request),
        "flash": flash if isinstance(flash, str) else None,
        "flash_link": link if isinstance(link, list) and len(link) == 2 else None,
        "now": request.app.state.clock.now(),
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, template, base | context, status_code=status)


def render_error(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "detail": detail}, status=status)


def flash_event(message: str, link: tuple[str, str] | None = None, *, error: bool = False) -> str:
    """An ``HX-Trigger`` header value: app.js shows ``message`` (and ``link``) as the flash message
    of a page that htmx changed in place. ASCII-only JSON, as a header must be."""
    detail: dict[str, Any] = {"message": message[:300], "error": error}
    if link is not None and link[0].startswith("/") and not link[0].startswith("//"):
        detail |= {"href": link[0][:200], "text": link[1][:100]}
    return json.dumps({"smartcron:flash": detail})


def flash(request: Request, message: str, *, link: tuple[str, str] | None = None) -> None:
    """A message for the next page; ``link`` is (a path on this site, its text), shown after it."""
    request.session["flash"] = message[:300]
    if link is not None and link[0].startswith("/") and not link[0].startswith("//"):
        request.session["flash_link"] = [link[0][:200], link[1][:100]]
    else:
        request.session.pop("flash_link", None)
