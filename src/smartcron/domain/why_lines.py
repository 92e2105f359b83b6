"""A :class:`~smartcron.domain.why_model.WhyReport` as lines a person reads, for the CLI and the
dashboard alike.

One line per record, times in the task's zone with the zone's abbreviation. A listing longer than
``GROUP_AFTER`` lines (a task every minute, or with seconds) is made readable by grouping: every
run of at least ``GROUP_MIN`` consecutive records with the same outcome and status becomes one line,
``2026-03-28 14:00:00-14:59:58 CET  ran  1,800 times, all success``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.why_model import SlotExplanation, WhyOutcome, WhyReport, local_time

GROUP_AFTER = 100
"""A listing of more records than this has its runs of identical outcomes grouped."""
GROUP_MIN = 3
"""The fewest consecutive identical records that become one line."""

_QUIET = (WhyOutcome.PAUSED, WhyOutcome.DISABLED, WhyOutcome.NOT_DUE, WhyOutcome.NO_RECORD, WhyOutcome.WAITING)
_WORRYING = (WhyOutcome.SKIPPED, WhyOutcome.MISSED, WhyOutcome.NO_RUNNER, WhyOutcome.CANCELLED)


@dataclass(frozen=True, slots=True)
class WhyLine:
    when: str
    outcome: str
    text: str
    tone: str
    """``ok``, ``warn``, ``bad`` or ``muted``: how the dashboard colours it (its badge classes)."""
    count: int = 1
    execution_id: int | None = None

    def render(self, outcome_width: int = 9, when_width: int = 0) -> str:
        return f"{self.when.ljust(when_width)}  {self.outcome.ljust(outcome_width)}  {self.text}".rstrip()


def why_lines(report: WhyReport) -> list[WhyLine]:
    seconds = report.has_seconds
    zone = ZoneInfo(report.timezone)
    records = list(report.slots)
    if len(records) <= GROUP_AFTER:
        return [_line(record, zone, seconds) for record in records]
    lines: list[WhyLine] = []
    start = 0
    while start < len(records):
        end = start + 1
        while end < len(records) and _key(records[end]) == _key(records[start]):
            end += 1
        if end - start >= GROUP_MIN:
            lines.append(_group(records[start:end], zone, seconds))
        else:
            lines += [_line(record, zone, seconds) for record in records[start:end]]
        start = end
    return lines


def next_lines(report: WhyReport) -> list[str]:
    """The next fire times: local with abbreviation, then UTC."""
    seconds = report.has_seconds
    zone = ZoneInfo(report.timezone)
    return [
        f"{local_time(moment, zone, seconds=seconds)}  ({moment.strftime('%Y-%m-%dT%H:%M:%SZ')})"
        for moment in report.next
    ]


def _key(record: SlotExplanation) -> tuple[WhyOutcome, ExecutionStatus | None]:
    return record.outcome, record.status


def _line(record: SlotExplanation, zone: ZoneInfo, seconds: bool) -> WhyLine:
    text = record.reason
    if record.dst and record.outcome is not WhyOutcome.NOT_DUE:
        text += f" [{record.dst}]"
    return WhyLine(
        local_time(record.slot, zone, seconds=seconds),
        record.outcome.value,
        text,
        _tone(record),
        1,
        record.execution_id,
    )


def _group(records: Sequence[SlotExplanation], zone: ZoneInfo, seconds: bool) -> WhyLine:
    first, last = records[0], records[-1]
    start, end = local_time(first.slot, zone, seconds=seconds), local_time(last.slot, zone, seconds=seconds)
    start_day, start_clock, start_abbr = start.split(" ")
    end_day, end_clock, end_abbr = end.split(" ")
    when = (
        f"{start_day} {start_clock}-{end_clock} {end_abbr}"
        if (start_day, start_abbr) == (end_day, end_abbr)
        else f"{start}-{end}"
    )
    count = f"{len(records):,} times"
    if first.outcome in (WhyOutcome.RAN, WhyOutcome.MANUAL, WhyOutcome.RETRY) and first.status is not None:
        ids = f" (#{first.execution_id}-#{last.execution_id})" if first.execution_id and last.execution_id else ""
        text = f"{count}, all {first.status.value}{ids}"
    elif all(r.reason == first.reason for r in records):
        text = f"{count}: {first.reason}"
    else:
        text = f"{count}; the first: {first.reason}"
    return WhyLine(when, first.outcome.value, text, _tone(first), len(records), first.execution_id)


def _tone(record: SlotExplanation) -> str:
    if record.outcome in _QUIET:
        return "muted"
    if record.outcome in _WORRYING:
        return "warn"
    if record.status is not None and record.status.is_failure:
        return "bad"
    return "ok"
