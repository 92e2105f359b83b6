"""Live pages in real headless Chromium: the task grid follows the database through the event
stream, with no reload and no timer polling, and says it is stale when the stream is gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
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
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


def _requests_to(page: Page, fragment: str) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        if fragment in request.url:
            seen.append(request.url)

    page.on("request", record)
    return seen


def test_the_grid_shows_a_new_task_and_a_pause_without_reload_or_polling(
    live: str, browser: Browser, web_store: Store
) -> None:
    add_task(web_store, "bank_import")
    page = browser.new_page()
    watch = Watch(page)
    _log_in(page, live, "viewer")
    grid_fetches = _requests_to(page, "/partials/grid")
    expect(page.locator('#grid tr[data-task="bank_import"]')).to_be_visible()
    page.evaluate("window.sameDocument = true")
    # The grid used to poll every 3 s; longer than that with nothing changed, it asks nothing.
    page.wait_for_timeout(3500)
    assert grid_fetches == []

    add_task(web_store, "payroll")
    expect(page.locator('#grid tr[data-task="payroll"]')).to_be_visible(timeout=5000)
    web_store.tasks.set_flags("bank_import", now=SystemClock().now(), paused=True)
    expect(page.locator('#grid tr[data-task="bank_import"]')).to_contain_text("paused", timeout=5000)
    assert page.evaluate("window.sameDocument") is True  # no reload happened
    assert len(grid_fetches) == 2
    expect(page.locator("#stale")).to_be_hidden()
    assert watch.violations == [] and watch.dialogs == []


def test_the_page_says_it_is_stale_ten_seconds_after_losing_its_stream(live: str, browser: Browser) -> None:
    page = browser.new_page()
    page.clock.install()
    _log_in(page, live, "viewer")
    expect(page.locator("#stale")).to_be_hidden()
    page.route("**/events", lambda route: route.abort())
    page.goto(f"{live}/")  # this load's stream is refused
    expect(page.locator("#grid")).to_be_visible()
    page.clock.run_for(5000)
    expect(page.locator("#stale")).to_be_hidden()
    page.clock.run_for(6500)
    expect(page.locator("#stale")).to_be_visible()
    expect(page.locator("#stale")).to_contain_text("stale")
