"""What an idle dashboard tab costs, and how soon a change reaches an open one (issue 13, item 1).

    .venv/bin/python bench/dashboard_idle.py            # each tab idle 5 minutes
    .venv/bin/python bench/dashboard_idle.py --quick    # 30 seconds
    .venv/bin/python bench/dashboard_idle.py --minutes 2

The dashboard (the example registry, 25 tasks, on SQLite) is served by uvicorn in this process;
a real headless Chromium (Debian's, never a downloaded one) opens the Tasks tab and the Charts tab
side by side and leaves them alone. Every byte each tab receives after it has loaded is counted
through the browser's own network events (headers and bodies, the event stream included) and
extrapolated to an hour: target under 1 MB an hour for each. The floor is the event stream's own
share of it: the "beat" a live page needs every 4 seconds to know its connection is alive.

Then the latency of a change: a run of a task on the open Tasks tab starts and ends, written to
the database as a runner writes it; the time from the write until the tab shows the new status,
p50 and max over several changes: target under 1 s. Its floor is a fetch of the grid fragment
from the page itself (what the page must do at least once it knows).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, percentile

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
PASSWORD = "bench-password-1"
MINUTES = {True: 0.5, False: 5.0}
CHANGES = {True: 5, False: 15}
TARGET_BYTES_PER_HOUR = 1_000_000
TARGET_LATENCY_S = 1.0
TASK = "sync_vend_inventory"
SHOWS = "([selector, text]) => document.querySelector(selector)?.textContent.trim() === text"
FETCH_GRID = """async () => {
  const started = performance.now();
  await (await fetch("/partials/grid", {headers: {"HX-Request": "true"}})).text();
  return (performance.now() - started) / 1000;
}"""


@dataclass
class Traffic:
    """Bytes one page received, per request, from the browser's network events (CDP)."""

    by_request: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    counting: bool = False

    def total(self, contains: str = "") -> int:
        return sum(n for rid, n in self.by_request.items() if contains in self.urls.get(rid, ""))


def _watch(page: Any) -> Traffic:
    traffic = Traffic()
    session = page.context.new_cdp_session(page)

    def sent(event: dict[str, Any]) -> None:
        traffic.urls[event["requestId"]] = event["request"]["url"]

    def data(event: dict[str, Any]) -> None:
        if traffic.counting:
            rid = event["requestId"]
            traffic.by_request[rid] = traffic.by_request.get(rid, 0) + (
                event["encodedDataLength"] or event["dataLength"]
            )

    def headers(event: dict[str, Any]) -> None:
        if traffic.counting:  # the status line and headers of each answer
            rid = event["requestId"]
            raw = event["response"].get("headersText") or "".join(
                f"{k}: {v}\r\n" for k, v in event["response"].get("headers", {}).items()
            )
            traffic.by_request[rid] = traffic.by_request.get(rid, 0) + len(raw) + 20

    session.on("Network.requestWillBeSent", sent)
    session.on("Network.dataReceived", data)
    session.on("Network.responseReceived", headers)
    session.send("Network.enable")
    return traffic


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _dashboard() -> Iterator[tuple[str, Any]]:
    """A home with the example tasks and an admin, served on a free port; yields (URL, store)."""
    import uvicorn

    from smartcron.clock import SystemClock
    from smartcron.config import load_settings
    from smartcron.domain.enums import Role
    from smartcron.services.setup import initialise
    from smartcron.store import open_store
    from smartcron.web.accounts import Accounts
    from smartcron.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="smartcron-bench-idle-") as home:
        env = {**os.environ, "SMARTCRON_HOME": home}
        settings = load_settings(env=env)
        initialise(settings)
        applied = subprocess.run(
            [sys.executable, "-m", "smartcron", "tasks", "apply", str(ROOT / "examples" / "tasks.toml")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if applied.returncode:
            raise SystemExit(applied.stderr)
        store = open_store(settings)
        Accounts(store, actor="bench").add_user("admin", password=PASSWORD, role=Role.ADMIN, now=datetime.now(UTC))
        port = _free_port()
        config = uvicorn.Config(create_app(settings, store, clock=SystemClock()), port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)  # uvicorn has no other signal that it listens
        try:
            yield f"http://127.0.0.1:{port}", store
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            store.close()


def _log_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@dataclass(frozen=True, slots=True)
class Idle:
    tab: str
    seconds: float
    total: int
    stream: int

    def per_hour(self, count: int) -> float:
        return count * 3600 / self.seconds


def measure_idle(browser: Any, base: str, minutes: float) -> list[Idle]:
    """The Tasks and the Charts tab side by side, each idle for ``minutes`` after loading."""
    context = browser.new_context()
    tabs: list[tuple[str, Any, Traffic]] = []
    for name, path, ready in (
        ("tasks", "/", f'#grid tr[data-task="{TASK}"]'),
        ("charts", "/charts", "#chart-runs canvas"),
    ):
        page = context.new_page()
        traffic = _watch(page)
        if not tabs:
            _log_in(page, base)
        page.goto(f"{base}{path}")
        page.wait_for_selector(ready)
        tabs.append((name, page, traffic))
    started = time.monotonic()
    for _, _, traffic in tabs:
        traffic.counting = True
    tabs[0][1].wait_for_timeout(minutes * 60_000)  # the measurement: the tabs left alone this long
    seconds = time.monotonic() - started
    for _, _, traffic in tabs:
        traffic.counting = False
    out = [Idle(name, seconds, traffic.total(), traffic.total("/events")) for name, _, traffic in tabs]
    context.close()
    return out


@dataclass(frozen=True, slots=True)
class Latency:
    samples: list[float]
    fragment: list[float]


def _run_of(store: Any, task_id: int, slot: datetime) -> tuple[Callable[[], None], Callable[[], None]]:
    """Two writes, as a runner makes them: a run of the task starts, and it ends (failed)."""
    from smartcron.domain.enums import ExecutionStatus, Trigger
    from smartcron.domain.execution import Outcome
    from smartcron.store.executions import Finish, SlotClaim

    claimed: list[Any] = []

    def start() -> None:
        claimed.extend(
            store.executions.claim([SlotClaim(task_id, slot, Trigger.MANUAL)], node="b", token="t", now=slot)
        )
        store.executions.begin([claimed[0].id], node="b", token="t", now=slot, lease_until=slot + timedelta(hours=1))

    def end() -> None:
        outcome = Outcome(status=ExecutionStatus.FAILED, finished_at=datetime.now(UTC), exit_code=1)
        store.executions.finish([Finish(claimed[0].id, task_id, outcome)], token="t")

    return start, end


def measure_latency(browser: Any, base: str, store: Any, changes: int) -> Latency:
    """A run of TASK starts and ends ``changes`` times; each time, seconds until the tab shows it."""
    page = browser.new_context().new_page()
    _log_in(page, base)
    badge = f'#grid tr[data-task="{TASK}"] td:nth-child(3) .badge'
    task = store.tasks.get(TASK)
    samples: list[float] = []
    fragment: list[float] = []

    rng = random.Random(13)

    def shown(text: str, write: Callable[[], None]) -> None:
        # Writing right after the page showed the last change would land at the same point of the
        # stream's 1-second cycle each time; a random wait spreads the writes over the cycle, as
        # runs ending whenever they end are.
        page.wait_for_timeout(rng.uniform(0, 1000))
        started = time.perf_counter()
        write()
        page.wait_for_function(SHOWS, arg=[badge, text], polling="raf")
        samples.append(time.perf_counter() - started)

    for number in range(changes):
        start, end = _run_of(store, task.id, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=number))
        shown("running", start)
        shown("failed", end)
        fragment.append(page.evaluate(FETCH_GRID))
    page.context.close()
    return Latency(samples, fragment)


def run(minutes: float, changes: int) -> tuple[list[Idle], Latency]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with _dashboard() as (base, store), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            idle = measure_idle(browser, base, minutes)
            latency = measure_latency(browser, base, store, changes)
        finally:
            browser.close()
    return idle, latency


def to_figures(idle: list[Idle], latency: Latency) -> list[Figure]:
    out = [
        Figure(
            name=f"dashboard_idle.{tab.tab}_bytes_per_hour",
            value=tab.per_hour(tab.total),
            unit="B/h",
            target=TARGET_BYTES_PER_HOUR,
            floor=tab.per_hour(tab.stream) or None,
            note=f"{tab.total:,} B in {tab.seconds:.0f} s idle; floor: the event stream's beats alone",
        )
        for tab in idle
    ]
    fetch = statistics.median(latency.fragment)
    note = f"{len(latency.samples)} changes (run started, run ended); floor: the page fetching the grid fragment"
    for label, value in (
        ("p50", percentile(latency.samples, 0.5)),
        ("p95", percentile(latency.samples, 0.95)),
        ("max", max(latency.samples)),
    ):
        out.append(
            Figure(f"dashboard_idle.change_to_page_{label}_s", value, "s", TARGET_LATENCY_S, floor=fetch, note=note)
        )
    return out


def figures(quick: bool) -> list[Figure]:
    return to_figures(*run(MINUTES[quick], CHANGES[quick]))


def report(figures_: list[Figure]) -> None:
    print(f"{'figure':<42} {'value':>14} {'target':>12} {'floor':>12} {'ratio':>7}  note")
    for f in figures_:
        floor = "-" if f.floor is None else f"{f.floor:,.3f}" if f.unit == "s" else f"{f.floor:,.0f}"
        value = f"{f.value:,.3f}" if f.unit == "s" else f"{f.value:,.0f}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}"
        print(f"{f.name:<42} {value + ' ' + f.unit:>14} {f.target:>12,g} {floor:>12} {ratio:>7}  {f.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help=f"{MINUTES[True] * 60:.0f} s idle, {CHANGES[True]} changes"
    )
    parser.add_argument("--minutes", type=float, help=f"idle time of each tab (default {MINUTES[False]:g})")
    parser.add_argument("--changes", type=int, help=f"state changes timed (default {CHANGES[False]})")
    args = parser.parse_args()
    minutes = args.minutes or MINUTES[args.quick]
    changes = args.changes or CHANGES[args.quick]
    report(to_figures(*run(minutes, changes)))


if __name__ == "__main__":
    main()
