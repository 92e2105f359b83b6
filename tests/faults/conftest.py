"""Fixtures of the fault suite: a rig per test, on a fresh database of its own, on each server database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.rig import FaultRig

SERVERS = ("postgresql", "mariadb")


@pytest.fixture(params=SERVERS)
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultRig]:
    """A fresh PostgreSQL or MariaDB database (created for this test), and the processes started on it."""
    world = FaultRig(str(request.param), tmp_path)
    try:
        yield world
    finally:
        world.close()
