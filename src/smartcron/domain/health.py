"""Results of health checks and success indicators: what the monitor found, with no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smartcron.domain.enums import CheckStatus

_SEVERITY_ORDER = (CheckStatus.OK, CheckStatus.WARN, CheckStatus.FAIL)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict. ``value`` is the measured figure (percent, seconds, count) or None."""

    name: str
    status: CheckStatus
    value: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "value": self.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class RecordedCheck:
    """A check result as stored in ``smart_cron_health_checks``: when and on which node."""

    at: datetime
    node: str | None
    result: CheckResult

    @property
    def name(self) -> str:
        return self.result.name

    @property
    def status(self) -> CheckStatus:
        return self.result.status

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict() | {"at": self.at.isoformat(), "node": self.node}


def worst_status(statuses: Iterable[CheckStatus]) -> CheckStatus:
    """The most severe status among ``statuses`` (OK when there are none)."""
    return max(statuses, key=_SEVERITY_ORDER.index, default=CheckStatus.OK)


def threshold_status(value: float, *, warn_at: float, fail_at: float | None = None) -> CheckStatus:
    """FAIL at or above ``fail_at``, WARN at or above ``warn_at``, else OK."""
    if fail_at is not None and value >= fail_at:
        return CheckStatus.FAIL
    if value >= warn_at:
        return CheckStatus.WARN
    return CheckStatus.OK
