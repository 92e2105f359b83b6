"""Silences: for a while, no message about the alerts of a task, of a custom rule, or of a rule
on one task. The alerts are still raised, stored, counted and shown; only mail and other channels
stay quiet. A silence ends at ``until`` or when someone removes it; an alert still open then
gets its first message or reminder at once, as after a snooze."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Silence:
    id: int
    task_id: int | None
    task_name: str | None
    rule_id: int | None
    rule_name: str | None
    rule_alert_kind: str | None
    """The kind of the alerts the rule raises (``rule:KIND:ID``)."""
    until: datetime
    reason: str | None
    created_by: str
    created_at: datetime

    def matches(self, kind: str, task_id: int | None) -> bool:
        """Whether an alert of ``kind`` about ``task_id`` is silenced by this (if it is active)."""
        if self.task_id is not None and task_id != self.task_id:
            return False
        return self.rule_alert_kind is None or kind == self.rule_alert_kind

    def active(self, now: datetime) -> bool:
        return self.until > now

    def describe(self) -> str:
        """``task payroll``, ``rule flaky``, ``rule flaky on task payroll``."""
        parts = []
        if self.rule_name is not None:
            parts.append(f"rule {self.rule_name}")
        if self.task_name is not None:
            parts.append(("on task " if parts else "task ") + self.task_name)
        return " ".join(parts) or "everything"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task_name,
            "rule": self.rule_name,
            "until": self.until.isoformat(),
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


def silenced_until(silences: Sequence[Silence], kind: str, task_id: int | None, now: datetime) -> datetime | None:
    """Until when an alert of ``kind`` about ``task_id`` is silenced at ``now`` (the latest end
    among the silences in force that cover it), or None when none does."""
    ends = [s.until for s in silences if s.active(now) and s.matches(kind, task_id)]
    return max(ends, default=None)
