"""Custom alert rules (DESIGN 4), pure: what each kind means and when it fires.

Each evaluator takes the rows it needs and ``now`` and returns a finding per task that breaks the
rule. Tasks without a finding have their open alert for the rule resolved by the caller, so a rule
alert lasts exactly as long as its condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from smartcron.domain.enums import ExecutionStatus, Severity
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task


class RuleKind(StrEnum):
    LONG_RUN = "long_run"
    """A run still going after ``threshold`` seconds; raised while it runs, resolved when it ends."""
    FAILURE_RATE = "failure_rate"
    """More than ``threshold`` percent of the runs that finished in the last ``window_seconds``
    failed, counted only once at least ``min_runs`` runs finished."""
    NO_SUCCESS = "no_success"
    """No successful run for ``threshold`` seconds (a dead man's switch); active tasks only."""
    SHORT_RUN = "short_run"
    """A successful run that took less than ``threshold`` seconds (did it really do its work?);
    resolved by the next successful run of normal length."""

    @property
    def takes_duration(self) -> bool:
        return self is not RuleKind.FAILURE_RATE


DEFAULT_WINDOW_SECONDS = 3600
DEFAULT_MIN_RUNS = 3
RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def rule_alert_kind(kind: str, rule_id: int) -> str:
    """Kind of the alerts rule ``rule_id`` of ``kind`` raises."""
    return f"rule:{kind}:{rule_id}"


@dataclass(frozen=True, slots=True)
class AlertRule:
    id: int
    name: str
    kind: RuleKind
    threshold: float
    severity: Severity
    task_id: int | None = None
    task_name: str | None = None
    window_seconds: int | None = None
    min_runs: int | None = None
    enabled: bool = True
    created_at: datetime | None = None

    @property
    def alert_kind(self) -> str:
        """Kind of the alerts this rule raises (one open per task)."""
        return rule_alert_kind(self.kind.value, self.id)

    def applies_to(self, task_id: int) -> bool:
        return self.task_id is None or self.task_id == task_id

    def describe(self) -> str:
        """The rule in plain words, for lists and alert messages."""
        scope = f"task {self.task_name}" if self.task_name else "every task"
        if self.kind is RuleKind.FAILURE_RATE:
            window = format_duration(self.window_seconds or DEFAULT_WINDOW_SECONDS)
            runs = self.min_runs or DEFAULT_MIN_RUNS
            return f"{scope}: more than {self.threshold:g}% of runs failed within {window} (at least {runs} runs)"
        words = {
            RuleKind.LONG_RUN: "a run longer than",
            RuleKind.SHORT_RUN: "a successful run shorter than",
            RuleKind.NO_SUCCESS: "no success for",
        }[self.kind]
        return f"{scope}: {words} {format_duration(self.threshold)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "task": self.task_name,
            "threshold": self.threshold,
            "window_seconds": self.window_seconds,
            "min_runs": self.min_runs,
            "severity": self.severity.value,
            "enabled": self.enabled,
            "description": self.describe(),
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class RunCounts:
    finished: int
    failed: int


@dataclass(frozen=True, slots=True)
class RuleFinding:
    task_id: int
    message: str
    details: dict[str, Any]


def _label(task_names: Mapping[int, str], task_id: int) -> str:
    return task_names.get(task_id, f"task {task_id}")


def long_runs(
    rule: AlertRule, running: Iterable[Execution], task_names: Mapping[int, str], now: datetime
) -> dict[int, RuleFinding]:
    """Tasks with a run going for longer than the threshold (the oldest such run per task)."""
    found: dict[int, RuleFinding] = {}
    for run in sorted(running, key=lambda x: (x.started_at or now, x.id)):
        if run.status is not ExecutionStatus.RUNNING or run.started_at is None or not rule.applies_to(run.task_id):
            continue
        elapsed = (now - run.started_at).total_seconds()
        if elapsed <= rule.threshold or run.task_id in found:
            continue
        found[run.task_id] = RuleFinding(
            run.task_id,
            f"{_label(task_names, run.task_id)} has been running for {format_duration(elapsed)} "
            f"(rule {rule.name}: longer than {format_duration(rule.threshold)})",
            {"rule": rule.name, "execution_id": run.id, "started_at": run.started_at.isoformat()},
        )
    return found


def failure_rates(
    rule: AlertRule, counts: Mapping[int, RunCounts], task_names: Mapping[int, str]
) -> dict[int, RuleFinding]:
    """Tasks whose share of failed runs in the window is above the threshold."""
    found: dict[int, RuleFinding] = {}
    minimum = rule.min_runs or DEFAULT_MIN_RUNS
    window = format_duration(rule.window_seconds or DEFAULT_WINDOW_SECONDS)
    for task_id, c in counts.items():
        if not rule.applies_to(task_id) or c.finished < minimum or c.finished == 0:
            continue
        rate = 100.0 * c.failed / c.finished
        if rate > rule.threshold:
            found[task_id] = RuleFinding(
                task_id,
                f"{_label(task_names, task_id)}: {c.failed} of {c.finished} runs failed within {window} "
                f"({rate:.0f}%; rule {rule.name}: over {rule.threshold:g}%)",
                {"rule": rule.name, "finished": c.finished, "failed": c.failed, "rate": round(rate, 1)},
            )
    return found


def no_success(rule: AlertRule, tasks: Iterable[Task], now: datetime) -> dict[int, RuleFinding]:
    """Active tasks without a success for longer than the threshold (since creation if never)."""
    found: dict[int, RuleFinding] = {}
    for task in tasks:
        if not task.active or not rule.applies_to(task.id):
            continue
        since = task.last_success_at or task.created_at
        if since is None or (now - since).total_seconds() <= rule.threshold:
            continue
        what = "no successful run" if task.last_success_at is None else "no success"
        found[task.id] = RuleFinding(
            task.id,
            f"{task.spec.category}/{task.name}: {what} for {format_duration((now - since).total_seconds())} "
            f"(rule {rule.name}: {format_duration(rule.threshold)})",
            {"rule": rule.name, "last_success_at": task.last_success_at.isoformat() if task.last_success_at else None},
        )
    return found


def short_run(rule: AlertRule, execution: Execution, task_label: str) -> RuleFinding | None:
    """A successful run that finished faster than the threshold, or None."""
    seconds = _successful_run_seconds(rule, execution)
    if seconds is None or seconds >= rule.threshold:
        return None
    return RuleFinding(
        execution.task_id,
        f"{task_label} finished in {format_duration(seconds)} (rule {rule.name}: shorter than "
        f"{format_duration(rule.threshold)})",
        {"rule": rule.name, "execution_id": execution.id, "duration_ms": execution.duration_ms},
    )


def ends_short_run(rule: AlertRule, execution: Execution) -> bool:
    """A successful run of normal length: the task's short-run alert is over."""
    seconds = _successful_run_seconds(rule, execution)
    return seconds is not None and seconds >= rule.threshold


def _successful_run_seconds(rule: AlertRule, execution: Execution) -> float | None:
    if not rule.applies_to(execution.task_id) or execution.status is not ExecutionStatus.SUCCESS:
        return None
    return None if execution.duration_ms is None else execution.duration_ms / 1000


# -- durations as people write them ------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float | None:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds; None when it is not a duration."""
    match = _DURATION.match(text)
    if not match:
        return None
    unit = (match.group(2) or "s").lower()
    return float(match.group(1)) * _UNIT_SECONDS[unit]


def format_duration(seconds: float) -> str:
    """``45 s``, ``2 min 5 s``, ``3 h 20 min``, ``2 d 4 h``: enough precision for a person."""
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
