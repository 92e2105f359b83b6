"""The charts page in real headless Chromium: a range fitted to the history there is, buckets sized
to the range, one unit per chart, and the range kept in the URL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.execution_rows import Finish, SlotClaim
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


def _finished_run(store: Store, task_id: int, at: datetime) -> None:
    [run] = store.executions.claim([SlotClaim(task_id, at, Trigger.SCHEDULE)], node="n", token="t", now=at)
    store.executions.begin([run.id], node="n", token="t", now=at, lease_until=at + timedelta(minutes=1))
    outcome = Outcome(status=ExecutionStatus.SUCCESS, finished_at=at + timedelta(seconds=3), exit_code=0)
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")


def _activity_answers(page: Page) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda response: seen.append(response) if "/api/v1/stats/activity" in response.url else None)
    return seen


def test_two_hours_of_history_open_on_the_six_hour_range_with_minute_buckets_and_one_unit_per_chart(
    live: str,
    browser: Browser,
    web_store: Store,
) -> None:
    task = add_task(web_store, "bank_import")
    now = datetime.now(UTC)
    for minutes in (120, 60, 5):
        _finished_run(web_store, task, now - timedelta(minutes=minutes))
    web_store.metrics.record({"cpu_percent": 12.5, "memory_percent": 40.0, "log_dir_mb": 3.2}, at=now, node="a")
    page = browser.new_page()
    watch = Watch(page)
    _log_in(page, live, "viewer")
    answers = _activity_answers(page)
    page.goto(f"{live}/charts")
    expect(page.locator("#chart-hours")).to_have_value("6")
    expect(page.locator("#chart-runs canvas")).to_be_visible()
    body = answers[-1].json()
    assert body["bucket_seconds"] == 60 and len(body["buckets"]) <= 400
    # Percentages and megabytes on charts of their own.
    expect(page.locator('#chart-resources-percent[data-unit="%"] canvas')).to_be_visible()
    expect(page.locator('#chart-resources-mb[data-unit="MB"] canvas')).to_be_visible()
    percent_series = page.locator("#chart-resources-percent .u-legend .u-series").all_inner_texts()
    assert any("cpu_percent" in s for s in percent_series) and not any("log_dir_mb" in s for s in percent_series)

    page.select_option("#chart-hours", "720")
    page.wait_for_url("**/charts?hours=720")
    expect(page.locator("#chart-runs canvas")).to_be_visible()
    page.wait_for_load_state("networkidle")
    body = answers[-1].json()
    assert body["bucket_seconds"] == 10800 and len(body["buckets"]) <= 400, body["bucket_seconds"]
    page.reload()
    expect(page.locator("#chart-hours")).to_have_value("720")  # the range lives in the URL
    assert watch.violations == []


def test_with_no_history_the_charts_open_on_the_shortest_range(
    live: str,
    browser: Browser,
) -> None:
    page = browser.new_page()
    _log_in(page, live, "viewer")
    page.goto(f"{live}/charts")
    expect(page.locator("#chart-hours")).to_have_value("6")
    page.goto(f"{live}/charts?hours=12")  # a range from the URL is offered beside the usual ones
    expect(page.locator("#chart-hours")).to_have_value("12")
    assert page.goto(f"{live}/charts?hours=0") is not None
    expect(page.locator("body")).to_contain_text("hours")
