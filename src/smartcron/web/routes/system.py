"""Login and logout, the public health probe, Prometheus metrics and the API documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from smartcron.errors import StoreUnavailableError
from smartcron.web.accounts import Accounts
from smartcron.web.auth import Principal, check_csrf, end_session, principal_of, require_viewer, start_session
from smartcron.web.metrics import CONTENT_TYPE
from smartcron.web.rendering import render

router = APIRouter(include_in_schema=False)
FAVICON = Path(__file__).parent.parent / "static" / "favicon.svg"


def safe_next(value: str | None) -> str:
    """Only a path on this site: never another host (``//evil``, ``https://...``) or a scheme."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return "/"
    return value


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    if principal_of(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    await check_csrf(request)
    state = request.app.state
    address = client_address(request)
    wait = state.login_limiter.retry_after(username, address)
    if wait is not None:
        context = {
            "next": safe_next(next),
            "username": username,
            "error": f"Too many failed attempts. Try again in {wait // 60 + 1} minutes.",
        }
        response = render(request, "login.html", context, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = Accounts(state.store, actor="web").authenticate(username, password, now=state.clock.now())
    if user is None:
        state.login_limiter.failed(username, address)
        context = {"next": safe_next(next), "username": username, "error": "Wrong user name or password."}
        return render(request, "login.html", context, status=401)
    state.login_limiter.succeeded(username, address)
    start_session(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """Public liveness probe: the dashboard answers and its database is reachable."""
    try:
        latency = request.app.state.store.ping()
    except StoreUnavailableError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database_ms": round(latency * 1000, 2)})


@router.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it on every site; public, like the login page it shows on. An SVG: every
    browser that asks takes one, whatever the name says."""
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/metrics")
def metrics(request: Request, _: Annotated[Principal, Depends(require_viewer)]) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)


@router.get("/api/openapi.json")
def openapi_document(request: Request, _: Annotated[Principal, Depends(require_viewer)]) -> Response:
    # FastAPI builds the document once and keeps it; answering it directly skips re-encoding it per request.
    document: dict[str, Any] = request.app.openapi()
    return JSONResponse(document)


@router.get("/api/docs", response_class=HTMLResponse)
def api_docs(request: Request, _: Annotated[Principal, Depends(require_viewer)]) -> Response:
    return render(request, "api_docs.html", {})
