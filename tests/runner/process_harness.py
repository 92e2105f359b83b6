"""A started Supervisor with a results collector, for the process tests (real processes, real clock)."""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from smartcron.clock import SystemClock
from smartcron.runner.process.supervisor import ProcessResult, ProcessSpec, Spawned, Supervisor

PYTHON = sys.executable
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
RESULT_WAIT = 30.0  # a bound that only a hang reaches; never a performance assertion


class SupervisorHarness:
    """Spawns through a real Supervisor and collects every ``on_exit`` call."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        on_exit: Callable[[ProcessResult], None] | None = None,
        errors_expected: bool = False,
    ) -> None:
        self.log_dir = tmp_path / "logs"
        self.reports: list[ProcessResult] = []
        self._extra_on_exit = on_exit
        self._reported = threading.Condition()
        self._ids = itertools.count(1)
        self.supervisor = Supervisor(clock=SystemClock(), on_exit=self._on_exit)
        self._errors = _ErrorRecords()
        self._errors_expected = errors_expected

    def __enter__(self) -> SupervisorHarness:
        logging.getLogger("smartcron.runner").addHandler(self._errors)
        self.supervisor.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.supervisor.stop(0)
        finally:
            logging.getLogger("smartcron.runner").removeHandler(self._errors)
        # The supervisor survives its own errors by logging them; a test must not.
        if not self._errors_expected:
            assert self.logged_errors == []

    @property
    def logged_errors(self) -> list[str]:
        return [record.getMessage() for record in self._errors.records]

    def _on_exit(self, result: ProcessResult) -> None:
        with self._reported:
            self.reports.append(result)
            self._reported.notify_all()
        if self._extra_on_exit is not None:
            self._extra_on_exit(result)

    def spec(self, *argv: str, shell: bool = False, **overrides: Any) -> ProcessSpec:
        execution_id = overrides.pop("execution_id", None) or next(self._ids)
        fields: dict[str, Any] = {
            "execution_id": execution_id,
            "task_name": f"task{execution_id}",
            "argv": argv,
            "shell": shell,
            "cwd": None,
            "env": {"PATH": CHILD_PATH},
            "timeout": None,
            "kill_grace": 0.5,
            "max_memory_mb": None,
            "max_cpu_seconds": None,
            "nice": None,
            "log_path": self.log_dir / "tasks" / f"default_task{execution_id}.log",
            "header": f"=== run {execution_id} ===",
        }
        fields.update(overrides)
        return ProcessSpec(**fields)

    def spawn(self, *argv: str, shell: bool = False, **overrides: Any) -> tuple[ProcessSpec, Spawned]:
        spec = self.spec(*argv, shell=shell, **overrides)
        return spec, self.supervisor.spawn(spec)

    def run(self, *argv: str, shell: bool = False, **overrides: Any) -> ProcessResult:
        spec, _ = self.spawn(*argv, shell=shell, **overrides)
        return self.result(spec.execution_id)

    def result(self, execution_id: int, timeout: float = RESULT_WAIT) -> ProcessResult:
        with self._reported:
            found = self._reported.wait_for(lambda: self._find(execution_id) is not None, timeout)
            assert found, f"execution {execution_id} was not reported within {timeout} s"
            result = self._find(execution_id)
            assert result is not None
            return result

    def _find(self, execution_id: int) -> ProcessResult | None:
        matches = [r for r in self.reports if r.execution_id == execution_id]
        assert len(matches) <= 1, f"execution {execution_id} reported {len(matches)} times"
        return matches[0] if matches else None


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def live_group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still alive; zombies (exited, awaiting their reaper) excluded.

    ``os.killpg(pgid, 0)`` alone cannot say this: it succeeds while an exited member waits to be
    reaped by init, which here reaps orphans only every second or two.
    """
    alive = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return alive


def is_running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
