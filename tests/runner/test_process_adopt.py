"""After a runner restart: adopting a live process group it did not spawn, and finding lost processes."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartcron.runner.process.procinfo import find_processes_of, kill_group, process_start_time
from tests.runner.process_harness import CHILD_PATH, SupervisorHarness, is_running, live_group_members


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


@pytest.fixture
def orphan_group() -> Iterator[subprocess.Popen[bytes]]:
    """A task group as a dead runner would have left it: a leader with a grandchild, in its own group."""
    env = {"PATH": CHILD_PATH, "SMARTCRON_EXECUTION_ID": "500"}
    process = subprocess.Popen(
        ["sh", "-c", "sleep 600 & sleep 600"], process_group=0, env=env, stdout=subprocess.DEVNULL
    )
    yield process
    if process.poll() is None:  # the test failed before the group was ended
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_adopted_group_is_killed_at_its_timeout_and_reported(
    harness: SupervisorHarness, orphan_group: subprocess.Popen[bytes]
) -> None:
    now = datetime.now(UTC)
    adopted = harness.supervisor.adopt(
        500,
        pid=orphan_group.pid,
        pgid=orphan_group.pid,
        proc_start=process_start_time(orphan_group.pid),
        started_at=now - timedelta(minutes=5),
        timeout_at=now + timedelta(seconds=1),
        kill_grace=0.5,
    )
    result = harness.result(500)

    assert adopted
    assert result.timed_out
    assert (result.exit_code, result.signal, result.output) == (None, None, "")  # not our child
    assert result.duration_ms >= 5 * 60 * 1000
    assert orphan_group.wait() == -signal.SIGTERM
    assert live_group_members(orphan_group.pid) == []


def test_adopted_group_past_its_timeout_is_ended_at_once(
    harness: SupervisorHarness, orphan_group: subprocess.Popen[bytes]
) -> None:
    now = datetime.now(UTC)
    harness.supervisor.adopt(
        500,
        pid=orphan_group.pid,
        pgid=orphan_group.pid,
        proc_start=process_start_time(orphan_group.pid),
        started_at=now - timedelta(hours=2),
        timeout_at=now - timedelta(hours=1),
        kill_grace=0.5,
    )

    assert harness.result(500).timed_out
    assert live_group_members(orphan_group.pid) == []


def test_adopted_group_can_be_killed(harness: SupervisorHarness, orphan_group: subprocess.Popen[bytes]) -> None:
    pid = orphan_group.pid
    now = datetime.now(UTC)
    harness.supervisor.adopt(500, pid=pid, pgid=pid, proc_start=None, started_at=now, timeout_at=None, kill_grace=0.5)

    assert harness.supervisor.kill(500, "operator")
    assert harness.result(500).killed_reason == "operator"
    assert live_group_members(pid) == []


def test_a_pid_that_now_names_another_process_is_not_adopted(
    harness: SupervisorHarness, orphan_group: subprocess.Popen[bytes]
) -> None:
    pid = orphan_group.pid
    start = process_start_time(pid)
    assert start is not None
    now = datetime.now(UTC)

    adopted = harness.supervisor.adopt(
        500, pid=pid, pgid=pid, proc_start=start - 1, started_at=now, timeout_at=None, kill_grace=0.5
    )

    assert not adopted
    assert harness.supervisor.running() == set()
    assert is_running(pid)


def test_a_process_that_is_gone_is_not_adopted(harness: SupervisorHarness) -> None:
    finished = subprocess.Popen(["true"], process_group=0)
    finished.wait()
    now = datetime.now(UTC)

    assert not harness.supervisor.adopt(
        501, pid=finished.pid, pgid=finished.pid, proc_start=None, started_at=now, timeout_at=None, kill_grace=1
    )
    assert not harness.supervisor.adopt(
        502, pid=os.getpid(), pgid=os.getpgrp(), proc_start=None, started_at=now, timeout_at=None, kill_grace=1
    )


def test_processes_of_a_run_are_found_by_their_environment(harness: SupervisorHarness) -> None:
    # The grandchild leaves the task's session and group: only its environment still ties it to the run.
    # Ids nothing else uses: the search covers every process on the machine, other test runs too.
    mine = 7_000_000 + secrets.randbelow(1_000_000_000)
    other = mine + 1
    spec, spawned = harness.spawn("setsid sleep 600 & echo $!; exec sleep 600", shell=True, execution_id=mine)
    escaped = None
    try:
        assert spawned.pid in find_processes_of(mine)
        assert find_processes_of(other) == []
        # Killed only once the grandchild has left the session (else it would go with the group).
        session = os.getsid(spawned.pid)

        def escaped_yet() -> bool:
            with contextlib.suppress(ProcessLookupError):
                return any(os.getsid(pid) != session for pid in find_processes_of(mine))
            return False

        deadline = time.monotonic() + 30
        while not escaped_yet() and time.monotonic() < deadline:
            time.sleep(0.01)
        harness.supervisor.kill(spec.execution_id, "operator")
        escaped = int(harness.result(spec.execution_id).output)
        assert find_processes_of(mine) == [escaped]  # the group is gone; the escapee is still found
    finally:
        for pid in [escaped, *find_processes_of(mine)]:
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_kill_group_refuses_groups_that_would_hit_the_runner() -> None:
    for pgid in (0, 1, os.getpgrp()):
        with pytest.raises(ValueError, match="refusing"):
            kill_group(pgid, signal.SIGTERM)


def test_kill_group_says_when_the_group_is_gone() -> None:
    gone = subprocess.Popen(["true"], process_group=0)
    gone.wait()

    assert not kill_group(gone.pid, signal.SIGTERM)
