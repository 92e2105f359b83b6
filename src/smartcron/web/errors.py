"""Errors as answers: JSON ``{"detail": "..."}`` for the API, a page for people, never a traceback.

Without credentials the API answers 401 and pages redirect to ``/login``; a known bad input
(``UserError``) is a 422 with its one-line message naming the field, as FastAPI answers a body
that does not fit its model: one status for every value the rules refuse, whichever door.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartcron.errors import ConflictError, NotFoundError, SmartcronError, StoreUnavailableError, UserError
from smartcron.web.auth import Forbidden, LoginRequired

log = logging.getLogger(__name__)


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/metrics", "/healthz")


def _answer(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    from smartcron.web.rendering import flash_event, render_error

    answer = render_error(request, status, detail)
    if request.headers.get("hx-request"):  # htmx swaps no error page: app.js shows the reason
        answer.headers["HX-Trigger"] = flash_event(detail, error=True)
    return answer


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
        problems.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"detail": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        target = "/login?next=" + quote(request.url.path, safe="/")
        if request.headers.get("hx-request"):  # a live fragment: send the whole page to the login form
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _answer(request, 403, exc.detail)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _answer(request, 404, exc.message)

    @app.exception_handler(ConflictError)
    async def conflict(request: Request, exc: ConflictError) -> Response:
        return _answer(request, 409, exc.message)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        return _answer(request, 422, exc.message)

    @app.exception_handler(StoreUnavailableError)
    async def store_down(request: Request, exc: StoreUnavailableError) -> Response:
        return _answer(request, 503, exc.message)

    @app.exception_handler(SmartcronError)
    async def smartcron_error(request: Request, exc: SmartcronError) -> Response:
        log.error("request failed: %s", exc.message, extra={"action": request.url.path})
        return _answer(request, 500, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _answer(request, 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _answer(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
