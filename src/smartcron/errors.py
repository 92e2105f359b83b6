"""Every error smartcron raises on purpose descends from :class:`SmartcronError`.

The CLI maps the branches to exit codes (``UserError`` -> 2, anything else -> 1) and prints the
message as one line; the web layer maps ``UserError`` to HTTP 4xx.
"""

from __future__ import annotations

EXIT_STATUSES: dict[int, str] = {
    0: "Success.",
    1: "Failure: the work could not be done (a store, a notifier or a run failed; `smartcron health` found a "
    "failing check; `tasks run --wait` ran a task that failed; `logs` of a run that never started).",
    2: "Bad input: a usage error, an invalid setting, schedule or task definition, or no such object; "
    "one line names the field and the problem.",
    130: "Interrupted (Ctrl-C) or aborted at a prompt.",
}
"""What each exit status of the ``smartcron`` command means (``smartcron exec`` exits with its command's)."""


class SmartcronError(Exception):
    """smartcron failed."""

    exit_code = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self.args[0])


class UserError(SmartcronError):
    """The input is not valid."""

    exit_code = 2


class ConfigError(UserError):
    """A setting is not valid."""


class ScheduleError(UserError):
    """The schedule is not a valid cron expression."""


class TaskSpecError(UserError):
    """The task definition is not valid."""

    def __init__(
        self,
        message: str,
        *,
        task: str | None = None,
        field: str | None = None,
        line: int | None = None,
        source: str | None = None,
    ) -> None:
        self.task = task
        self.field = field
        self.line = line
        self.source = source
        # "tasks.toml:12: task 'payroll_sync', field 'timeout': must be ..."
        parts = []
        if source:
            parts.append(f"{source}:{line}" if line else source)
        elif line:
            parts.append(f"line {line}")
        what = [f"task {task!r}"] if task else []
        if field:
            what.append(f"field {field!r}")
        if what:
            parts.append(", ".join(what))
        parts.append(message)
        super().__init__(": ".join(parts))


class NotFoundError(UserError):
    """No such object."""


class ConflictError(UserError):
    """The object is no longer in a state that allows this (a run that has already ended)."""


class TaskExistsError(ConflictError, TaskSpecError):
    """A task with this name already exists (HTTP 409; exit status 2, like any bad input)."""


class StoreError(SmartcronError):
    """The database failed."""


class StoreUnavailableError(StoreError):
    """The database cannot be reached."""


class NotifierError(SmartcronError):
    """A notification could not be delivered."""

    def __init__(self, message: str | None = None, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
