"""The silences page in real headless Chromium: an operator silences a task for two hours with a
reason, sees it listed, removes it; an admin turns a rule off and on. No script is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.services.rule_actions import add_alert_rule
from smartcron.store import Store
from smartcron.web.app import create_app
from tests.web.conftest import PASSWORD, add_task
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM

pytestmark = pytest.mark.browser


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    add_task(web_store, "nightly_backup")
    add_alert_rule(web_store, by="test", name="slow", kind="long_run", threshold="1h")
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


def _open(browser: Browser, base: str, user: str) -> tuple[Page, list[str]]:
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
    page.goto(f"{base}/silences")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/silences")
    return page, refused


def test_an_operator_silences_a_task_sees_it_listed_and_removes_it(
    live: str, browser: Browser, web_store: Store
) -> None:
    page, refused = _open(browser, live, "operator")
    expect(page.locator("table.silences")).to_contain_text("No silence in force.")
    form = page.locator("#silence-form")
    form.locator("select[name=task]").select_option("nightly_backup")
    form.locator("select[name=duration]").select_option("2h")
    form.locator("input[name=reason]").fill("disk swap <b>")
    form.get_by_role("button", name="Silence").click()

    expect(page.locator(".flash")).to_contain_text("Silenced task nightly_backup until")
    [silence] = web_store.silences.list(now=web_store.database_now())
    row = page.locator(f'tr[data-silence="{silence.id}"]')
    expect(row).to_contain_text("task nightly_backup")
    expect(row).to_contain_text("disk swap <b>")  # shown as text, never as markup
    expect(row).to_contain_text("web:operator")
    expect(page.get_by_role("button", name="Disable")).to_have_count(0)  # rules are for admins

    row.get_by_role("button", name="Remove").click()
    expect(page.locator(".flash")).to_contain_text(f"Removed silence {silence.id} of task nightly_backup")
    expect(page.locator("table.silences")).to_contain_text("No silence in force.")
    assert [e.action for e in web_store.audit.list() if e.action.startswith("alert.")] == [
        "alert.unsilence",
        "alert.silence",
    ]
    assert refused == [], refused


def test_an_admin_turns_a_rule_off_and_on(live: str, browser: Browser, web_store: Store) -> None:
    page, _ = _open(browser, live, "admin")
    row = page.locator('tr[data-rule="slow"]')
    expect(row.locator(".enabled")).to_have_text("yes")
    row.get_by_role("button", name="Disable").click()
    expect(page.locator(".flash")).to_contain_text("Disabled rule slow")
    expect(page.locator('tr[data-rule="slow"] .enabled')).to_have_text("no")
    assert web_store.alert_rules.get("slow").enabled is False
    page.locator('tr[data-rule="slow"]').get_by_role("button", name="Enable").click()
    expect(page.locator('tr[data-rule="slow"] .enabled')).to_have_text("yes")
    assert web_store.alert_rules.get("slow").enabled is True
