"""The clock the fault tests step: wall time shifted by a file, monotonic time untouched."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from smartcron.clock import OffsetClock, SystemClock, system_clock


def test_offset_clock_follows_the_file_and_leaves_monotonic_time_alone(tmp_path: Path) -> None:
    offset_file = tmp_path / "offset"
    clock = OffsetClock(str(offset_file))
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1  # no file: no shift

    offset_file.write_text("-7200\n")
    time.sleep(OffsetClock.REREAD_SECONDS * 2)  # the file is read again only after this long
    mono_before = time.monotonic()
    shifted = clock.now()
    assert 7199 < (datetime.now(UTC) - shifted).total_seconds() < 7201
    assert clock.monotonic() >= mono_before

    offset_file.write_text("not a number")
    time.sleep(OffsetClock.REREAD_SECONDS * 2)
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1


def test_system_clock_is_used_without_an_offset_file() -> None:
    assert isinstance(system_clock(""), SystemClock)
