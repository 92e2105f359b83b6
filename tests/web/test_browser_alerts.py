"""The alert center in real headless Chromium: an alert raised while the page is open appears in
the active list and the history, and the navigation's count changes, with no reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import Severity
from smartcron.store import Store
from smartcron.web.app import create_app
from tests.web.conftest import add_task
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM, Watch, _log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with serving(create_app(settings, web_store, clock=SystemClock(), live_interval=0.2)) as base:
        yield base


def test_an_alert_raised_while_the_alert_center_is_open_appears_with_its_run_and_the_count_moves(
    live: str,
    browser: Browser,
    web_store: Store,
) -> None:
    task = add_task(web_store, "bank_import")
    page = browser.new_page()
    watch = Watch(page)
    _log_in(page, live, "viewer")
    page.goto(f"{live}/alerts")
    count = page.locator("#nav-alert-count")
    expect(count).to_have_text("0")
    page.evaluate("window.sameDocument = true")

    web_store.alerts.raise_or_repeat(
        "failed",
        task_id=task,
        severity=Severity.CRITICAL,
        message="bank_import failed (exit code 1)",
        now=SystemClock().now(),
        notify_after=None,
        details={"execution_id": 5, "output_tail": "ERROR: the bank refused the file"},
    )
    expect(count).to_have_text("1", timeout=10_000)
    expect(page.locator("#alerts-live")).to_contain_text("ERROR: the bank refused the file")
    history = page.locator("#alert-history")
    expect(history).to_contain_text("bank_import failed (exit code 1)")
    expect(history.get_by_role("link", name="run #5")).to_have_attribute("href", "/executions/5")
    assert page.evaluate("window.sameDocument") is True  # no reload happened
    assert watch.violations == []
