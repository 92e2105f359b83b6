"""Finding where a run's output starts in its task's log, read backwards in blocks, and cutting
answers only where a line, an escape sequence or a character is whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartcron.web import livelog
from smartcron.web.livelog import RunOutputReader


def _header(execution_id: int) -> bytes:
    return f"=== 2026-03-01T12:00:00+00:00 demo execution {execution_id} attempt 0 (schedule) ===\n".encode()


@pytest.mark.parametrize("block", [16, 37, 64, 100, 4096])
def test_a_header_is_found_wherever_the_blocks_cut_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(livelog, "_SCAN_BLOCK", block)
    log = tmp_path / "tasks" / "ops_demo.log"
    log.parent.mkdir()
    for padding in range(0, 150, 7):
        before = _header(41) + b"x" * padding + b"\n"
        after = b"".join(f"line {i}\n".encode() for i in range(40))
        log.write_bytes(before + _header(42) + after + _header(43) + b"later run\n")
        reader = RunOutputReader(tmp_path)  # a new one: nothing remembered
        piece = reader.after(category="ops", name="demo", execution_id=42, offset=0, running=False)
        assert (piece.found, piece.ended, piece.text) == (True, True, after.decode()), padding


def test_a_line_of_output_that_only_mentions_the_run_is_not_its_header(tmp_path: Path) -> None:
    log = tmp_path / "tasks" / "ops_demo.log"
    log.parent.mkdir()
    log.write_bytes(_header(42) + b"echo: demo execution 42 attempt 0\nreal output\n")
    piece = RunOutputReader(tmp_path).after(category="ops", name="demo", execution_id=42, offset=0, running=True)
    assert piece.text == "echo: demo execution 42 attempt 0\nreal output\n"


def test_a_run_whose_header_is_not_in_the_current_log_is_not_found(tmp_path: Path) -> None:
    log = tmp_path / "tasks" / "ops_demo.log"
    log.parent.mkdir()
    log.write_bytes(_header(41) + b"someone else\n")
    reader = RunOutputReader(tmp_path)
    assert reader.after(category="ops", name="demo", execution_id=42, offset=0, running=True).found is False
    assert reader.tail(category="ops", name="demo", execution_id=42, running=True).found is False
    assert reader.tail(category="../..", name="demo", execution_id=41, running=True).found is False


def test_a_log_replaced_by_rotation_is_read_afresh(tmp_path: Path) -> None:
    log = tmp_path / "tasks" / "ops_demo.log"
    log.parent.mkdir()
    log.write_bytes(_header(42) + b"old\n")
    reader = RunOutputReader(tmp_path)
    assert reader.after(category="ops", name="demo", execution_id=42, offset=0, running=True).text == "old\n"
    log.rename(log.with_name("ops_demo.log.1"))
    log.write_bytes(b"x" * 50 + b"\n" + _header(42) + b"new\n")
    assert reader.after(category="ops", name="demo", execution_id=42, offset=0, running=True).text == "new\n"
