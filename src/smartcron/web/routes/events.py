"""``/events``: the one server-sent event stream a dashboard tab keeps open (see
:mod:`smartcron.web.live_events`)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from smartcron.web.auth import Principal, principal_of, require_viewer
from smartcron.web.live_events import beat, event_stream

router = APIRouter(include_in_schema=False)
BEAT_SECONDS = 4  # the page calls itself stale after 10 s without a word (static/js/app.js)
LOGIN_RECHECK_SECONDS = 30.0
"""How often an open stream asks again whether its login still holds (app.state may say otherwise)."""


@router.get("/events")
async def events(
    request: Request,
    _: Annotated[Principal, Depends(require_viewer)],
    last_event_id: Annotated[str | None, Header(max_length=200)] = None,
) -> EventSourceResponse:

    async def still_allowed() -> bool:
        return await anyio.to_thread.run_sync(principal_of, request) is not None

    recheck = getattr(request.app.state, "login_recheck_seconds", LOGIN_RECHECK_SECONDS)
    return EventSourceResponse(
        event_stream(request.app.state.live_feed, last_event_id, still_allowed=still_allowed, recheck_every=recheck),
        ping=BEAT_SECONDS,
        ping_message_factory=beat,
        sep="\n",
    )
