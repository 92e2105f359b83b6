"""The nodes page in real headless Chromium: an admin sees the runners, clicks Drain, is asked
first (dismissing changes nothing), accepts, and the row turns to draining without reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

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
    now = web_store.database_now()
    info = {"active": True, "tags": ["blue"], "lease_seconds": 30, "clock_offset_ms": 40}
    web_store.nodes.beat("app1", "runner", now=now, pid=11, version="0.1.0", info=info)
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


def test_an_admin_drains_a_node_after_confirming_and_sees_it_draining(
    live: str, browser: Browser, web_store: Store
) -> None:
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
    answers = iter([False, True])  # dismiss the first dialog, accept the second
    asked: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if next(answers):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(f"{live}/nodes")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live}/nodes")
    row = page.locator('tr[data-node="app1"]')
    expect(row.locator(".state")).to_have_text("active")
    expect(row).to_contain_text("blue")
    expect(row).to_contain_text("0.1.0")
    expect(row).to_contain_text("+0.0 s")

    row.get_by_role("button", name="Drain").click()
    assert asked and asked[0].startswith("Drain app1?")
    beat = web_store.nodes.get("app1", "runner")
    assert beat is not None and beat.drain_requested_at is None, "dismissing the dialog drains nothing"

    row.get_by_role("button", name="Drain").click()
    expect(page.locator("#nodes .flash")).to_contain_text("Asked app1 to drain")
    expect(page.locator('tr[data-node="app1"] .state')).to_contain_text("draining")
    expect(page.locator('tr[data-node="app1"] .state')).to_contain_text("asked by web:admin")
    assert page.url == f"{live}/nodes", "no navigation: the table was swapped in place"
    beat = web_store.nodes.get("app1", "runner")
    assert beat is not None and beat.drain_requested_by == "web:admin"
    assert [e.actor for e in web_store.audit.list() if e.action == "node.drain"] == ["web:admin"]
    assert refused == [], refused


def test_a_viewer_sees_the_nodes_but_no_drain_button(live: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{live}/nodes")
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator('tr[data-node="app1"] .state')).to_have_text("active")
    expect(page.get_by_role("button", name="Drain")).to_have_count(0)
    expect(page.get_by_role("link", name="Nodes")).to_have_attribute("aria-current", "page")
