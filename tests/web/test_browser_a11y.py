"""Accessibility and layout in real headless Chromium: an axe-core scan of every page (light and
dark) finds no serious or critical violation; the dark theme follows prefers-color-scheme and the
header's toggle; at 375 px no page scrolls sideways and the navigation is behind a Menu button.

axe-core comes from npm (web/package.json, installed by tools/bootstrap through web/build); the
test reads its file from web/node_modules and runs it in the page (never from the network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import Severity
from smartcron.services.rule_actions import add_alert_rule
from smartcron.store import Store
from smartcron.web.app import create_app
from tests.web.conftest import NOW
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM, _log_in
from tests.web.test_browser_triage import _failed_run, _running_run

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


@pytest.fixture
def pages(web_store: Store) -> list[str]:
    """Every page of the dashboard, with something on each (a failed run, a running one, an
    alert, a rule, an audit entry)."""
    failed = _failed_run(web_store, "bank_import")
    running = _running_run(web_store, "sync_vend_inventory")
    task_id = web_store.tasks.get("bank_import").id
    web_store.alerts.raise_or_repeat(
        "task_failed", task_id=task_id, severity=Severity.HIGH, message="bank_import failed", now=NOW, notify_after=NOW
    )
    add_alert_rule(web_store, by="test", name="slow_bank", kind="long_run", threshold=60, task="bank_import")
    return [
        "/",
        "/?status=failing",
        "/executions",
        f"/executions/{failed}",
        f"/executions/{running}",
        "/tasks/bank_import",
        "/health",
        "/alerts",
        "/charts",
        "/audit",
        "/users",
        "/nodes",
        "/silences",
        "/manage/tasks",
        "/me",
    ]


def _axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    assert AXE.exists(), "axe-core is not installed: run tools/bootstrap (web/build installs it from npm)"
    page.evaluate(AXE.read_text())  # evaluated through the debugging protocol: the page's CSP allows no inline script
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target)}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def _settled(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.wait_for_load_state("networkidle") if path == "/charts" else page.wait_for_load_state("load")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    live: str, browser: Browser, pages: list[str], scheme: str
) -> None:
    page = browser.new_page(color_scheme=scheme)  # type: ignore[arg-type]
    _log_in(page, live, "admin")
    found: dict[str, list[dict[str, Any]]] = {}
    for path in pages:
        _settled(page, live, path)
        expect(page.locator("html")).to_have_attribute("data-theme", scheme)
        violations = _axe(page)
        if violations:
            found[path] = violations
    page.goto(f"{live}/login")  # the login form, logged out
    page.context.clear_cookies()
    page.goto(f"{live}/login")
    if violations := _axe(page):
        found["/login"] = violations
    assert found == {}, json.dumps(found, indent=1)


def test_axe_passes_at_375_px_with_the_menu_open(live: str, browser: Browser, pages: list[str]) -> None:
    page = browser.new_page(viewport=PHONE)
    _log_in(page, live, "admin")
    found: dict[str, list[dict[str, Any]]] = {}
    for path in ("/", "/executions", "/tasks/bank_import", "/alerts"):
        _settled(page, live, path)
        page.get_by_role("button", name="Menu").click()
        if violations := _axe(page):
            found[path] = violations
    assert found == {}, json.dumps(found, indent=1)


def test_the_dark_theme_follows_the_system_and_the_toggle_overrides_it(live: str, browser: Browser) -> None:
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    _log_in(page, live, "viewer")
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 23, 42)"
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(html).to_have_attribute("data-theme", "light")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(249, 250, 251)"
    page.goto(f"{live}/executions")  # the choice lasts across pages
    expect(html).to_have_attribute("data-theme", "light")
    page.emulate_media(color_scheme="light")
    # Seen by the page (a frame has gone by) before the next change, or the two may fold into none.
    page.wait_for_function("matchMedia('(prefers-color-scheme: light)').matches", polling="raf")
    page.evaluate("localStorage.clear()")
    page.emulate_media(color_scheme="dark")  # with no choice made, a change of the system's is followed
    expect(html).to_have_attribute("data-theme", "dark")
    context.close()


def test_at_375_px_no_page_scrolls_sideways_and_a_menu_button_opens_the_navigation(
    live: str, browser: Browser, pages: list[str]
) -> None:
    page = browser.new_page(viewport=PHONE)
    _log_in(page, live, "admin")
    wide: dict[str, int] = {}
    for path in pages:
        _settled(page, live, path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[path] = width
    assert wide == {}, f"pages wider than {PHONE['width']} px: {wide}"

    page.goto(f"{live}/")
    runs_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs")
    menu = page.get_by_role("button", name="Menu")
    expect(runs_link).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    runs_link.click()
    expect(page).to_have_url(f"{live}/executions")


def test_at_desktop_width_the_navigation_shows_without_a_menu_button(live: str, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    _log_in(page, live, "viewer")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Runs")).to_be_visible()
