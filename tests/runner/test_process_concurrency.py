"""Many children at once, spawned and killed from several threads, watched by one thread."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runner.process_harness import SupervisorHarness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


def test_spawns_and_kills_from_many_threads_are_each_reported_once_with_their_own_output(
    harness: SupervisorHarness,
) -> None:
    threads_count, per_thread = 8, 25
    errors: list[BaseException] = []

    def work(thread_number: int) -> None:
        try:
            for n in range(per_thread):
                execution_id = thread_number * 1000 + n
                if n % 2:
                    harness.spawn("sleep", "600", execution_id=execution_id)
                    assert harness.supervisor.kill(execution_id, f"killed by {thread_number}")
                else:
                    harness.spawn("echo", f"output of {execution_id}", execution_id=execution_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t + 1,)) for t in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert harness.supervisor.wait_idle(timeout=60)
    assert len(harness.reports) == threads_count * per_thread
    for result in harness.reports:
        thread_number, n = divmod(result.execution_id, 1000)
        if n % 2:
            assert result.killed_reason == f"killed by {thread_number}"
        else:
            assert (result.exit_code, result.output) == (0, f"output of {result.execution_id}\n")


@pytest.mark.parametrize("children", [200, pytest.param(1000, marks=pytest.mark.slow)])
def test_one_thread_watches_hundreds_of_children(harness: SupervisorHarness, tmp_path: Path, children: int) -> None:
    gate = tmp_path / "gate"
    threads_before = threading.active_count()
    with gate.open("w") as held:
        # Every child blocks on the lock the test holds, so all of them are alive together.
        fcntl.flock(held, fcntl.LOCK_EX)
        specs = [harness.spawn("flock", "--shared", str(gate), "echo", str(i))[0] for i in range(children)]

        assert harness.supervisor.running() == {spec.execution_id for spec in specs}
        assert threading.active_count() == threads_before
    assert harness.supervisor.wait_idle(timeout=60)
    assert sorted(int(r.output) for r in harness.reports) == list(range(children))
    assert {r.exit_code for r in harness.reports} == {0}
