"""Starting a task process: argv or shell, its own group, stdin, one output stream, cwd, env, status."""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.runner.process.supervisor import (
    FILES_KEPT,
    FILES_PER_RUN,
    ProcessResult,
    ProcessSpec,
    process_alive,
    process_start_time,
)
from tests.runner.process_harness import PYTHON, SupervisorHarness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


def test_argv_runs_without_a_shell(harness: SupervisorHarness) -> None:
    result = harness.run("echo", "$HOME", "a;b", "*")

    assert result.exit_code == 0
    assert result.output == "$HOME a;b *\n"


def test_shell_command_runs_through_sh(harness: SupervisorHarness) -> None:
    result = harness.run("echo $((1 + 2)) | tr 3 x", shell=True)

    assert result.output == "x\n"


def test_child_leads_its_own_process_group_and_reads_an_empty_stdin(harness: SupervisorHarness) -> None:
    code = "import os, sys; print(os.getpid(), os.getpgrp(), os.getsid(0), repr(sys.stdin.read()))"
    spec, spawned = harness.spawn(PYTHON, "-c", code)
    result = harness.result(spec.execution_id)

    pid, pgid, sid, stdin = result.output.split()
    assert int(pid) == int(pgid) == int(sid) == spawned.pid == spawned.pgid
    assert int(pgid) != os.getpgrp()
    assert stdin == "''"


def test_child_gets_no_descriptor_and_no_ignored_signal_of_the_runner(tmp_path: Path) -> None:
    # A descriptor the runner inherited from whoever started it (open, not close-on-exec).
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    try:
        with SupervisorHarness(tmp_path) as harness:
            fd = harness.run("sh", "-c", f"test -e /proc/self/fd/{write_end} && echo leaked || echo closed")
            status = harness.run("grep", "SigIgn", "/proc/self/status")
    finally:
        os.close(read_end)
        os.close(write_end)

    assert fd.output == "closed\n"
    ignored = int(status.output.split()[1], 16)
    # Python ignores SIGPIPE and SIGXFSZ; a task must get them back at their defaults, as from a shell.
    assert ignored & (1 << (signal.SIGPIPE - 1) | 1 << (signal.SIGXFSZ - 1)) == 0


def test_command_is_found_on_the_tasks_own_path(harness: SupervisorHarness, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "only-here").write_text("#!/bin/sh\necho found on the task PATH\n")
    (tools / "only-here").chmod(0o755)

    result = harness.run("only-here", env={"PATH": f"{tools}:/usr/bin:/bin"})

    assert (result.exit_code, result.output) == (0, "found on the task PATH\n")


def test_stdout_and_stderr_go_to_the_log_after_a_header_line(harness: SupervisorHarness) -> None:
    spec = harness.spec("echo out; echo err >&2; echo again", shell=True, header="=== first ===")
    harness.supervisor.spawn(spec)
    harness.result(spec.execution_id)
    second = harness.spec("echo later", shell=True, header="=== second ===", log_path=spec.log_path)
    harness.supervisor.spawn(second)
    harness.result(second.execution_id)

    assert spec.log_path.read_text() == "=== first ===\nout\nerr\nagain\n=== second ===\nlater\n"


def test_header_is_written_even_when_the_task_prints_nothing(harness: SupervisorHarness) -> None:
    spec = harness.spec("true", header="=== quiet ===")
    harness.supervisor.spawn(spec)
    result = harness.result(spec.execution_id)

    assert spec.log_path.read_text() == "=== quiet ===\n"
    assert (result.output, result.output_bytes, result.truncated) == ("", 0, False)


def test_child_gets_the_working_directory_and_exactly_the_given_environment(
    harness: SupervisorHarness, tmp_path: Path
) -> None:
    env = {"PATH": "/usr/bin:/bin", "GREETING": "hello world"}
    result = harness.run("sh", "-c", "pwd; env", cwd=str(tmp_path), env=env, execution_id=41, task_name="nightly")

    cwd, *variables = result.output.splitlines()
    assert cwd == str(tmp_path)
    # sh itself adds PWD; everything else is what the runner passed plus the two smartcron variables.
    assert sorted(v for v in variables if not v.startswith("PWD=")) == [
        "GREETING=hello world",
        "PATH=/usr/bin:/bin",
        "SMARTCRON_EXECUTION_ID=41",
        "SMARTCRON_TASK=nightly",
    ]


def test_smartcron_variables_from_the_caller_are_kept(harness: SupervisorHarness) -> None:
    env = {"PATH": "/usr/bin:/bin", "SMARTCRON_EXECUTION_ID": "7", "SMARTCRON_TASK": "given"}
    result = harness.run("sh", "-c", "echo $SMARTCRON_EXECUTION_ID $SMARTCRON_TASK", env=env, execution_id=7)

    assert result.output == "7 given\n"


def test_exit_code_is_reported(harness: SupervisorHarness) -> None:
    result = harness.run("exit 3", shell=True)

    assert (result.exit_code, result.signal, result.timed_out, result.spawn_error) == (3, None, False, None)


def test_death_by_signal_reports_the_signal_and_no_exit_code(harness: SupervisorHarness) -> None:
    result = harness.run("kill -KILL $$", shell=True)

    assert (result.exit_code, result.signal) == (None, signal.SIGKILL)


def test_peak_memory_and_cpu_time_come_from_the_kernel(harness: SupervisorHarness) -> None:
    # 300 MB touched (bytes * n writes every page), then a CPU-bound loop.
    code = "data = b'x' * (300 * 1024 * 1024); total = sum(range(20_000_000))"
    result = harness.run(PYTHON, "-c", code)

    assert result.exit_code == 0
    assert result.max_rss_kb is not None and result.max_rss_kb >= 300 * 1024
    assert result.cpu_user_ms is not None and result.cpu_user_ms >= 100
    assert result.cpu_sys_ms is not None


def test_a_task_smaller_than_the_spawner_has_a_bound_for_its_peak_not_the_spawners_size(
    harness: SupervisorHarness,
) -> None:
    # The kernel reports max(the task's peak, the spawner's peak) for a process it exec'd.
    runner_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    spawner_peak_kb = harness.supervisor.spawner_peak_kb
    assert 0 < spawner_peak_kb < runner_peak_kb, "the spawner is the small process, not the runner"

    small = harness.run("true")
    # 40 MB, above the spawner's mark and below this test process's: exact, not the runner's size.
    medium = harness.run(PYTHON, "-S", "-c", "data = b'x' * (40 * 1024 * 1024)")

    assert (small.exit_code, small.max_rss_kb) == (0, None)
    assert small.max_rss_kb_below is not None and small.max_rss_kb_below <= spawner_peak_kb + 1024
    assert medium.max_rss_kb is not None and 40 * 1024 <= medium.max_rss_kb < runner_peak_kb
    assert medium.max_rss_kb_below is None


def test_times_and_duration_are_reported(harness: SupervisorHarness) -> None:
    spec, spawned = harness.spawn("sleep 0.2", shell=True)
    result = harness.result(spec.execution_id)

    assert result.started_at == spawned.started_at
    assert result.finished_at > result.started_at
    assert result.duration_ms >= 200
    assert result.started_at.utcoffset() is not None


def test_spawned_process_is_identified_by_pid_and_start_time(harness: SupervisorHarness) -> None:
    spec, spawned = harness.spawn("sleep", "600")

    assert spawned.proc_start is not None
    assert process_start_time(spawned.pid) == spawned.proc_start
    assert process_alive(spawned.pid, spawned.proc_start)
    assert not process_alive(spawned.pid, spawned.proc_start + 1)  # same pid, another process
    harness.supervisor.kill(spec.execution_id, "operator")
    harness.result(spec.execution_id)
    assert not process_alive(spawned.pid, spawned.proc_start)


def test_a_batch_reports_each_start_with_its_identity_when_it_ends(harness: SupervisorHarness) -> None:
    specs = [harness.spec("sleep", "600") for _ in range(5)]
    failed = harness.spec("no-such-command-anywhere")
    with harness.supervisor.batch() as batch:
        for spec in [*specs[:3], failed, *specs[3:]]:
            batch.spawn(spec)
        assert batch.started == []  # the spawner starts them when the batch ends
    try:
        assert [s.execution_id for s in batch.started] == [spec.execution_id for spec in specs]
        for started, spec in zip(batch.started, specs, strict=True):
            assert started.pid > 0
            assert started.proc_start == process_start_time(started.pid)
            assert spec.log_path.read_text() == spec.header + "\n"
    finally:
        for spec in specs:
            harness.supervisor.kill(spec.execution_id, "operator")
    assert harness.result(failed.execution_id).exit_code == 127
    for spec in specs:
        assert harness.result(spec.execution_id).killed_reason == "operator"


def test_processes_of_a_batch_whose_end_fails_are_still_watched_and_reported(
    harness: SupervisorHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Out of descriptors while the batch ends (EMFILE reading /proc): the processes already run.
    def no_descriptors(pid: int) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr("smartcron.runner.process.supervisor.process_start_time", no_descriptors)
    specs = [harness.spec("true") for _ in range(3)]
    with harness.supervisor.batch() as batch:
        for spec in specs:
            batch.spawn(spec)

    assert [s.proc_start for s in batch.started] == [None, None, None]
    assert [harness.result(spec.execution_id).exit_code for spec in specs] == [0, 0, 0]
    assert harness.supervisor.wait_idle(timeout=10)


def test_the_supervisor_sizes_its_runs_by_the_open_file_limit_and_leaves_the_limit_alone(
    harness: SupervisorHarness,
) -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = soft if soft != resource.RLIM_INFINITY else 1 << 20

    assert harness.supervisor.max_runs == (limit - FILES_KEPT) // FILES_PER_RUN
    result = harness.run(PYTHON, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    assert result.output == f"{soft}\n", "a task inherits the runner's own limit"


def test_an_execution_id_cannot_run_twice_at_once(harness: SupervisorHarness) -> None:
    spec, _ = harness.spawn("sleep", "600")

    with pytest.raises(ValueError, match="already running"):
        harness.supervisor.spawn(spec)
    harness.supervisor.kill(spec.execution_id, "operator")
    harness.result(spec.execution_id)


def test_a_failing_on_exit_does_not_stop_supervision(tmp_path: Path) -> None:
    def explode(result: ProcessResult) -> None:
        if result.execution_id == 1:
            raise RuntimeError("the database is on fire")

    with SupervisorHarness(tmp_path, on_exit=explode, errors_expected=True) as harness:
        first = harness.run("true", execution_id=1)
        second = harness.run("echo", "still here", execution_id=2)

    assert first.exit_code == 0
    assert second.output == "still here\n"
    assert harness.logged_errors == ["on_exit failed"]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"argv": ()}, "argv"),
        ({"shell": True}, "shell string"),
        ({"timeout": 0.0}, "timeout"),
        ({"max_memory_mb": 0}, "max_memory_mb"),
        ({"nice": 20}, "nice"),
    ],
)
def test_an_impossible_process_spec_is_refused(overrides: dict[str, object], problem: str) -> None:
    fields: dict[str, object] = {
        "execution_id": 1,
        "task_name": "t",
        "argv": ("echo", "a"),
        "shell": False,
        "cwd": None,
        "env": {},
        "timeout": None,
        "kill_grace": 1.0,
        "max_memory_mb": None,
        "max_cpu_seconds": None,
        "nice": None,
        "log_path": Path("/nonexistent/t.log"),
        "header": "h",
    }
    fields.update(overrides)

    with pytest.raises(ValueError, match=problem):
        ProcessSpec(**fields)  # type: ignore[arg-type]
