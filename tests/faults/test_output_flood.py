"""A task that floods its output, under a real daemon (DESIGN 3.9): 5 GB to stdout as fast as it
can, and twenty lines of 1 MB each.

The runs end in success, the row keeps a bounded tail that says it is one, the task's log stops at
the task's cap with the truncation marker, the daemon's memory stays bounded (its peak RSS is
printed), and later runs go on. Output handling is the runner's, not the database's: the SQLite rig
only (as in ``test_overlap_live.py``). Except for binary output: NUL bytes are the database's
business, so that test runs on the server databases.

5 GB, not 1 GB: here the flooding run takes 16 to 21 s (``yes | head -c``; the runner reads 64 KiB
at a time).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task
from tests.faults.rig import FaultRig, Node, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(240)]

S = ExecutionStatus
ONCE = "0 0 1 1 *"
FLOOD_BYTES = 5_000_000_000
CAP_KB = 1024
PREVIEW_KB = 64
MEMORY_BOUND_KB = 300 * 1024  # a leak guard, not a performance figure
LOG_SLACK = 1024  # the run's header line and the truncation marker line


@pytest.fixture
def sqlite_rig(tmp_path: Path) -> Iterator[FaultRig]:
    world = FaultRig("sqlite", tmp_path)
    try:
        yield world
    finally:
        world.close()


def _peak_rss_kb(node: Node) -> int:
    status = Path(f"/proc/{node.pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    assert found, status
    return int(found.group(1))


def _one_ended(rig: FaultRig, task: Task) -> Execution:
    ended = lambda: [r.status for r in rig.rows(task)] not in ([], [S.RUNNING], [S.SCHEDULED])  # noqa: E731
    wait_for(ended, task.spec.name, bound=180)  # 5 GB through a pipe on a loaded machine: only a hang gets here
    [run] = rig.rows(task)
    return run


def _assert_flooded(rig: FaultRig, node: Node, task: Task, total: int, tail: str) -> Execution:
    run = _one_ended(rig, task)
    assert (run.status, run.exit_code, run.output_bytes, run.truncated) == (S.SUCCESS, 0, total, True), (
        run.status,
        run.exit_code,
        run.output_bytes,
        run.truncated,
    )
    assert run.output is not None and len(run.output.encode()) <= PREVIEW_KB * 1024
    assert run.output.startswith("[smartcron: ") and "earlier bytes not shown here" in run.output.splitlines()[0]
    assert run.output.endswith(tail)
    log = node.home / "logs" / "tasks" / f"default_{task.spec.name}.log"
    size = log.stat().st_size
    assert CAP_KB * 1024 < size <= CAP_KB * 1024 + LOG_SLACK, size
    with log.open("rb") as handle:
        handle.seek(-200, 2)
        assert handle.read().endswith(f"[smartcron: output truncated after {CAP_KB * 1024} bytes]\n".encode())
    return run


def test_five_gigabytes_and_megabyte_lines_to_stdout_are_capped_and_the_runner_goes_on(
    sqlite_rig: FaultRig,
) -> None:
    rig = sqlite_rig
    flood = rig.add_task(
        "export_dump",
        ("sh", "-c", f"yes 0123456789abcdef | head -c {FLOOD_BYTES}; echo; echo flood done"),
        schedule=ONCE,
        retries=0,
        timeout=600,
        max_output_kb=CAP_KB,
    )
    lines = rig.add_task(
        "report_lines",
        ("python3", "-c", "import sys\nfor i in range(20): sys.stdout.write(str(i % 10) * (1 << 20) + '\\n')"),
        schedule=ONCE,
        retries=0,
        max_output_kb=CAP_KB,
    )
    after = rig.add_task("heartbeat_echo", ("echo", "still here"), schedule="*/2 * * * * *", retries=0)
    a = rig.daemon("a", runner_output_preview_kb=PREVIEW_KB)
    flooded = _assert_flooded(rig, a, flood, FLOOD_BYTES + len("\nflood done\n"), "0123456789abcdef\n0\nflood done\n")
    _assert_flooded(rig, a, lines, 20 * ((1 << 20) + 1), "9" * 1000 + "\n")
    seen = len(rig.rows(after))
    wait_for(lambda: len([r for r in rig.rows(after)[seen:] if r.status is S.SUCCESS]) >= 2, "later runs")
    peak = _peak_rss_kb(a)
    print(f"\n{FLOOD_BYTES / 1e9:g} GB flood run took {flooded.duration_ms} ms; daemon VmHWM {peak / 1024:.1f} MiB")
    assert peak < MEMORY_BOUND_KB, peak
    assert a.stop() == 0, a.output
    assert "Traceback" not in a.master_log + a.output
    assert rig.wait_no_leftovers() == []


def test_binary_output_with_nul_bytes_is_recorded_on_every_database(rig: FaultRig) -> None:
    """PostgreSQL refuses NUL in text: such a preview could never be written, and its run, with every
    run recorded in the same batch, stayed ``running`` for good. On the server databases (PostgreSQL
    is where it failed)."""
    task = rig.add_task(
        "image_resize", ("sh", "-c", "head -c 100 /dev/zero; printf 'raw\\0bytes\\n'"), schedule=ONCE, retries=0
    )
    after = rig.add_task("after_binary", ("echo", "still here"), schedule=ONCE, retries=0)
    a = rig.daemon("a")
    run = _one_ended(rig, task)
    assert (run.status, run.exit_code, run.output_bytes) == (S.SUCCESS, 0, 110), run
    assert run.output == "\ufffd" * 100 + "raw\ufffdbytes\n"
    assert _one_ended(rig, after).status is S.SUCCESS
    assert a.stop() == 0, a.output
    assert "Traceback" not in a.master_log + a.output
    assert rig.wait_no_leftovers() == []


def test_a_preview_as_long_as_the_setting_allows_is_recorded_on_every_database(rig: FaultRig) -> None:
    """The default preview is 64 KiB, one byte more than MySQL's TEXT holds: in strict mode such a
    run could never be recorded and stayed ``running`` for good; invalid bytes, shown as U+FFFD,
    make a preview three times longer still. On the server databases (MariaDB is where it failed)."""
    text = rig.add_task("big_report", ("sh", "-c", "yes 0123456789abcdef | head -c 200000"), schedule=ONCE, retries=0)
    binary = rig.add_task(
        "raw_dump", ("sh", "-c", "head -c 200000 /dev/zero | tr '\\0' '\\377'"), schedule=ONCE, retries=0
    )
    a = rig.daemon("a")
    for task in (text, binary):
        run = _one_ended(rig, task)
        assert (run.status, run.exit_code, run.output_bytes) == (S.SUCCESS, 0, 200000), run
        assert run.output is not None and run.output.startswith("[smartcron: "), run.output[:100]
    [shown] = rig.rows(text)
    assert shown.output is not None and len(shown.output.encode()) == PREVIEW_KB * 1024
    [replaced] = rig.rows(binary)
    assert replaced.output is not None and replaced.output.endswith("\ufffd" * 1000)
    assert a.stop() == 0, a.output
    assert "Traceback" not in a.master_log + a.output
    assert rig.wait_no_leftovers() == []
