"""One display time zone, whatever the browser's: with ``web.display_timezone`` set to New
Zealand and Chromium set to New York, every time on the pages is New Zealand time with its
abbreviation, the task page's next runs say which column is the task's zone and which the display
zone, and the charts' time axis and legend are 24-hour New Zealand time."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.store import Store
from smartcron.web.app import create_app
from tests.web.conftest import add_task
from tests.web.live_server import serving
from tests.web.test_browser import CHROMIUM, _log_in

pytestmark = pytest.mark.browser

DISPLAY = "Pacific/Auckland"
BROWSER_ZONE = "America/New_York"


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    shown_in_nz = dataclasses.replace(settings, web_display_timezone=DISPLAY)
    with serving(create_app(shown_in_nz, web_store, clock=SystemClock())) as base:
        yield base


def test_every_time_is_in_the_display_zone_with_its_abbreviation(live: str, browser: Browser, web_store: Store) -> None:
    add_task(web_store, "bank_import", timezone="Europe/London")  # every 5 minutes
    page = browser.new_context(timezone_id=BROWSER_ZONE).new_page()
    _log_in(page, live, "viewer")
    # add_task puts the next run at 2030-01-01 00:00 UTC: 13:00 in New Zealand's summer.
    expect(page.locator('#grid tr[data-task="bank_import"]')).to_contain_text("2030-01-01 13:00:00 NZDT")
    expect(page.locator("footer")).to_contain_text(f"times in {DISPLAY}")

    page.goto(f"{live}/tasks/bank_import")
    headers = page.locator("table.fire-times thead th").all_inner_texts()
    assert headers[:2] == ["Task's zone (Europe/London)", f"Display zone ({DISPLAY})"]
    first = page.locator("table.fire-times tbody tr").first.locator("td").all_inner_texts()
    london = re.fullmatch(r"\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (GMT|BST)", first[0])
    assert london, first[0]
    assert london.group(1)[-5:-3] in ("00", "05", "10", "15", "20", "25", "30", "35", "40", "45", "50", "55")
    moment = datetime.fromisoformat(london.group(1)).replace(tzinfo=ZoneInfo("Europe/London"))
    assert first[1] == moment.astimezone(ZoneInfo(DISPLAY)).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert first[1].endswith(("NZDT", "NZST"))


def test_the_chart_axis_and_legend_are_24_hour_display_zone_time(live: str, browser: Browser) -> None:
    page = browser.new_context(timezone_id=BROWSER_ZONE, viewport={"width": 1200, "height": 900}).new_page()
    _log_in(page, live, "viewer")
    page.goto(f"{live}/charts")
    chart = page.locator("#chart-runs")
    expect(chart.locator("canvas")).to_be_visible()
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == BROWSER_ZONE
    noon_utc = datetime(2030, 1, 1, 0, tzinfo=UTC).timestamp()
    labels = chart.evaluate(
        "(el, ts) => { const u = el.smartcronChart; return u.axes[0].values(u, [ts, ts + 3600, ts + 11 * 3600]); }",
        noon_utc,
    )
    assert labels == ["13:00", "14:00", "00:00"]  # New Zealand's clock, 24-hour, never 8:00 PM in New York

    legend = chart.locator(".u-legend .u-series").first
    expect(legend).to_contain_text(f"time ({DISPLAY})")
    at = chart.evaluate(
        "el => { const u = el.smartcronChart; const i = Math.floor(u.data[0].length / 2);"
        " u.setCursor({left: u.valToPos(u.data[0][i], 'x'), top: 10}); return u.data[0][i]; }"
    )
    expected = datetime.fromtimestamp(at, ZoneInfo(DISPLAY)).strftime("%H:%M")
    shown = legend.locator(".u-value").inner_text()
    assert expected in shown and "AM" not in shown and "PM" not in shown, shown
