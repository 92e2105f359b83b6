"""Ending runs: timeouts and kills end the whole process group; a grandchild never hangs anything."""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.clock import SystemClock
from smartcron.runner.process.supervisor import ProcessResult, Supervisor
from tests.runner.process_harness import PYTHON, RESULT_WAIT, SupervisorHarness, is_running, live_group_members


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


def test_timeout_terminates_the_whole_group_and_keeps_the_output(harness: SupervisorHarness) -> None:
    spec, spawned = harness.spawn("sleep 600 & echo hi; wait", shell=True, timeout=1.0)
    result = harness.result(spec.execution_id)

    assert result.timed_out
    assert (result.exit_code, result.signal) == (None, signal.SIGTERM)
    assert "hi" in result.output
    assert "hi" in spec.log_path.read_text()
    assert live_group_members(spawned.pgid) == []


def test_task_that_ignores_sigterm_is_killed_after_the_grace(harness: SupervisorHarness) -> None:
    spec, spawned = harness.spawn('trap "" TERM; echo start; sleep 600', shell=True, timeout=1.0, kill_grace=0.5)
    result = harness.result(spec.execution_id)

    assert result.timed_out
    assert result.signal == signal.SIGKILL
    assert result.output == "start\n"
    assert result.duration_ms >= 1500  # the timeout, then the whole grace: SIGTERM changed nothing
    assert live_group_members(spawned.pgid) == []


def test_leader_exit_ends_the_run_although_a_grandchild_holds_stdout(harness: SupervisorHarness) -> None:
    # The grandchild keeps the pipe's write end open for ten minutes: waiting for EOF would hang.
    spec, spawned = harness.spawn("sleep 600 & echo $!", shell=True)
    result = harness.result(spec.execution_id)

    assert (result.exit_code, result.timed_out, result.killed_reason) == (0, False, None)
    grandchild = int(result.output)
    assert not is_running(grandchild)
    assert live_group_members(spawned.pgid) == []


def test_leftover_that_ignores_sigterm_is_killed_after_the_grace(harness: SupervisorHarness) -> None:
    # The leader ignores SIGTERM before starting the grandchild, which inherits that through exec,
    # and exits at once: the leftover is certainly deaf to SIGTERM by the time the leader is gone.
    code = (
        "import signal, subprocess; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(subprocess.Popen(['sleep', '600']).pid)"
    )
    spec, spawned = harness.spawn(PYTHON, "-W", "ignore", "-c", code, kill_grace=0.5)
    result = harness.result(spec.execution_id)

    assert result.exit_code == 0
    assert not is_running(int(result.output))
    assert live_group_members(spawned.pgid) == []


def test_output_still_in_the_pipe_when_the_leader_exits_is_kept(tmp_path: Path) -> None:
    # The supervisor is held busy (in another run's on_exit) while the task enlarges its pipe, fills
    # it with a megabyte, starts a grandchild that keeps the pipe open, and exits. When the supervisor
    # looks again, the exit and the full pipe are both waiting: all of it must still reach the result.
    supervisor_busy, release = threading.Event(), threading.Event()

    def hold_the_supervisor(result: ProcessResult) -> None:
        if result.execution_id == 1:
            supervisor_busy.set()
            release.wait(RESULT_WAIT)

    code = (
        "import fcntl, os, subprocess; subprocess.Popen(['sleep', '600']); "
        "fcntl.fcntl(1, fcntl.F_SETPIPE_SZ, 1024 * 1024); "
        "os.write(1, b''.join(b'%07d\\n' % n for n in range(131072)))"
    )
    with SupervisorHarness(tmp_path, on_exit=hold_the_supervisor) as harness:
        harness.spawn("true", execution_id=1)
        assert supervisor_busy.wait(RESULT_WAIT)
        _, writer = harness.spawn(PYTHON, "-W", "ignore", "-c", code, execution_id=2, preview_bytes=16)
        exited = os.pidfd_open(writer.pid)
        select.select([exited], [], [], RESULT_WAIT)
        os.close(exited)
        release.set()
        result = harness.result(2)

    assert result.exit_code == 0
    assert result.output_bytes == 1024 * 1024
    assert result.output == "0131070\n0131071\n"


def test_kill_ends_the_group_and_records_the_reason(harness: SupervisorHarness) -> None:
    spec, spawned = harness.spawn("sleep 600 & sleep 600", shell=True)

    assert harness.supervisor.kill(spec.execution_id, "replaced")
    result = harness.result(spec.execution_id)

    assert result.killed_reason == "replaced"
    assert not result.timed_out
    assert result.signal == signal.SIGTERM
    assert live_group_members(spawned.pgid) == []


def test_kill_of_a_run_that_is_not_running_says_so(harness: SupervisorHarness) -> None:
    finished = harness.run("true")

    assert not harness.supervisor.kill(finished.execution_id, "operator")
    assert not harness.supervisor.kill(999_999, "operator")


def test_kill_right_after_spawn_is_not_lost(harness: SupervisorHarness) -> None:
    specs = [harness.spawn("sleep", "600")[0] for _ in range(20)]
    for spec in specs:
        assert harness.supervisor.kill(spec.execution_id, "operator")

    results = [harness.result(spec.execution_id) for spec in specs]
    assert {r.killed_reason for r in results} == {"operator"}


def test_the_first_kill_reason_stays_when_killed_again_during_the_grace(
    harness: SupervisorHarness, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    spec, _ = harness.spawn(f'trap "" TERM; echo > {ready}; sleep 600', shell=True, kill_grace=0.5)
    ready.read_text()  # returns once the task has written, i.e. once it ignores SIGTERM

    harness.supervisor.kill(spec.execution_id, "replaced")
    harness.supervisor.kill(spec.execution_id, "operator")
    result = harness.result(spec.execution_id)

    assert (result.killed_reason, result.signal) == ("replaced", signal.SIGKILL)


def test_stop_kills_what_is_still_running_and_reports_it(tmp_path: Path) -> None:
    harness = SupervisorHarness(tmp_path).__enter__()
    spec, spawned = harness.spawn("sleep 600 & sleep 600", shell=True)
    quick = harness.run("echo", "done")

    harness.supervisor.stop(grace=0.2)

    assert harness.result(spec.execution_id).killed_reason == "shutdown"
    assert quick.killed_reason is None
    assert harness.supervisor.running() == set()
    assert live_group_members(spawned.pgid) == []
    with pytest.raises(RuntimeError):
        harness.supervisor.spawn(harness.spec("true"))


def test_stop_lets_runs_finish_within_the_grace(tmp_path: Path) -> None:
    harness = SupervisorHarness(tmp_path).__enter__()
    spec, _ = harness.spawn("sleep 0.3; echo finished", shell=True)

    harness.supervisor.stop(grace=60)

    result = harness.result(spec.execution_id)
    assert (result.exit_code, result.killed_reason, result.output) == (0, None, "finished\n")


def test_a_supervisor_that_never_started_stops_cleanly_and_cannot_start_after() -> None:
    supervisor = Supervisor(clock=SystemClock(), on_exit=lambda result: None)

    supervisor.stop(grace=0)
    supervisor.stop(grace=0)

    with pytest.raises(RuntimeError):
        supervisor.start()
