"""Failpoints: a process armed with one dies by SIGKILL when it gets there, and only then."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from smartcron import failpoints
from smartcron.errors import ConfigError

SCRIPT = """
from smartcron import failpoints
failpoints.arm(["after_exit_before_record"])
failpoints.hit("after_begin_before_spawn")
print("passed an unarmed place", flush=True)
failpoints.hit("after_exit_before_record")
print("not reached", flush=True)
"""


def test_an_armed_failpoint_kills_the_process_there() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout == "passed an unarmed place\n"


def test_an_unknown_failpoint_is_refused_with_its_name() -> None:
    with pytest.raises(ConfigError, match="unknown failpoint 'after_lunch'"):
        failpoints.arm(["after_lunch"])
