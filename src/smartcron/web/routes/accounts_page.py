"""The users page, for admins: list, add and remove users, set a password; create and revoke API tokens (a new
token is shown once, on the answer to its form, and never stored in the session). Every form goes
through :class:`~smartcron.web.accounts.Accounts`, as ``smartcron users|tokens`` and the API do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smartcron.domain.enums import Role
from smartcron.web.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, Accounts
from smartcron.web.auth import Principal, require_admin
from smartcron.web.rendering import flash, render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Admin = Annotated[Principal, Depends(require_admin)]
AccountName = Annotated[str, Path(min_length=1, max_length=128)]
Name = Annotated[str, Form(min_length=1, max_length=128)]


def _accounts(request: Request, principal: Principal) -> Accounts:
    return Accounts(request.app.state.store, actor=f"web:{principal.actor}")


def _page(request: Request, *, new_token: tuple[str, str] | None = None, status: int = 200) -> Response:
    store = request.app.state.store
    context: dict[str, Any] = {
        "users": store.users.list(),
        "tokens": store.tokens.list(),
        "roles": [role.value for role in Role],
        "min_password": MIN_PASSWORD_LENGTH,
        "max_password": MAX_PASSWORD_LENGTH,
        "new_token": new_token,
    }
    return render(request, "accounts.html", context, status=status)


def _back(request: Request) -> Response:
    """Back to the users page: a 303, or for a form htmx sent (after its confirm dialog) an
    ``HX-Redirect`` so the browser loads the page whole."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": "/users"})
    return RedirectResponse("/users", status_code=303)


@router.get("/users")
def users_page(request: Request, _: Admin) -> Response:
    return _page(request)


@router.post("/users")
async def add_user(
    request: Request,
    principal: Admin,
    name: Name,
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
) -> Response:
    now = request.app.state.store.database_now()
    _accounts(request, principal).add_user(name, password=password, role=role, now=now)
    flash(request, f"Added {name} ({role.value}).")
    return _back(request)


@router.post("/users/{name}/delete")
async def remove_user(request: Request, principal: Admin, name: AccountName) -> Response:
    _accounts(request, principal).remove_user(name, now=request.app.state.store.database_now())
    flash(request, f"Removed {name}; their sessions have ended.")
    return _back(request)


@router.post("/users/{name}/password")
async def set_password(
    request: Request,
    principal: Admin,
    name: AccountName,
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)],
) -> Response:
    """As `smartcron users passwd`: their sessions opened with the old password end."""
    store = request.app.state.store
    store.users.get(name)
    _accounts(request, principal).change_password(name, password=password, now=store.database_now())
    flash(request, f"Set a new password for {name}; their other sessions have ended.")
    return _back(request)


@router.post("/tokens")
async def create_token(request: Request, principal: Admin, name: Name, role: Annotated[Role, Form()]) -> Response:
    """The answer is the page itself, with the token: it exists nowhere else in plain text."""
    now = request.app.state.store.database_now()
    plain, record = _accounts(request, principal).create_token(name, role=role, now=now)
    return _page(request, new_token=(record.name, plain), status=201)


@router.post("/tokens/{name}/revoke")
async def revoke_token(request: Request, principal: Admin, name: AccountName) -> Response:
    _accounts(request, principal).revoke_token(name, now=request.app.state.store.database_now())
    flash(request, f"Revoked token {name}: a script using it gets 401 from its next request.")
    return _back(request)
