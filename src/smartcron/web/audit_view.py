"""An audit entry's details as a person reads them: ``schedule: */5 * * * * → 0 * * * *`` for each
changed field, ``role: operator`` for a plain value, and a whole task-file entry (a task added or
removed) as its settings, instead of the raw JSON the store keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smartcron.web.rendering import format_setting

NOTHING = "(none)"


@dataclass(frozen=True, slots=True)
class AuditDetails:
    lines: list[str]
    """One line per changed field or plain value."""
    groups: list[tuple[str, list[str]]] = field(default_factory=list)
    """(label, lines) for a nested record, such as the task-file entry of ``task.add``."""


def _value(value: Any, key: str = "", spec: Mapping[str, Any] | None = None) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return NOTHING
    return format_setting(value, key, spec)


def _is_change(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"old", "new"}


def describe_details(details: Mapping[str, Any] | None) -> AuditDetails:
    """Pure: the lines shown for ``details``."""
    lines: list[str] = []
    groups: list[tuple[str, list[str]]] = []
    for key, value in (details or {}).items():
        if key == "changes" and isinstance(value, Mapping) and all(_is_change(v) for v in value.values()):
            for name, change in value.items():
                lines.append(f"{name}: {_value(change['old'], name)} → {_value(change['new'], name)}")
        elif _is_change(value):
            lines.append(f"{key}: {_value(value['old'], key)} → {_value(value['new'], key)}")
        elif isinstance(value, Mapping):
            groups.append((key, [f"{k}: {_value(v, k, value)}" for k, v in value.items() if v not in (None, [], {})]))
        else:
            lines.append(f"{key}: {_value(value, key)}")
    return AuditDetails(lines=lines, groups=groups)
