"""The vocabulary of ``smartcron why``: what it is given and what it says of each slot."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.schedule import Schedule
from smartcron.domain.task import Task


class WhyOutcome(StrEnum):
    RAN = "ran"
    """A run started for the slot (whatever its status: success, failed, timeout, abandoned...)."""
    MANUAL = "manual"
    """A run somebody asked for (``tasks run``, the dashboard, the API)."""
    RETRY = "retry"
    """A further attempt after a recoverable failure."""
    RUNNING = "running"
    """Its run is still going."""
    WAITING = "waiting"
    """Claimed or due, not started yet."""
    SKIPPED = "skipped"
    """Not started because the previous run was still going (overlap)."""
    CANCELLED = "cancelled"
    """Stopped before it started (by a person, or its runner shut down)."""
    PAUSED = "paused"
    """The task was paused at the slot: no row is written for such slots."""
    DISABLED = "disabled"
    """The task was disabled at the slot."""
    NO_RUNNER = "no runner"
    """The task is pinned to nodes or tags and no runner of those was there to plan it."""
    MISSED = "missed"
    """No runner could start it on time and the catch-up policy let it go."""
    NOT_DUE = "not due"
    """A daylight-saving change: the wall-clock time did not exist, or came a second time."""
    NO_RECORD = "no record"
    """Nothing explains it: before the task existed, under an earlier schedule, or deleted."""


@dataclass(frozen=True, slots=True)
class FlagChange:
    """One audited change that decides whether slots are due: pause, resume, disable, enable, add,
    or an edit of the schedule."""

    at: datetime
    actor: str
    action: str
    """``pause``, ``resume``, ``disable``, ``enable``, ``add`` or ``schedule``."""


@dataclass(frozen=True, slots=True)
class RunnerSeen:
    """A runner (daemon or tick) by its newest heartbeat: only the newest one is kept."""

    name: str
    tags: tuple[str, ...]
    last_beat: datetime
    active: bool
    """False when its last heartbeat said it was stopping."""


@dataclass(frozen=True, slots=True)
class SlotExplanation:
    slot: datetime
    """The instant (UTC) the line is about: a slot, a request's time, or where a DST note falls."""
    outcome: WhyOutcome
    reason: str
    """The sentence a person reads, times in the task's zone."""
    execution_id: int | None = None
    node: str | None = None
    status: ExecutionStatus | None = None
    trigger: Trigger | None = None
    attempt: int | None = None
    actor: str | None = None
    """Who paused, disabled or asked for the run, when the audit log says."""
    dst: str | None = None
    """What a daylight-saving change did to this slot."""

    def to_dict(self, zone: ZoneInfo) -> dict[str, Any]:
        """For JSON: times local to ``zone``, with their offsets."""
        return {
            "slot": self.slot.astimezone(zone).isoformat(),
            "outcome": self.outcome.value,
            "reason": self.reason,
            "execution_id": self.execution_id,
            "node": self.node,
            "status": self.status.value if self.status else None,
            "trigger": self.trigger.value if self.trigger else None,
            "attempt": self.attempt,
            "actor": self.actor,
            "dst": self.dst,
        }


@dataclass(frozen=True, slots=True)
class WhyReport:
    task: str
    timezone: str
    since: datetime
    until: datetime
    slots: tuple[SlotExplanation, ...]
    """Oldest first."""
    next: tuple[datetime, ...]
    """The next fire times after ``until`` (UTC), as ``smartcron next`` gives them."""
    has_seconds: bool = False
    """A schedule with seconds: times are shown to the second."""
    truncated: bool = False
    """More slots than ``MAX_SLOTS`` lay in the window: only the newest are explained."""
    state: str | None = None
    """Why those next times will not run (paused, disabled), when that is so."""


_RUNNING_LOOKBACK = 100


def _slot_of(row: Execution) -> datetime:
    return row.scheduled_for


def _start_of(row: Execution) -> datetime:
    assert row.started_at is not None
    return row.started_at


def local_time(moment: datetime, zone: ZoneInfo, *, seconds: bool) -> str:
    """``2026-03-28 02:30 CET`` (with seconds for a schedule with seconds)."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True, slots=True)
class WhyContext:
    """Everything one explanation looks at; built once per report."""

    task: Task
    schedule: Schedule
    now: datetime
    rows: Sequence[Execution]
    """The task's rows around the window, by slot then attempt."""
    changes: Sequence[FlagChange]
    """Oldest first."""
    runners: Sequence[RunnerSeen]
    runner_fresh: timedelta
    """A runner whose newest heartbeat is younger than this is alive."""
    requested_by: Mapping[int, str] = field(default_factory=dict)
    """Manual runs' execution ids -> who asked (the audit log's ``task.run``)."""
    slot_keys: Sequence[datetime] = ()
    """``rows``' slots, in the same order: for finding rows by slot with bisect."""
    signs: Sequence[datetime] = ()
    """Every time a row was started or written, ascending: when a runner was last seen."""
    started: Mapping[Trigger, Sequence[Execution]] = field(default_factory=dict)
    """First attempts that were not missed or skipped, by trigger, by slot."""
    by_start: Sequence[Execution] = ()
    """Rows that started, by the time they started."""

    @classmethod
    def build(cls, rows: Sequence[Execution], **given: Any) -> WhyContext:
        ordered = sorted(rows, key=lambda r: (r.scheduled_for, r.attempt, r.id))
        signs = sorted(moment for r in ordered for moment in (r.started_at, r.finished_at) if moment is not None)
        started: dict[Trigger, list[Execution]] = {}
        for r in ordered:
            if r.attempt == 0 and r.status not in (ExecutionStatus.MISSED, ExecutionStatus.SKIPPED):
                started.setdefault(r.trigger, []).append(r)
        keys = [r.scheduled_for for r in ordered]
        by_start = sorted((r for r in ordered if r.started_at is not None), key=_start_of)
        return cls(rows=ordered, slot_keys=keys, signs=signs, started=started, by_start=by_start, **given)

    def running_at(self, moment: datetime, *, besides: int) -> Execution | None:
        """The latest started row (not ``besides``) still running at ``moment``; looks back over
        ``_RUNNING_LOOKBACK`` starts at most (more only when runs overlap freely)."""
        index = bisect_right(self.by_start, moment, key=_start_of)
        for row in self.by_start[max(0, index - _RUNNING_LOOKBACK) : index][::-1]:
            if row.id != besides and (row.finished_at is None or row.finished_at >= moment):
                return row
        return None

    def first_started(self, trigger: Trigger, after: datetime, until: datetime) -> Execution | None:
        """The first attempt of ``trigger`` not missed or skipped whose slot lies in ``(after, until]``."""
        rows = self.started.get(trigger, ())
        index = bisect_right(rows, after, key=_slot_of)
        found = rows[index] if index < len(rows) else None
        return found if found is not None and found.scheduled_for <= until else None

    def rows_between(self, after: datetime, until: datetime) -> Sequence[Execution]:
        """Rows whose slot lies in ``(after, until]``, by slot."""
        return self.rows[bisect_right(self.slot_keys, after) : bisect_right(self.slot_keys, until)]

    def rows_back_from(self, until: datetime) -> Iterator[Execution]:
        """Rows whose slot is at or before ``until``, newest slot first."""
        for index in range(bisect_right(self.slot_keys, until) - 1, -1, -1):
            yield self.rows[index]

    def last_sign_before(self, moment: datetime) -> datetime | None:
        """The last time before ``moment`` that a row was started or written."""
        index = bisect_left(self.signs, moment)
        return self.signs[index - 1] if index else None

    def local(self, moment: datetime) -> str:
        return local_time(moment, self.schedule.timezone, seconds=self.schedule.has_seconds)

    def alive_runners(self, at: datetime) -> list[RunnerSeen]:
        return [r for r in self.runners if r.active and timedelta(0) <= at - r.last_beat <= self.runner_fresh]

    def matching(self, runners: Sequence[RunnerSeen]) -> list[RunnerSeen]:
        return [r for r in runners if self.task.spec.runs_on(r.name, r.tags)]
