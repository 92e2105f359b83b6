"""The runners sharing this database, as ``smartcron nodes`` shows them: a dashboard page (with a
Drain button for admins) and ``/api/v1/nodes``. Both read :func:`smartcron.monitor.nodes.node_views`
and drain through :func:`smartcron.services.node_actions.drain_node`, as the CLI does."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from smartcron.monitor.nodes import SKEW_LIMIT, NodeView, node_views
from smartcron.services.node_actions import DRAIN_MESSAGE, drain_node
from smartcron.web.auth import Principal, require_admin, require_viewer
from smartcron.web.rendering import flash, render
from smartcron.web.routes import api_examples as examples
from smartcron.web.routes.api_examples import example

pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(
    prefix="/api/v1",
    tags=["nodes"],
    responses={
        401: {"description": "No valid session or token"},
        403: {"description": "Not allowed for this role, or a missing CSRF token"},
        404: {"description": "No runner of that name has ever reported"},
    },
)
Viewer = Annotated[Principal, Depends(require_viewer)]
Admin = Annotated[Principal, Depends(require_admin)]
NodeName = Annotated[str, Path(min_length=1, max_length=128)]


class NodeOut(BaseModel):
    """One runner, as ``smartcron nodes --json`` shows it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "app1",
                    "role": "runner",
                    "state": "active",
                    "tags": ["gpu"],
                    "version": "0.1.0",
                    "host": "app1.example.com",
                    "pid": 4242,
                    "started_at": "2026-03-01T08:00:00Z",
                    "heartbeat_at": "2026-03-01T12:00:00Z",
                    "heartbeat_age": 0.8,
                    "clock_offset_ms": 12,
                    "skewed": False,
                    "running": 3,
                    "lease_expires_at": "2026-03-01T12:00:05Z",
                    "drain_requested_by": None,
                }
            ]
        }
    )

    name: str
    role: str
    state: str = Field(description="active, draining (finishing its runs, then it stops), lost, or stopped")
    tags: list[str]
    version: str | None
    host: str | None
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime
    heartbeat_age: float = Field(description="seconds since its last heartbeat, by the database's clock")
    clock_offset_ms: int | None = Field(description="its clock minus the database's (positive: ahead)")
    skewed: bool = Field(description=f"its clock is more than {SKEW_LIMIT.total_seconds():g} s off")
    running: int = Field(description="its runs recorded as running")
    lease_expires_at: datetime | None = Field(description="the latest lease among its running runs")
    drain_requested_by: str | None

    @classmethod
    def of(cls, view: NodeView) -> NodeOut:
        return cls(**view.to_dict())


class DrainOut(BaseModel):
    model_config = example(examples.DRAIN)

    node: str
    message: str


def _views(request: Request) -> list[NodeView]:
    state = request.app.state
    return node_views(state.store, state.settings, state.store.database_now())


def _context(request: Request) -> dict[str, Any]:
    return {"nodes": _views(request), "skew_limit": SKEW_LIMIT.total_seconds(), "message": None}


@pages.get("/nodes")
def nodes_page(request: Request, _: Viewer) -> Response:
    return render(request, "nodes.html", _context(request))


@pages.get("/partials/nodes")
def nodes_partial(request: Request, _: Viewer) -> Response:
    return render(request, "partials/nodes.html", _context(request))


@pages.post("/nodes/{name}/drain")
async def drain_from_page(request: Request, principal: Admin, name: NodeName) -> Response:
    """After its confirm dialog (htmx) the answer is the refreshed table with what happened;
    without JavaScript, a flash message on the nodes page."""
    drain_node(request.app.state.store, name, by=f"web:{principal.actor}")
    message = DRAIN_MESSAGE.format(name=name)
    message = message[:1].upper() + message[1:] + "."
    if request.headers.get("hx-request"):
        return render(request, "partials/nodes.html", _context(request) | {"message": message})
    flash(request, message)
    return RedirectResponse("/nodes", status_code=303)


@api.get("/nodes", response_model=list[NodeOut], summary="Runners sharing this database, newest heartbeat first")
def list_nodes(request: Request, _: Viewer) -> list[NodeOut]:
    """The same views as `smartcron nodes --json`, judged by the database's clock."""
    return [NodeOut.of(view) for view in _views(request)]


@api.post("/nodes/{name}/drain", response_model=DrainOut, status_code=202, summary="Drain a runner (admin)")
async def drain_from_api(request: Request, principal: Admin, name: NodeName) -> DrainOut:
    """As `smartcron nodes drain NAME` and the nodes page's Drain button: at its next heartbeat
    the runner claims nothing more, leaves its queued runs to the others, finishes what runs and
    exits 0 (starting it again puts it back in service). Audited as `node.drain`."""
    drain_node(request.app.state.store, name, by=f"web:{principal.actor}")
    return DrainOut(node=name, message=DRAIN_MESSAGE.format(name=name))
