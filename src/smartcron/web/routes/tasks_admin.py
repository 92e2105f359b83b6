"""Registering and unregistering tasks from the dashboard, for admins: the page ``/manage/tasks``
with an add form and a Remove button per task (asked first). Both go through
:class:`~smartcron.web.actions.Actions` (``create``, ``delete``), as ``POST`` and ``DELETE
/api/v1/tasks`` do, so the checks and the audit entries (``task.add``, ``task.remove``) are the
same; a task added here has origin ``web``."""

from __future__ import annotations

import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from smartcron.domain.task import TaskOrigin
from smartcron.errors import UserError
from smartcron.registry.service import origin_text
from smartcron.web.actions import Actions
from smartcron.web.auth import Principal, require_admin
from smartcron.web.rendering import flash, render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
Admin = Annotated[Principal, Depends(require_admin)]
TaskName = Annotated[str, Path(min_length=1, max_length=128)]
PAGE = "/manage/tasks"
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=128)]


def _back(request: Request) -> Response:
    if request.headers.get("hx-request"):  # after htmx's confirm dialog: load the page whole
        return Response(status_code=200, headers={"HX-Redirect": PAGE})
    return RedirectResponse(PAGE, status_code=303)


@router.get(PAGE)
def manage_tasks(request: Request, _: Admin) -> Response:
    tasks = request.app.state.store.tasks.list()
    rows = [{"task": task, "origin": origin_text(task)} for task in tasks]
    return render(request, "manage_tasks.html", {"rows": rows, "default_timezone": request.app.state.settings.timezone})


def command_of(text: str, *, shell: bool) -> str | list[str]:
    """The form's command line: as typed for a shell task, else split as a shell would split it
    into an argument list (no shell runs it)."""
    if shell:
        return text.strip()
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise UserError(f"command: {exc} (quote it, or tick 'run through the shell')") from None


def _whole_number(key: str, value: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"field {key!r}: expected a whole number, got {value[:40]!r}") from None


@router.post(PAGE)
async def add_task(
    request: Request,
    principal: Admin,
    name: Short,
    command: Text,
    schedule: Short,
    category: Short = "",
    timezone: Short = "",
    description: Text = "",
    priority: Annotated[str, Form(max_length=4)] = "",
    timeout: Annotated[str, Form(max_length=12)] = "",
    shell: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Checked like a task-file entry; a bad value is a 400 page naming the field, nothing stored."""
    is_shell = shell == "on"
    fields: dict[str, Any] = {
        "name": name.strip(),
        "command": command_of(command, shell=is_shell),
        "shell": is_shell,
        "schedule": schedule.strip(),
        "category": category.strip() or None,
        "timezone": timezone.strip() or None,
        "description": description.strip() or None,
        "priority": _whole_number("priority", priority),
        "timeout": _whole_number("timeout", timeout),
    }
    task = Actions(request.app.state.store, request.app.state.settings, principal).create(
        {key: value for key, value in fields.items() if value is not None}, origin=TaskOrigin.WEB
    )
    flash(request, f"Added task {task.name}.", link=(f"/tasks/{task.name}", "open it"))
    return _back(request)


@router.post(PAGE + "/{name}/delete")
async def delete_task(
    request: Request, principal: Admin, name: TaskName, force: Annotated[str, Form(max_length=4)] = ""
) -> Response:
    """A task declared in a task file needs ``force`` (the form says why), as the API's ``?force``.
    A refusal after htmx's confirm dialog comes back as the page's flash message (htmx swaps no
    error page); without JavaScript it is the error page, as for every form."""
    actions = Actions(request.app.state.store, request.app.state.settings, principal)
    try:
        actions.delete(name, force=force == "on")
    except UserError as exc:  # a task-file task without force (409), a built-in one (400)
        if not request.headers.get("hx-request"):
            raise
        flash(request, f"Task {name} was not removed: {exc.message}.")
        return _back(request)
    flash(request, f"Removed task {name} and its run history.")
    return _back(request)
