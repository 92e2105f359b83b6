"""The admin pages in real headless Chromium: add a user, create a token (shown once), revoke it
after confirming; add a task and remove it after confirming. No script is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.store import Store
from smartcron.web.app import create_app
from tests.web.conftest import PASSWORD
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM

pytestmark = pytest.mark.browser


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


def _admin_page(browser: Browser, base: str, path: str) -> tuple[Page, list[str], list[str]]:
    page = browser.new_page()
    refused: list[str] = []
    asked: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(f"{base}{path}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}{path}")
    return page, refused, asked


def test_an_admin_adds_a_user_and_creates_and_revokes_a_token(live: str, browser: Browser, web_store: Store) -> None:
    page, refused, asked = _admin_page(browser, live, "/users")
    form = page.locator("#user-form")
    form.locator("input[name=name]").fill("maria")
    form.locator("select[name=role]").select_option("operator")
    form.locator("input[name=password]").fill("a long passphrase")
    form.get_by_role("button", name="Add user").click()
    expect(page.locator(".flash")).to_have_text("Added maria (operator).")
    expect(page.locator('tr[data-user="maria"]')).to_contain_text("operator")

    tokens = page.locator("#token-form")
    tokens.locator("input[name=name]").fill("grafana")
    tokens.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token")
    expect(shown).to_contain_text("sct_")
    plain = shown.inner_text()
    assert [t.name for t in web_store.tokens.list()] == ["grafana"]
    page.goto(f"{live}/users")
    expect(page.locator("#new-token")).to_have_count(0)
    assert plain not in page.content(), "the token is shown only on the answer that created it"

    page.locator('tr[data-token="grafana"]').get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash")).to_contain_text("Revoked token grafana")
    expect(page.locator('tr[data-token="grafana"]')).to_have_count(0)
    assert asked == ["Revoke token grafana? Scripts using it get 401 from their next request."]
    assert web_store.tokens.list() == []
    assert refused == [], refused


def test_an_admin_adds_a_task_and_removes_it_after_confirming(live: str, browser: Browser, web_store: Store) -> None:
    page, refused, asked = _admin_page(browser, live, "/manage/tasks")
    form = page.locator("#task-form")
    form.locator("input[name=name]").fill("sync_vend")
    form.locator("input[name=command]").fill("php /var/www/jobs/sync.php --full")
    form.locator("input[name=schedule]").fill("*/30 * * * *")
    form.get_by_role("button", name="Add task").click()
    expect(page.locator(".flash")).to_contain_text("Added task sync_vend.")
    expect(page.locator('tr[data-task="sync_vend"]')).to_contain_text("web")
    assert web_store.tasks.get("sync_vend").spec.command == ("php", "/var/www/jobs/sync.php", "--full")

    page.locator('tr[data-task="sync_vend"]').get_by_role("button", name="Remove").click()
    expect(page.locator(".flash")).to_contain_text("Removed task sync_vend and its run history.")
    expect(page.locator('tr[data-task="sync_vend"]')).to_have_count(0)
    assert asked == ["Remove task sync_vend and its run history?"]
    assert web_store.tasks.find("sync_vend") is None
    assert refused == [], refused
