"""Outcomes waiting for the database: kept on disk until they are written (DESIGN 9).

While the database is unreachable, runs keep running and ending. The recorder keeps their
outcomes in memory and tries again with growing pauses; it also puts each one here, one small
JSON file per run under ``<data_dir>/spool/<node>/``, written to a temporary name, flushed to disk
and renamed, so a file is either whole or absent. A runner that is stopped or killed meanwhile
loses nothing: the next runner of the node (daemon or tick) writes the spooled outcomes with their
real times before anything else. Each outcome carries the lease token of its run, so if another
node took the run over meanwhile the write changes nothing (the fence) and the file is dropped.

The spool is bounded (``SPOOL_LIMIT`` files): at most the runs that were running when the database
went away can end while it is away (nothing starts without it), so the bound is only reached by a
runner that is misconfigured, and past it the outcome is logged to errors.log instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from smartcron.domain.enums import ErrorCategory, ExecutionStatus
from smartcron.domain.execution import Outcome

log = logging.getLogger(__name__)

SPOOL_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    execution_id: int
    task_id: int
    token: str | None
    outcome: Outcome


def outcome_to_json(outcome: Outcome) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in fields(outcome):
        value = getattr(outcome, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, ExecutionStatus | ErrorCategory):
            value = value.value
        data[f.name] = value
    return data


def outcome_from_json(data: dict[str, Any]) -> Outcome:
    values = dict(data)
    values["status"] = ExecutionStatus(values["status"])
    values["finished_at"] = datetime.fromisoformat(values["finished_at"])
    if values.get("error_category"):
        values["error_category"] = ErrorCategory(values["error_category"])
    return Outcome(**values)


class Spool:
    def __init__(self, directory: Path, *, limit: int = SPOOL_LIMIT) -> None:
        self.directory = directory
        self._limit = limit

    def _path(self, execution_id: int) -> Path:
        return self.directory / f"{int(execution_id)}.json"

    def put(self, entries: Iterable[SpoolEntry]) -> set[int]:
        """Keep these outcomes on disk; returns the ids kept (not those past the bound or unwritable)."""
        kept: set[int] = set()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            room = self._limit - sum(1 for _ in self.directory.glob("*.json"))
        except OSError as exc:
            log.error("cannot use the spool %s: %s", self.directory, exc.strerror, extra={"action": "record"})
            return kept
        for entry in entries:
            if room <= 0:
                log.error("the spool %s is full", self.directory, extra={"action": "record"})
                break
            document = {
                "execution_id": entry.execution_id,
                "task_id": entry.task_id,
                "token": entry.token,
                "outcome": outcome_to_json(entry.outcome),
            }
            try:
                self._write(self._path(entry.execution_id), json.dumps(document))
            except OSError as exc:
                log.error("cannot spool run %s: %s", entry.execution_id, exc.strerror, extra={"action": "record"})
                continue
            kept.add(entry.execution_id)
            room -= 1
        if kept:
            self._sync_directory()
        return kept

    def _write(self, path: Path, text: str) -> None:
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)

    def _sync_directory(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def remove(self, execution_ids: Iterable[int]) -> None:
        for execution_id in execution_ids:
            with contextlib.suppress(FileNotFoundError):
                self._path(execution_id).unlink()

    def load(self) -> list[SpoolEntry]:
        """Every outcome kept, oldest run first; unreadable files are logged and left alone."""
        entries = []
        try:
            paths = sorted(self.directory.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
        except OSError:
            return []
        for path in paths:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
                entries.append(
                    SpoolEntry(
                        int(document["execution_id"]),
                        int(document["task_id"]),
                        document.get("token"),
                        outcome_from_json(document["outcome"]),
                    )
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("unreadable spool file %s: %s", path, exc, extra={"action": "record"})
        return entries
