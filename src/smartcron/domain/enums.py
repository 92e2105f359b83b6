"""The vocabulary of smartcron. Values are stored in the database as these strings."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExecutionStatus(StrEnum):
    SCHEDULED = "scheduled"
    """Claimed (or queued by a person) and waiting to start."""
    RUNNING = "running"
    """Its process group is alive under a runner's supervision."""
    SUCCESS = "success"
    """Exited with status 0."""
    FAILED = "failed"
    """Exited non-zero, died by a signal, or could not start."""
    TIMEOUT = "timeout"
    """Ran past its timeout and was terminated."""
    KILLED = "killed"
    """Terminated on purpose; ``reason`` says why (replaced, by an operator, lost lease)."""
    ABANDONED = "abandoned"
    """Its runner died and the run was cut short: its processes were killed by recovery, or it
    never reached its process. Retried per policy."""
    UNKNOWN_OUTCOME = "unknown_outcome"
    """Its process ended while no runner watched it (the runner crashed between the exit and the
    record, or the run was adopted after a restart), so nobody knows whether it succeeded. Not
    retried unless the task sets ``retry_unknown_outcome``: it may have done its work."""
    SUPERSEDED = "superseded"
    """Its node stopped renewing the run's lease (killed, paused, cut off), and another node took
    the row over by the database's clock; whatever that node still reports is refused."""
    CANCELLED = "cancelled"
    """Stopped before or while running on request (``reason`` says who), or not started at all
    because its runner shut down or its task was disabled or paused since it was queued."""
    MISSED = "missed"
    """The slot came due while no runner could start it, and the catch-up policy let it go."""
    SKIPPED = "skipped"
    """Not started because the previous run was still going (``reason`` = overlap)."""

    @property
    def is_final(self) -> bool:
        return self not in (ExecutionStatus.SCHEDULED, ExecutionStatus.RUNNING)

    @property
    def is_failure(self) -> bool:
        return self in (
            ExecutionStatus.FAILED,
            ExecutionStatus.TIMEOUT,
            ExecutionStatus.KILLED,
            ExecutionStatus.ABANDONED,
            ExecutionStatus.UNKNOWN_OUTCOME,
            ExecutionStatus.SUPERSEDED,
        )


FINAL_STATUSES = tuple(s for s in ExecutionStatus if s.is_final)


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    """The slot came due and was claimed on time."""
    MANUAL = "manual"
    """A person or script asked for a run now."""
    RETRY = "retry"
    """A further attempt after a recoverable failure."""
    CATCHUP = "catchup"
    """A slot missed while no runner ran, started late by the catch-up policy."""

    @property
    def is_request(self) -> bool:
        """A run somebody asked for or is owed (manual, retry), not a slot of the schedule."""
        return self in (Trigger.MANUAL, Trigger.RETRY)


class ErrorCategory(StrEnum):
    FATAL = "fatal"
    """Retrying cannot help: the command cannot start, or it exited with a listed fatal code."""
    RECOVERABLE = "recoverable"
    """Another attempt may succeed: other non-zero exits, timeouts, deaths by signal."""


class OverlapPolicy(StrEnum):
    FORBID = "forbid"
    """A slot that comes while the previous run still runs is recorded ``skipped``."""
    QUEUE = "queue"
    """At most one run waits for the running one to finish; further slots are skipped."""
    REPLACE = "replace"
    """The running process group is killed (recorded ``killed``, replaced) and the new slot runs."""
    ALLOW = "allow"
    """Runs may overlap freely."""


class CatchupPolicy(StrEnum):
    LATEST = "latest"
    """After downtime, the most recent missed slot runs once if within the starting deadline."""
    ALL = "all"
    """Every missed slot runs, in order, one after another, up to a bound."""
    NONE = "none"
    """Missed slots are recorded ``missed`` and never run."""


class Priority(IntEnum):
    CRITICAL = 1
    """A failure alerts critical (with notify_on_failure)."""
    HIGH = 2
    """A failure alerts high (with notify_on_failure)."""
    LOW = 3
    """A failure alerts low: stored and shown only."""


class Severity(StrEnum):
    CRITICAL = "critical"
    """Emailed at once."""
    HIGH = "high"
    """Emailed after a delay unless the problem went away."""
    LOW = "low"
    """Stored and shown only."""


class AlertState(StrEnum):
    OPEN = "open"
    """The problem is there and nobody has taken it on; repeats raise its count."""
    ACKNOWLEDGED = "acknowledged"
    """Somebody took it on: no more reminders, but it stays until the problem goes away."""
    RESOLVED = "resolved"
    """The problem went away (a run succeeded, a check passed) or a person resolved it."""


class CheckStatus(StrEnum):
    OK = "ok"
    """Within its limits."""
    WARN = "warn"
    """Past its warning limit (disk 80 % used, say): shown, and for most checks raised as an alert."""
    FAIL = "fail"
    """Failed or past its critical limit: raised as an alert; `smartcron health` exits 1."""


class Role(StrEnum):
    VIEWER = "viewer"
    """Reads everything."""
    OPERATOR = "operator"
    """Also runs, pauses and resumes tasks and acknowledges alerts."""
    ADMIN = "admin"
    """Also edits tasks, settings and users."""

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)
