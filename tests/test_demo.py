"""README's first command, ``tools/demo``, as a new user runs it: the runner and the dashboard on
SQLite with the example tasks, a demo task's run recorded, Ctrl-C while a task runs ending
everything it started, with status 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOUND = 120.0  # a bound only a hang reaches; never a performance assertion

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _session_members(session: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # field 6 of stat: the session id
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name} {command[:80]}")
        except (OSError, IndexError, ValueError):
            continue
    return found


def _wait(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + BOUND
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_tools_demo_serves_the_dashboard_runs_the_demo_tasks_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    home, port = tmp_path / "home", _free_port()
    env = {**os.environ, "SMARTCRON_HOME": str(home), "SMARTCRON_WEB_PORT": str(port)}
    env.pop("SMARTCRON_DATABASE_URL", None)
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [str(ROOT / "tools" / "demo")],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait(lambda: "Ctrl-C stops" in out.read_text(), "the demo's banner")
        banner = out.read_text()
        password = banner.split("password: ", 1)[1].split()[0]
        assert f"http://127.0.0.1:{port}/" in banner and "tasks registered" in banner
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(f"{base}/login"), "the dashboard")
        smartcron = [str(ROOT / ".venv" / "bin" / "smartcron")]

        def a_demo_run_succeeded() -> bool:
            runs = subprocess.run(
                [*smartcron, "runs", "--json", "--limit", "50"], env=env, capture_output=True, text=True, check=False
            )
            return runs.returncode == 0 and any(
                r["task"].startswith("demo_") and r["status"] == "success" for r in json.loads(runs.stdout)
            )

        _wait(a_demo_run_succeeded, "a demo task's successful run")

        def the_slow_task_runs() -> bool:
            runs = subprocess.run(
                [*smartcron, "runs", "--json", "--task", "demo_slow", "--status", "running"],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            return runs.returncode == 0 and json.loads(runs.stdout) != []

        # Ctrl-C while a task runs: the runner lets it finish while the dashboard has already gone.
        _wait(the_slow_task_runs, "demo_slow running")
        with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as client:
            login = client.get("/login")
            token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            page = client.post("/login", data={"username": "admin", "password": password, "csrf_token": token})
            assert page.status_code == 200 and "demo_heartbeat" in page.text
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
    assert demo.wait(timeout=BOUND) == 0, out.read_text()[-2000:]
    _wait(lambda: _session_members(demo.pid) == [], "every process of the demo to end")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
