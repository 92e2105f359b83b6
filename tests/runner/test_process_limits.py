"""Memory, CPU-time and nice limits hold from the task's first instruction (no preexec_fn)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.runner.process.limits import limit_prefix
from tests.runner.process_harness import PYTHON, SupervisorHarness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


ALLOCATE_400_MB = "data = bytearray(400 * 1024 * 1024); print('allocated')"


def test_allocation_beyond_the_memory_limit_fails(harness: SupervisorHarness) -> None:
    limited = harness.run(PYTHON, "-c", ALLOCATE_400_MB, max_memory_mb=200)
    unlimited = harness.run(PYTHON, "-c", ALLOCATE_400_MB)

    assert limited.exit_code == 1
    assert "MemoryError" in limited.output
    assert (unlimited.exit_code, unlimited.output) == (0, "allocated\n")


def test_busy_loop_is_stopped_by_the_cpu_limit(harness: SupervisorHarness) -> None:
    # The timeout is only a safety net; RLIMIT_CPU must end the run long before it.
    result = harness.run(PYTHON, "-c", "while True: pass", max_cpu_seconds=1, timeout=60.0)

    assert not result.timed_out
    assert result.signal in (signal.SIGXCPU, signal.SIGKILL)
    assert result.cpu_user_ms is not None and result.cpu_sys_ms is not None
    # About one second of CPU; rusage splits the kernel's exact runtime by tick samples, so not to the ms.
    assert result.cpu_user_ms + result.cpu_sys_ms >= 500


def _niceness(stat_line: str) -> int:
    # Field 19 of /proc/<pid>/stat; fields after the ')' that closes the command name start at 3.
    return int(stat_line.rsplit(")", 1)[1].split()[16])


def test_nice_shows_in_the_tasks_proc_entry(harness: SupervisorHarness) -> None:
    niced = harness.run("cat", "/proc/self/stat", nice=7)
    plain = harness.run("cat", "/proc/self/stat")

    assert _niceness(niced.output) == 7
    assert _niceness(plain.output) == os.getpriority(os.PRIO_PROCESS, 0)


def test_limits_apply_to_the_task_process_itself(harness: SupervisorHarness) -> None:
    spec, spawned = harness.spawn("sh", "-c", "echo $$; cat /proc/$$/limits", max_memory_mb=300, max_cpu_seconds=5)
    result = harness.result(spec.execution_id)

    pid, _, *rows = result.output.splitlines()
    assert int(pid) == spawned.pid  # the wrappers exec the task in the same process; they do not fork
    limits = {row[:26].strip(): row[26:].split()[:2] for row in rows}
    assert limits["Max address space"] == [str(300 * 1024 * 1024)] * 2
    assert limits["Max cpu time"] == ["5", "6"]  # SIGXCPU at 5 s, SIGKILL a second later


def test_a_task_without_limits_execs_directly() -> None:
    current = os.getpriority(os.PRIO_PROCESS, 0)

    assert limit_prefix(max_memory_mb=None, max_cpu_seconds=None, nice=None) == ()
    assert limit_prefix(max_memory_mb=None, max_cpu_seconds=None, nice=current) == ()
