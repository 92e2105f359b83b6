"""The health page's heartbeat ages in real headless Chromium are judged by how each process
runs (a daemon's heartbeat interval and lease, a tick's minute plus grace, the health monitor's
5 minutes), not by one threshold for all; the audit page shows "field: old → new", not JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.store import Store
from smartcron.web.app import create_app
from smartcron.web.audit_view import describe_details
from smartcron.web.heartbeat_view import expectation
from tests.web.conftest import add_task
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM, _log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


def test_each_heartbeat_is_judged_by_how_its_process_runs(live: str, browser: Browser, web_store: Store) -> None:
    now = SystemClock().now()
    daemon = {"heartbeat_seconds": 20.0, "lease_seconds": 90.0}  # slow, so the page's own seconds do not count
    beats = {
        ("tick-fresh", "tick"): (59, None),  # a tick that beats every minute, just before its next
        ("tick-late", "tick"): (100, None),  # its minute and the grace are past
        ("tick-down", "tick"): (200, None),  # past health.runner_down_after (120 s)
        ("daemon-ok", "runner"): (1, daemon),
        ("daemon-lost", "runner"): (200, daemon),  # its lease (90 s) is long past
        ("monitor", "health"): (250, None),  # every 5 minutes: fine at 4 min 10 s
    }
    for (name, role), (age, info) in beats.items():
        web_store.nodes.beat(name, role, now=now - timedelta(seconds=age), info=info)
    page = browser.new_page()
    _log_in(page, live, "viewer")
    page.goto(f"{live}/health")
    tones = {}
    for name, _role in beats:
        row = page.locator("tr", has=page.locator(f"td:text-is('{name}')"))
        tones[name] = row.locator("[data-tone]").get_attribute("data-tone")
    assert tones == {
        "tick-fresh": "ok",
        "tick-late": "warn",
        "tick-down": "bad",
        "daemon-ok": "ok",
        "daemon-lost": "bad",
        "monitor": "ok",
    }
    tick_row = page.locator("tr", has=page.locator("td:text-is('tick-late')"))
    expect(tick_row).to_contain_text("late")
    expect(tick_row).to_contain_text("beats every 1 min; late after 90 s, lost after 2 min")
    expect(page.locator("tr", has=page.locator("td:text-is('daemon-ok')"))).to_contain_text(
        "beats every 20 s; late after 1 min, lost after 90 s"
    )


def test_a_daemon_with_its_own_interval_is_judged_by_it(settings: Settings) -> None:
    slow = expectation("runner", {"heartbeat_seconds": 10, "lease_seconds": 40}, settings)
    assert (slow.tone(25), slow.tone(35), slow.tone(41)) == ("ok", "warn", "bad")


def test_audit_entries_read_field_old_to_new(live: str, browser: Browser, web_store: Store) -> None:
    add_task(web_store, "bank_import")
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    _log_in(page, live, "admin")
    page.goto(f"{live}/tasks/bank_import")
    page.locator("#edit-task input[name=schedule]").fill("0 * * * *")
    page.locator("#edit-task input[name=timeout]").fill("600")
    page.get_by_role("button", name="Save bank_import").click()
    expect(page.locator("#flash")).to_contain_text("Saved bank_import")
    page.goto(f"{live}/audit")
    entry = page.locator("table.audit tbody tr").first
    expect(entry).to_contain_text("task.edit")
    lines = entry.locator("ul.audit-lines li").all_inner_texts()
    assert "schedule: */5 * * * * → 0 * * * *" in lines
    assert "timeout: 300 → 600" in lines
    assert "{" not in entry.inner_text()  # no raw JSON


def test_audit_details_of_every_shape() -> None:
    shown = describe_details(
        {
            "via": "apply",
            "changes": {
                "command": {"old": ["echo", "a b"], "new": ["echo", ">&2"]},
                "timezone": {"old": None, "new": "UTC"},
            },
            "spec": {"name": "payroll", "retries": 3, "env": None},
        }
    )
    assert shown.lines == ["via: apply", "command: echo 'a b' → echo '>&2'", "timezone: (none) → UTC"]
    assert shown.groups == [("spec", ["name: payroll", "retries: 3"])]
    assert describe_details(None).lines == []
