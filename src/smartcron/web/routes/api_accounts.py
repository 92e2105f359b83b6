"""Users and API tokens through the JSON API (admins only), through the same
:class:`~smartcron.web.accounts.Accounts` as ``smartcron users`` and ``smartcron tokens``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.openapi.models import Example
from pydantic import BaseModel, ConfigDict, Field

from smartcron.domain.enums import Role
from smartcron.store.users import ApiToken, User
from smartcron.web.accounts import MAX_PASSWORD_LENGTH, Accounts
from smartcron.web.auth import Principal, require_admin
from smartcron.web.routes import api_examples as examples
from smartcron.web.routes.api_examples import example

ERRORS = {
    401: {"description": "No valid session or token"},
    403: {"description": "Not allowed for this role, or a missing CSRF token"},
    404: {"description": "No such object"},
}
router = APIRouter(prefix="/api/v1", tags=["accounts"], responses=ERRORS)  # type: ignore[arg-type]
Admin = Annotated[Principal, Depends(require_admin)]
AccountName = Annotated[str, Path(min_length=1, max_length=128)]
Password = Annotated[str, Field(max_length=MAX_PASSWORD_LENGTH, description="8 characters or more")]


class UserOut(BaseModel):
    model_config = example(examples.USER)

    name: str
    role: str
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            name=user.username, role=user.role.value, created_at=user.created_at, last_login_at=user.last_login_at
        )


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128, description="letters, digits and `_ . @ -`")
    role: Role
    password: Password


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


class TokenOut(BaseModel):
    model_config = example(examples.TOKEN)

    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls(name=token.name, role=token.role.value, created_at=token.created_at, last_used_at=token.last_used_at)


class NewTokenOut(TokenOut):
    model_config = example(examples.NEW_TOKEN)

    token: str
    """The token itself: shown only in this answer (only its digest is stored)."""


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128, description="letters, digits and `_ . @ -`")
    role: Role


def _accounts(request: Request, principal: Principal) -> Accounts:
    return Accounts(request.app.state.store, actor=f"web:{principal.actor}")


def _now(request: Request) -> datetime:
    now: datetime = request.app.state.store.database_now()
    return now


USER_EXAMPLES: dict[str, Example] = {
    "operator": {
        "summary": "An operator",
        "value": {"name": "maria", "role": "operator", "password": "a long passphrase"},
    }
}
PASSWORD_EXAMPLES: dict[str, Example] = {
    "new": {"summary": "A new password", "value": {"password": "another passphrase"}}
}
TOKEN_EXAMPLES: dict[str, Example] = {
    "grafana": {"summary": "A read-only token", "value": {"name": "grafana", "role": "viewer"}}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The name is taken"},
    422: {"description": "A bad name or password; the detail says which"},
}


@router.get("/users", response_model=list[UserOut], summary="Dashboard users (admin)")
def list_users(request: Request, _: Admin) -> list[UserOut]:
    return [UserOut.of(user) for user in request.app.state.store.users.list()]


@router.post(
    "/users", response_model=UserOut, status_code=201, summary="Add a dashboard user (admin)", responses=CONFLICT
)
async def add_user(
    request: Request, principal: Admin, user: Annotated[UserIn, Body(openapi_examples=USER_EXAMPLES)]
) -> UserOut:
    """As `smartcron users add`: the name and password are checked the same way, the password is
    stored only as an argon2 hash. Audited as `user.add`."""
    added = _accounts(request, principal).add_user(user.name, password=user.password, role=user.role, now=_now(request))
    return UserOut.of(added)


@router.delete("/users/{name}", status_code=204, summary="Remove a dashboard user (admin)")
async def remove_user(request: Request, principal: Admin, name: AccountName) -> Response:
    """As `smartcron users remove`: their sessions end at once. Audited as `user.remove`."""
    _accounts(request, principal).remove_user(name, now=_now(request))
    return Response(status_code=204)


@router.put(
    "/users/{name}/password",
    status_code=204,
    summary="Set a user's password (admin)",
    responses={422: {"description": "A password that is too short or too long"}},
)
async def set_password(
    request: Request,
    principal: Admin,
    name: AccountName,
    body: Annotated[PasswordIn, Body(openapi_examples=PASSWORD_EXAMPLES)],
) -> Response:
    """As `smartcron users passwd`: the user's sessions opened with the old password end.
    Audited as `user.passwd`."""
    request.app.state.store.users.get(name)
    _accounts(request, principal).change_password(name, password=body.password, now=_now(request))
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut], summary="API tokens, never their values (admin)")
def list_tokens(request: Request, _: Admin) -> list[TokenOut]:
    return [TokenOut.of(token) for token in request.app.state.store.tokens.list()]


@router.post(
    "/tokens", response_model=NewTokenOut, status_code=201, summary="Create an API token (admin)", responses=CONFLICT
)
async def create_token(
    request: Request, principal: Admin, token: Annotated[TokenIn, Body(openapi_examples=TOKEN_EXAMPLES)]
) -> NewTokenOut:
    """As `smartcron tokens create`: the answer holds the token, once; only its digest is stored.
    Audited as `token.create`."""
    plain, record = _accounts(request, principal).create_token(token.name, role=token.role, now=_now(request))
    return NewTokenOut(**TokenOut.of(record).model_dump(), token=plain)


@router.delete("/tokens/{name}", status_code=204, summary="Revoke an API token at once (admin)")
async def revoke_token(request: Request, principal: Admin, name: AccountName) -> Response:
    """As `smartcron tokens revoke`; a script using it gets 401 from its next request. Audited as
    `token.revoke`."""
    _accounts(request, principal).revoke_token(name, now=_now(request))
    return Response(status_code=204)
