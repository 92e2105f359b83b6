"""The home page in real headless Chromium leads with what is wrong (counts of failing, late or
missed, running and paused tasks, each a filter kept in the URL), and its buttons act in place:
the row changes, the filter and the scroll position stay, the message links to the run started.
Destructive actions ask first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.services.rule_actions import add_alert_rule
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web.app import create_app
from tests.web.conftest import NOW, add_task
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM, Watch, _log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with serving(create_app(settings, web_store, clock=SystemClock())) as base:
        yield base


def _failed_run(store: Store, name: str) -> int:
    task_id = add_task(store, name)
    [run] = store.executions.claim([SlotClaim(task_id, NOW, Trigger.SCHEDULE)], node="n", token="t", now=NOW)
    store.executions.begin([run.id], node="n", token="t", now=NOW, lease_until=NOW)
    outcome = Outcome(status=ExecutionStatus.FAILED, finished_at=NOW, exit_code=1, output="cannot reach the bank")
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")
    return run.id


def _running_run(store: Store, name: str) -> int:
    task_id = add_task(store, name)
    now = SystemClock().now()
    [run] = store.executions.claim([SlotClaim(task_id, now, Trigger.SCHEDULE)], node="n", token="t", now=now)
    store.executions.begin([run.id], node="n", token="t", now=now, lease_until=now + timedelta(hours=1))
    return run.id


def _one_of_each(store: Store) -> None:
    """bank_import failed, backup_db is late, report_daily runs now, payroll is paused, and
    sync_vend_inventory is fine."""
    _failed_run(store, "bank_import")
    late = add_task(store, "backup_db")
    store.tasks.set_next_run(late, SystemClock().now() - timedelta(hours=1))
    _running_run(store, "report_daily")
    add_task(store, "payroll")
    store.tasks.set_flags("payroll", now=NOW, paused=True)
    add_task(store, "sync_vend_inventory")


def _tile(page: Page, name: str) -> str:
    return page.locator(f'nav.summary a[data-filter="{name}"]').inner_text().replace("\n", " ").strip()


def test_the_home_page_leads_with_what_is_wrong_and_each_count_filters_the_grid(
    live: str, browser: Browser, web_store: Store
) -> None:
    _one_of_each(web_store)
    page = browser.new_page()
    watch = Watch(page)
    _log_in(page, live, "viewer")
    assert _tile(page, "failing") == "1 failing"
    assert _tile(page, "late") == "1 late or missed"
    assert _tile(page, "running") == "1 running"
    assert _tile(page, "paused") == "1 paused"
    for task in ("bank_import", "backup_db", "report_daily", "payroll", "sync_vend_inventory"):
        expect(page.locator(f'#grid tr[data-task="{task}"]')).to_be_visible()

    expected = {"failing": "bank_import", "late": "backup_db", "running": "report_daily", "paused": "payroll"}
    for status, task in expected.items():
        page.goto(f"{live}/")
        page.locator(f'nav.summary a[data-filter="{status}"]').click()
        expect(page).to_have_url(f"{live}/?status={status}")
        expect(page.locator("#grid tr[data-task]")).to_have_count(1)
        expect(page.locator(f'#grid tr[data-task="{task}"]')).to_be_visible()
        expect(page.locator("select[name=status]")).to_have_value(status)

    # The filter form keeps the status beside the search, in the URL (a link to share).
    page.goto(f"{live}/?status=failing")
    page.fill("input[name=q]", "vend")
    page.click("form.filters button[type=submit]")
    expect(page).to_have_url(f"{live}/?category=&status=failing&q=vend")
    expect(page.locator("#grid")).to_contain_text("No tasks match")
    page.select_option("select[name=status]", "")
    page.click("form.filters button[type=submit]")
    expect(page.locator('#grid tr[data-task="sync_vend_inventory"]')).to_be_visible()
    assert watch.violations == [] and watch.dialogs == []


def test_a_bad_status_filter_is_a_clear_422(live: str, browser: Browser) -> None:
    page = browser.new_page()
    _log_in(page, live, "viewer")
    answer = page.goto(f"{live}/?status=broken")
    assert answer is not None and answer.status == 422
    expect(page.locator("main")).to_contain_text("expected one of failing, late, running, paused")


def test_run_now_and_pause_change_the_row_in_place_keeping_filter_and_scroll(
    live: str, browser: Browser, web_store: Store
) -> None:
    for number in range(60):
        add_task(web_store, f"batch_{number:02d}")
    add_task(web_store, "other_job")
    page = browser.new_page(viewport={"width": 1280, "height": 600})
    watch = Watch(page)
    _log_in(page, live, "operator")
    page.goto(f"{live}/?q=batch")
    filtered = f"{live}/?q=batch"
    page.evaluate("window.sameDocument = true")
    run_button = page.get_by_role("button", name="Run batch_55 now")
    run_button.scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 200

    run_button.click()
    flash = page.locator("#flash .flash")
    expect(flash).to_contain_text("Queued a run of batch_55")
    [run] = web_store.executions.list(task_id=web_store.tasks.get("batch_55").id, limit=1)
    expect(flash.get_by_role("link", name=f"open run #{run.id}")).to_have_attribute("href", f"/executions/{run.id}")
    assert run.trigger is Trigger.MANUAL

    page.get_by_role("button", name="Pause batch_55").click()
    row = page.locator('#grid tr[data-task="batch_55"]')
    expect(row).to_contain_text("paused")
    expect(page.get_by_role("button", name="Resume batch_55")).to_be_visible()
    expect(flash).to_have_text("Paused batch_55.")
    assert web_store.tasks.get("batch_55").paused

    page.get_by_role("button", name="Resume batch_55").click()
    expect(row).not_to_contain_text("paused")
    assert not web_store.tasks.get("batch_55").paused
    assert page.evaluate("window.sameDocument") is True  # no page load
    assert page.url == filtered
    expect(page.locator('#grid tr[data-task="other_job"]')).to_have_count(0)  # the filter held
    assert abs(page.evaluate("window.scrollY") - scrolled) < 40
    assert watch.violations == [] and watch.dialogs == []


def test_every_action_button_says_what_it_acts_on(live: str, browser: Browser, web_store: Store) -> None:
    add_task(web_store, "bank_import")
    add_task(web_store, "payroll")
    page = browser.new_page()
    _log_in(page, live, "operator")
    for task in ("bank_import", "payroll"):
        row = page.locator(f'#grid tr[data-task="{task}"]')
        names = row.locator("button, a.button").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
        assert names == [f"Run {task} now", f"Pause {task}", f"Logs of {task}"]
        expect(row.get_by_role("button", name=f"Run {task} now")).to_have_text("Run")
    names = page.locator("#grid button, #grid a.button").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert len(set(names)) == len(names)


def test_a_viewer_gets_no_buttons_and_an_in_place_post_still_needs_the_role(
    live: str, browser: Browser, web_store: Store
) -> None:
    add_task(web_store, "bank_import")
    page = browser.new_page()
    _log_in(page, live, "viewer")
    expect(page.locator('#grid tr[data-task="bank_import"]')).to_be_visible()
    expect(page.locator("#grid button")).to_have_count(0)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    headers = {"HX-Request": "true", "HX-Target": "task-row-1", "X-CSRF-Token": token, "Origin": live}
    answer = page.request.post(f"{live}/tasks/bank_import/pause", headers=headers, form={"next": "/"})
    assert answer.status == 403
    assert not web_store.tasks.get("bank_import").paused


class Dialogs:
    """Answers each confirm dialog as told and keeps its message."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        self.accept = False
        page.on("dialog", self._answer)

    def _answer(self, dialog: Dialog) -> None:
        self.messages.append(dialog.message)
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()


def test_destructive_actions_ask_first(live: str, browser: Browser, web_store: Store) -> None:
    running = _running_run(web_store, "bank_import")
    add_alert_rule(web_store, by="test", name="slow_bank", kind="long_run", threshold=60, task="bank_import")
    page = browser.new_page()
    dialogs = Dialogs(page)
    _log_in(page, live, "admin")

    page.goto(f"{live}/alerts")
    page.get_by_role("button", name="Remove rule slow_bank").click()
    page.evaluate("1")  # answers only once the dialog is closed
    assert len(dialogs.messages) == 1
    assert [rule.name for rule in web_store.alert_rules.list()] == ["slow_bank"]
    dialogs.accept = True
    page.get_by_role("button", name="Remove rule slow_bank").click()
    expect(page.locator("#flash")).to_contain_text("Removed rule slow_bank")
    assert web_store.alert_rules.list() == []

    dialogs.accept = False
    page.goto(f"{live}/executions/{running}")
    page.get_by_role("button", name=f"Cancel run #{running} of bank_import").click()
    page.evaluate("1")
    assert len(dialogs.messages) == 3
    assert web_store.executions.get(running).cancel_requested_at is None
    dialogs.accept = True
    page.get_by_role("button", name=f"Cancel run #{running} of bank_import").click()
    expect(page.locator("#run-state .flash")).to_be_visible()
    assert web_store.executions.get(running).cancel_requested_at is not None or (
        web_store.executions.get(running).status is not ExecutionStatus.RUNNING
    )

    dialogs.accept = False
    page.goto(f"{live}/tasks/bank_import")
    page.locator("#edit-task input[name=enabled]").uncheck()
    page.get_by_role("button", name="Save bank_import").click()
    page.evaluate("1")
    assert len(dialogs.messages) == 5
    assert web_store.tasks.get("bank_import").spec.enabled
    page.locator("#edit-task input[name=description]").fill("imports statements")
    page.locator("#edit-task input[name=enabled]").check()
    page.get_by_role("button", name="Save bank_import").click()  # keeps it enabled: no question
    expect(page.locator("#flash")).to_contain_text("Saved bank_import")
    asked = len(dialogs.messages)
    dialogs.accept = True
    page.locator("#edit-task input[name=enabled]").uncheck()
    page.get_by_role("button", name="Save bank_import").click()
    expect(page.locator("#flash")).to_contain_text("Saved bank_import")
    expect(page.locator("#task-live")).to_contain_text("disabled")
    assert not web_store.tasks.get("bank_import").spec.enabled
    assert dialogs.messages[0].startswith("Remove the alert rule slow_bank?")
    assert dialogs.messages[2].startswith(f"Cancel run #{running} of bank_import?")
    assert dialogs.messages[4].startswith("Disable bank_import?")
    assert asked == 5 and len(dialogs.messages) == 6


def test_acknowledge_and_snooze_change_the_alert_in_place(live: str, browser: Browser, web_store: Store) -> None:
    from smartcron.domain.enums import Severity

    task_id = add_task(web_store, "bank_import")
    alert, _ = web_store.alerts.raise_or_repeat(
        "task_failed", task_id=task_id, severity=Severity.HIGH, message="bank_import failed", now=NOW, notify_after=NOW
    )
    page = browser.new_page()
    watch = Watch(page)
    _log_in(page, live, "operator")
    page.goto(f"{live}/alerts")
    page.evaluate("window.sameDocument = true")
    row = page.locator(f'tr[data-alert="{alert.id}"]')
    page.get_by_role("button", name=f"Acknowledge alert {alert.id} on bank_import").click()
    expect(row).to_contain_text("acknowledged by web:operator")
    expect(page.locator("#flash")).to_have_text(f"Acknowledged alert {alert.id}.")
    page.get_by_role("combobox", name=f"Snooze alert {alert.id} on bank_import for").select_option("4h")
    page.get_by_role("button", name=f"Snooze alert {alert.id} on bank_import").click()
    expect(row.locator("[data-snoozed-until]")).to_be_visible()
    expect(page.locator("#flash")).to_contain_text(f"Snoozed alert {alert.id}: no message about it until")
    assert page.evaluate("window.sameDocument") is True
    assert web_store.alerts.get(alert.id).snoozed_until is not None
    assert watch.violations == [] and watch.dialogs == []
