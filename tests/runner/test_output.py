"""Task output: appended to the task log, a bounded preview for the row, a per-run cap."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from smartcron.runner.process.output import RunOutput, decode_tail
from tests.runner.process_harness import SupervisorHarness

MiB = 1024 * 1024


def _open(path: Path, *, preview: int = 16, cap: int = 100, header: str = "=== run ===") -> RunOutput:
    return RunOutput.open(path, header, preview_bytes=preview, max_output_bytes=cap)


def test_log_and_its_directory_are_created_and_runs_append(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "tasks" / "default_backup.log"
    first = _open(path, header="=== one ===")
    first.feed(b"a\n")
    first.close()
    second = _open(path, header="=== two ===")
    second.feed(b"b\n")
    second.close()

    assert path.read_text() == "=== one ===\na\n=== two ===\nb\n"


def test_output_beyond_the_cap_is_dropped_with_one_marker_line(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    output = _open(path, cap=10)
    for chunk in (b"12345", b"67890abc", b"def", b"ghi\n"):
        output.feed(chunk)
    summary = output.close()

    assert path.read_text() == "=== run ===\n1234567890\n[smartcron: output truncated after 10 bytes]\n"
    assert summary.truncated
    assert summary.total_bytes == 20


def test_output_exactly_at_the_cap_is_not_truncated(tmp_path: Path) -> None:
    output = _open(tmp_path / "t.log", cap=4)
    output.feed(b"abc\n")

    assert not output.close().truncated


def test_preview_is_the_tail_of_everything_the_task_wrote(tmp_path: Path) -> None:
    # The last lines usually say why a run ended, so the row keeps them even when the log was capped.
    output = _open(tmp_path / "t.log", preview=8, cap=4)
    for number in range(1000):
        output.feed(f"{number}\n".encode())
    summary = output.close()

    assert summary.preview == "998\n999\n"
    assert summary.total_bytes == sum(len(f"{n}\n") for n in range(1000))


def test_a_preview_that_holds_only_the_tail_says_so_in_its_first_line_and_keeps_its_bound(tmp_path: Path) -> None:
    output = _open(tmp_path / "t.log", preview=1024)
    written = b"".join(f"line {number}\n".encode() for number in range(1000))
    output.feed(written)
    preview = output.close().preview

    marker, rest = preview.split("\n", 1)
    assert len(preview.encode()) == 1024
    assert written.endswith(rest.encode())
    skipped = len(written) - len(rest.encode())
    assert marker == f"[smartcron: {skipped} earlier bytes not shown here; the run's log has them]"


def test_preview_never_starts_with_half_a_character(tmp_path: Path) -> None:
    output = _open(tmp_path / "t.log", preview=5)
    output.feed("añob€".encode())  # ends with 3 bytes of €: the 5-byte tail cuts ñ in half

    assert output.close().preview == "ob€"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert decode_tail(b"ok \xff\xfe end") == "ok \ufffd\ufffd end"


def test_nul_bytes_are_replaced_as_postgresql_refuses_them_in_text() -> None:
    assert decode_tail(b"raw\0bytes\0") == "raw\ufffdbytes\ufffd"


def test_unwritable_log_does_not_stop_the_run(tmp_path: Path) -> None:
    blocker = tmp_path / "tasks"
    blocker.write_text("a file where the log directory should be")
    output = _open(blocker / "t.log")
    output.feed(b"still counted\n")
    summary = output.close()

    assert (summary.preview, summary.total_bytes) == ("still counted\n", 14)


def test_a_note_from_smartcron_starts_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    output = _open(path)
    output.feed(b"partial")
    output.note("[smartcron: something]")
    output.close()

    assert path.read_text() == "=== run ===\npartial\n[smartcron: something]\n"


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[SupervisorHarness]:
    with SupervisorHarness(tmp_path) as started:
        yield started


@pytest.mark.slow
def test_output_flood_is_capped_and_the_runner_memory_stays_bounded(harness: SupervisorHarness) -> None:
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    spec = harness.spec("yes | head -c 1G", shell=True, max_output_bytes=MiB, preview_bytes=64 * 1024)
    harness.supervisor.spawn(spec)
    result = harness.result(spec.execution_id, timeout=120)
    rss_after = psutil.Process().memory_info().rss

    assert result.exit_code == 0
    assert result.truncated
    assert result.output_bytes == 1024 * MiB
    assert len(result.output) == 64 * 1024
    log = spec.log_path.read_bytes()
    marker = f"[smartcron: output truncated after {MiB} bytes]\n".encode()
    assert log == spec.header.encode() + b"\n" + b"y\n" * (MiB // 2) + marker
    assert rss_after - rss_before < 50 * MiB
