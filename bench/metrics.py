"""``/metrics`` at 10,000 tasks: p50 and p95 of a scrape, the body kept between scrapes or built anew.

    .venv/bin/python bench/metrics.py             # 10,000 tasks, 200,000 executions (cached)
    .venv/bin/python bench/metrics.py --quick     # 10,000 tasks, 10,000 executions, fewer rounds

Every request goes through the whole application in process (routing, token auth, middleware),
as ``bench/dashboard.py`` sends them, on a copy of a generated history. One round sends, in turn:

* ``uncached``: the exposition built from the database for this request alone (what ``/metrics``
  did before it kept its body), through a route added for the benchmark with the same auth;
* ``unchanged``: ``/metrics`` right after another scrape, nothing changed (several Prometheus
  servers, a scrape storm): the kept body, the change snapshot and the heartbeat ages;
* ``after_change``: ``/metrics`` after one run finished (written before the clock starts): a build;
* ``after_max_age``: ``/metrics`` once the kept body is a second old, nothing changed: a build;
* ``floor``: a static body of the same size through the same stack and auth.

Then a burst of concurrent scrapes after a change counts how many builds it cost (one is right).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dashboard, generate
from bench.common import Figure, percentile
from fastapi import Depends, FastAPI, Response
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from smartcron.config import load_settings
from smartcron.domain.enums import ExecutionStatus, Role, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store, open_store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.store.schema import tasks
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app
from smartcron.web.auth import Principal, require_viewer
from smartcron.web.metrics import CONTENT_TYPE, MetricsExposition
from smartcron.web.metrics_cache import MAX_AGE_SECONDS, CachedMetrics

TARGET_P95_MS = 20.0
TASKS = 10_000
EXECUTIONS = {True: 10_000, False: 200_000}
ROUNDS = {True: (20, 2), False: (60, 3)}  # measured rounds, warm-up rounds
CONCURRENT_SCRAPES = 4
SCENARIOS = ("uncached", "unchanged", "after_change", "after_max_age", "floor")


class SteppedClock(dashboard.ShiftedClock):
    """The shifted system clock whose monotonic reading can be stepped forward, to age the kept
    body past its second without waiting for it."""

    def __init__(self, offset: timedelta) -> None:
        super().__init__(offset)
        self.stepped = 0.0

    def monotonic(self) -> float:
        return super().monotonic() + self.stepped


@dataclass(frozen=True, slots=True)
class Timing:
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class Measurement:
    executions: int
    body_bytes: int
    rounds: int
    timings: dict[str, Timing]
    builds_per_burst: float
    burst_ms: float
    uncached_first_ms: float
    load: tuple[float, float]  # the machine's 1-minute load average before and after


def _add_route(app: FastAPI, path: str, body: Callable[[], bytes]) -> None:
    """A GET route with the same auth and content type as ``/metrics``, answering ``body()``."""

    def endpoint(_: Annotated[Principal, Depends(require_viewer)]) -> Response:
        return Response(body(), media_type=CONTENT_TYPE)

    app.add_api_route(path, endpoint, methods=["GET"])


class RunWriter:
    """Finishes one new successful run of one task per call: the change a scrape then has to show."""

    def __init__(self, store: Store, clock: SteppedClock) -> None:
        self._store = store
        self._clock = clock
        with store.engine.connect() as conn:
            self._task_id = int(conn.execute(select(func.min(tasks.c.id))).scalar_one())

    def one(self) -> None:
        now = self._clock.now()
        claim = SlotClaim(self._task_id, now, Trigger.MANUAL)
        [run] = self._store.executions.claim([claim], node="bench", token="bench", now=now)
        self._store.executions.begin([run.id], node="bench", token="bench", now=now, lease_until=now)
        outcome = Outcome(status=ExecutionStatus.SUCCESS, finished_at=now, exit_code=0, duration_ms=10)
        self._store.executions.finish([Finish(run.id, self._task_id, outcome)], token="bench")


def _timed(client: TestClient, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    took = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:200]}")
    return took


def _burst(cache: CachedMetrics, writer: RunWriter) -> tuple[int, float]:
    """Builds and wall milliseconds of concurrent scrapes that all arrive just after a change."""
    writer.one()
    start = threading.Barrier(CONCURRENT_SCRAPES + 1)
    before = cache.builds

    def scrape() -> None:
        start.wait()
        cache.render()

    threads = [threading.Thread(target=scrape) for _ in range(CONCURRENT_SCRAPES)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    return cache.builds - before, (time.perf_counter() - started) * 1000


def measure(url: str, rounds: int, warmup: int) -> Measurement:
    home = Path(tempfile.mkdtemp(prefix="smartcron-bench-"))
    try:
        settings = load_settings(env={"SMARTCRON_HOME": str(home), "SMARTCRON_DATABASE_URL": url})
        store = open_store(settings)
        load_before = os.getloadavg()[0]
        clock = SteppedClock(datetime.now(UTC) - generate.generated_at(store))
        accounts = Accounts(store, actor="bench")
        token, _ = accounts.create_token(f"bench-{time.time_ns()}", role=Role.ADMIN, now=clock.now())
        application = create_app(settings, store, clock=clock)
        cache: CachedMetrics = application.state.metrics
        uncached = MetricsExposition(store, clock)
        _add_route(application, "/bench/uncached", uncached.render)
        writer = RunWriter(store, clock)
        gc.freeze()  # as `smartcron web` does once the app exists
        samples: dict[str, list[float]] = {name: [] for name in SCENARIOS}
        with TestClient(application) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            uncached_first_ms = _timed(client, "/bench/uncached")
            body = client.get("/metrics").content
            _add_route(application, "/bench/floor", lambda: body)
            for number in range(warmup + rounds):
                took = {"uncached": _timed(client, "/bench/uncached")}
                client.get("/metrics")
                took["unchanged"] = _timed(client, "/metrics")
                writer.one()
                took["after_change"] = _timed(client, "/metrics")
                clock.stepped += MAX_AGE_SECONDS
                took["after_max_age"] = _timed(client, "/metrics")
                took["floor"] = _timed(client, "/bench/floor")
                if number >= warmup:
                    for name, value in took.items():
                        samples[name].append(value)
            bursts = [_burst(cache, writer) for _ in range(max(3, rounds // 4))]
        executions = int(dashboard._subjects(store)["run"])
        store.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    timings = {name: Timing(statistics.median(v), percentile(v, 0.95)) for name, v in samples.items()}
    return Measurement(
        executions=executions,
        body_bytes=len(body),
        rounds=rounds,
        timings=timings,
        builds_per_burst=statistics.mean(builds for builds, _ in bursts),
        burst_ms=statistics.median(ms for _, ms in bursts),
        uncached_first_ms=uncached_first_ms,
        load=(load_before, os.getloadavg()[0]),
    )


def to_figures(run: Measurement) -> list[Figure]:
    floor = round(run.timings["floor"].p95_ms, 2)
    size = f"{TASKS:,} tasks, {run.executions:,} executions on SQLite, {run.body_bytes / 1e6:.1f} MB body"
    size += f", {run.rounds} rounds, load average {run.load[0]:.1f} -> {run.load[1]:.1f}"
    out = []
    notes: dict[str, tuple[float | None, str]] = {
        "unchanged": (TARGET_P95_MS, "a scrape within 1 s of another, nothing changed (the kept body)"),
        "after_change": (None, "a scrape after one run finished (a build)"),
        "after_max_age": (None, "a scrape once the kept body is 1 s old, nothing changed (a build)"),
        "uncached": (None, f"built for each request, as before; first build {run.uncached_first_ms:.0f} ms"),
    }
    for name, (target, what) in notes.items():
        timing = run.timings[name]
        note = f"{what}; p50 {timing.p50_ms:.1f} ms; {size}; floor: a static body of that size, same stack"
        out.append(Figure(f"metrics.{name}_p95_ms", round(timing.p95_ms, 1), "ms", target, floor=floor, note=note))
    out.append(
        Figure(
            "metrics.builds_per_concurrent_burst",
            run.builds_per_burst,
            "builds",
            1.0,
            floor=1.0,
            note=f"{CONCURRENT_SCRAPES} scrapes arriving together after a change; burst {run.burst_ms:.0f} ms",
        )
    )
    return out


def figures(quick: bool) -> list[Figure]:
    rounds, warmup = ROUNDS[quick]
    with dashboard.sqlite_copy(TASKS, EXECUTIONS[quick]) as url:
        return to_figures(measure(url, rounds, warmup))


def report(run: Measurement) -> None:
    print(f"/metrics, {TASKS:,} tasks, {run.executions:,} executions, {run.body_bytes:,} bytes, {run.rounds} rounds")
    print(f"{'scenario':<15}  {'p50 ms':>8}  {'p95 ms':>8}")
    for name in SCENARIOS:
        timing = run.timings[name]
        print(f"{name:<15}  {timing.p50_ms:>8.1f}  {timing.p95_ms:>8.1f}")
    burst = f"{run.builds_per_burst:.2f} builds, {run.burst_ms:.0f} ms"
    print(f"{CONCURRENT_SCRAPES} concurrent scrapes after a change: {burst}")
    print(f"load average {run.load[0]:.1f} -> {run.load[1]:.1f}")
    print(f"target: unchanged p95 <= {TARGET_P95_MS:.0f} ms; first uncached build {run.uncached_first_ms:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 executions, 20 rounds")
    parser.add_argument("--executions", type=int, help="history size (default: 200,000; 10,000 with --quick)")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    rounds, warmup = ROUNDS[args.quick]
    executions = args.executions or EXECUTIONS[args.quick]
    with dashboard.sqlite_copy(TASKS, executions) as url:
        report(measure(url, args.rounds or rounds, warmup))


if __name__ == "__main__":
    main()
