"""``/me``: what a logged-in user may set for themselves, the zone the dashboard shows times in
(the same service as ``smartcron users timezone``, audited as ``user.timezone``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smartcron.web.accounts import Accounts
from smartcron.web.auth import Principal, require_viewer
from smartcron.web.rendering import flash, render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Viewer = Annotated[Principal, Depends(require_viewer)]


@lru_cache(maxsize=1)
def _zones() -> list[str]:
    return sorted(available_timezones())


@router.get("/me")
def me_page(request: Request, principal: Viewer) -> Response:
    return render(
        request,
        "me.html",
        {
            "zones": _zones(),
            "own_zone": principal.timezone,
            "default_zone": request.app.state.settings.display_timezone,
        },
    )


@router.post("/me/timezone")
async def set_own_zone(
    request: Request, principal: Viewer, timezone: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    if principal.via != "session":  # a token has no user to keep a zone for
        return RedirectResponse("/me", status_code=303)
    zone = timezone.strip() or None
    Accounts(request.app.state.store, actor=f"web:{principal.actor}").set_timezone(
        principal.name, zone, now=request.app.state.clock.now()
    )
    flash(request, f"Times are shown in {zone}." if zone else "Times are shown in the installation's zone.")
    return RedirectResponse("/me", status_code=303)
