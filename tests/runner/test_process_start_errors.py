"""A command that cannot start is reported like a run that ended, with the code a shell would give."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.process_harness import SupervisorHarness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


@pytest.fixture
def not_executable(tmp_path: Path) -> Path:
    script = tmp_path / "report.sh"
    script.write_text("#!/bin/sh\necho never\n")
    script.chmod(0o644)
    return script


# Limits make the child exec through prlimit/nice first; the report must not change because of that.
WITH_AND_WITHOUT_LIMITS = pytest.mark.parametrize(
    "limits", [{}, {"nice": 5, "max_memory_mb": 512}], ids=["plain", "limited"]
)


@WITH_AND_WITHOUT_LIMITS
def test_command_not_found_reports_127_and_why(harness: SupervisorHarness, limits: dict[str, int]) -> None:
    spec, spawned = harness.spawn("no-such-command-anywhere", "--flag", **limits)
    result = harness.result(spec.execution_id)

    assert spawned.pid == 0
    assert (result.exit_code, result.spawn_error) == (127, "not found: no-such-command-anywhere")
    log = spec.log_path.read_text()
    assert log.startswith(spec.header + "\n")
    assert "not found: no-such-command-anywhere" in log


@WITH_AND_WITHOUT_LIMITS
def test_file_that_is_not_executable_reports_126(
    harness: SupervisorHarness, not_executable: Path, limits: dict[str, int]
) -> None:
    result = harness.run(str(not_executable), **limits)

    assert (result.exit_code, result.spawn_error) == (126, f"permission denied: {not_executable}")


@WITH_AND_WITHOUT_LIMITS
def test_relative_command_is_found_in_the_working_directory(
    harness: SupervisorHarness, tmp_path: Path, limits: dict[str, int]
) -> None:
    script = tmp_path / "hello.sh"
    script.write_text("#!/bin/sh\necho hello from $(pwd)\n")
    script.chmod(0o755)

    result = harness.run("./hello.sh", cwd=str(tmp_path), **limits)

    assert (result.exit_code, result.output) == (0, f"hello from {tmp_path}\n")


@WITH_AND_WITHOUT_LIMITS
def test_missing_working_directory_is_a_start_error(
    harness: SupervisorHarness, tmp_path: Path, limits: dict[str, int]
) -> None:
    missing = tmp_path / "gone"
    result = harness.run("true", cwd=str(missing), **limits)

    assert result.exit_code == 127
    assert result.spawn_error == f"working directory not found: {missing}"


def test_command_not_found_in_a_shell_string_is_the_shells_127(harness: SupervisorHarness) -> None:
    result = harness.run("no-such-command-anywhere", shell=True)

    assert result.exit_code == 127
    assert result.spawn_error is None  # the shell started; it reports the missing command itself
    assert "not found" in result.output


def test_start_errors_are_reported_once_each(harness: SupervisorHarness) -> None:
    specs = [harness.spawn("no-such-command-anywhere")[0] for _ in range(10)]

    assert harness.supervisor.wait_idle(timeout=30)
    assert sorted(r.execution_id for r in harness.reports) == [s.execution_id for s in specs]
