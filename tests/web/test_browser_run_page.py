"""A run's page in real headless Chromium while a real runner daemon runs the task: lines appear
as the task prints them, and Cancel (after its confirm dialog) ends the run, all without reload."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.task import TaskSpec
from smartcron.store import Store
from smartcron.web.app import create_app
from tests.runner.runner_support import SETTLE_SECONDS, smartcron, smartcron_env, wait_until
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM, _log_in

pytestmark = pytest.mark.browser
TICKER = 'seq 1 400 | sed "s/^/warm-up line /"; i=0; while true; do i=$((i+1)); echo "tick $i <b>"; sleep 0.2; done'


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


@pytest.fixture
def runner(home: Path, web_store: Store, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `smartcron run` daemon on the dashboard's database."""
    process = smartcron("run", "-q", env=smartcron_env(home), cwd=tmp_path)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=SETTLE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ticks(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^tick (\d+) <b>$", text, re.M)]


def test_a_running_tasks_lines_appear_and_cancel_ends_it_without_reload(
    live: str, browser: Browser, settings: Settings, web_store: Store, runner: subprocess.Popen[bytes]
) -> None:
    spec = TaskSpec(name="ticker", command=(TICKER,), shell=True, schedule="0 0 1 1 *", timeout=600, kill_grace=1)
    task = web_store.tasks.add(spec, now=datetime.now(UTC), next_run_at=datetime(2030, 1, 1, tzinfo=UTC))
    run_id = web_store.executions.enqueue(task.id, scheduled_for=datetime.now(UTC), trigger=Trigger.MANUAL)
    wait_until(
        lambda: web_store.executions.get(run_id).status is ExecutionStatus.RUNNING,
        "the daemon to start the run",
    )
    log_file = Path(settings.log_dir) / "tasks" / "default_ticker.log"
    wait_until(lambda: log_file.exists() and b"tick 1 <b>" in log_file.read_bytes(), "the warm-up lines")

    page = browser.new_page()
    dialogs: list[str] = []
    refused: list[str] = []

    def confirm(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or message.type == "error":
            refused.append(message.text)

    page.on("dialog", confirm)
    page.on("console", console)
    _log_in(page, live, "operator")
    page.goto(f"{live}/executions/{run_id}")
    log = page.locator("#run-log")
    expect(page.locator("#run-status")).to_have_attribute("data-status", "running")
    page.evaluate("window.sameDocument = true")
    at_bottom = "e => e.scrollHeight > e.clientHeight && e.scrollTop + e.clientHeight >= e.scrollHeight - 30"
    assert log.evaluate(at_bottom), "the log opens scrolled to its newest line"
    first = _ticks(log.inner_text())
    later = (max(first) if first else 0) + 5
    expect(log).to_contain_text(f"tick {later} <b>", timeout=15_000)  # printed after the page loaded
    assert log.evaluate(at_bottom), "new lines keep the newest in view"
    seen = _ticks(log.inner_text())
    assert seen == list(range(seen[0], seen[-1] + 1))  # each line once, in order: nothing lost or repeated
    assert page.evaluate("document.querySelectorAll('#run-log b').length") == 0  # text, never markup
    elapsed = page.locator("#run-elapsed")
    shown = elapsed.inner_text()
    expect(elapsed).not_to_have_text(shown, timeout=5_000)  # it ticks in the page

    page.click("button[data-action=cancel]")
    expect(page.locator("#run-state")).to_contain_text("Cancel requested by web:operator")
    assert dialogs == [
        f"Cancel run #{run_id} of ticker? A running task's processes get TERM, then KILL after its grace period."
    ]
    expect(page.locator("#run-status")).to_have_attribute("data-status", "cancelled", timeout=20_000)
    expect(page.locator("#run-reason")).to_have_text("cancelled by web:operator")
    expect(page.locator("#log-tail")).to_have_attribute("data-polling", "no", timeout=5_000)
    assert page.evaluate("window.sameDocument") is True  # no reload happened
    row = web_store.executions.get(run_id)
    assert (row.status, row.reason) == (ExecutionStatus.CANCELLED, "cancelled by web:operator")
    final = _ticks(log.inner_text())
    assert final[-1] >= later and final == list(range(final[0], final[-1] + 1))
    assert refused == []
