"""``/metrics`` keeps its body between scrapes: built again when the database changed, once it is a
second old, and once for scrapes that arrive together; what it serves is what a fresh build writes."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from fastapi.testclient import TestClient

from smartcron.clock import FakeClock
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Role
from smartcron.store import Store
from smartcron.store.changes import StateSnapshot
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app
from smartcron.web.metrics import CONTENT_TYPE, MetricsExposition
from smartcron.web.metrics_cache import CachedMetrics
from tests.conftest import utc
from tests.web.conftest import NOW, add_task
from tests.web.test_metrics import _finished_run

SNAPSHOT = StateSnapshot(
    max_execution_id=0,
    live_runs=(),
    last_finished_at=None,
    alert_states=(),
    max_alert_id=0,
    max_health_id=0,
    task_count=0,
    tasks_updated_at=None,
    heartbeats=(),
)


def _cached(store: Store, clock: FakeClock) -> CachedMetrics:
    return CachedMetrics(MetricsExposition(store, clock).render_stored, store.changes.snapshot, clock)


def _runs_of(body: bytes, task: str, status: str) -> str:
    prefix = f'smartcron_runs_total{{status="{status}",task="{task}"}} '
    [line] = [x for x in body.decode().splitlines() if x.startswith(prefix)]
    return line.removeprefix(prefix)


def test_a_scrape_reuses_the_body_while_nothing_changed(web_store: Store) -> None:
    _finished_run(web_store, add_task(web_store, "nightly"), 0, ExecutionStatus.SUCCESS)
    clock = FakeClock(NOW)
    cache = _cached(web_store, clock)

    first = cache.render()
    clock.advance(0.9)
    again = cache.render()

    assert cache.builds == 1
    assert again == first


def test_a_finished_run_is_in_the_next_scrape(store: Store) -> None:
    nightly = add_task(store, "nightly")
    _finished_run(store, nightly, 0, ExecutionStatus.SUCCESS)
    cache = _cached(store, FakeClock(NOW))
    assert _runs_of(cache.render(), "nightly", "success") == "1.0"

    _finished_run(store, nightly, 1, ExecutionStatus.SUCCESS)

    assert _runs_of(cache.render(), "nightly", "success") == "2.0"
    assert cache.builds == 2


def test_an_added_task_is_in_the_next_scrape(store: Store) -> None:
    _finished_run(store, add_task(store, "nightly"), 0, ExecutionStatus.SUCCESS)
    cache = _cached(store, FakeClock(NOW))
    cache.render()

    _finished_run(store, add_task(store, "hourly"), 0, ExecutionStatus.FAILED)

    assert _runs_of(cache.render(), "hourly", "failed") == "1.0"
    assert cache.builds == 2


def test_the_body_is_built_again_once_it_is_a_second_old(web_store: Store) -> None:
    add_task(web_store, "nightly")
    clock = FakeClock(NOW)
    cache = _cached(web_store, clock)
    cache.render()

    clock.advance(0.999)
    cache.render()
    assert cache.builds == 1
    clock.advance(0.001)
    cache.render()
    assert cache.builds == 2


def test_heartbeat_ages_are_taken_at_each_scrape_from_the_kept_body(web_store: Store) -> None:
    web_store.nodes.beat("web-1", "runner", now=NOW, pid=1)
    clock = FakeClock(NOW)
    cache = _cached(web_store, clock)
    age = 'smartcron_runner_heartbeat_age_seconds{node="web-1"} '

    assert age + "0.0\n" in cache.render().decode()
    clock.advance(0.5)
    assert age + "0.5\n" in cache.render().decode()
    web_store.nodes.beat("web-1", "runner", now=clock.now(), pid=1)  # a beat alone needs no build
    assert age + "0.0\n" in cache.render().decode()
    assert cache.builds == 1


def test_the_kept_body_is_what_a_fresh_build_writes_for_the_same_data(store: Store) -> None:
    nightly, hourly = add_task(store, "nightly"), add_task(store, 'odd "name"')
    _finished_run(store, nightly, 0, ExecutionStatus.SUCCESS)
    _finished_run(store, hourly, 1, ExecutionStatus.TIMEOUT, duration_ms=250)
    store.nodes.beat("web-2", "runner", now=NOW, pid=2)
    store.nodes.beat("web-1", "runner", now=utc(2026, 3, 1, 11, 59), pid=1)
    clock = FakeClock(NOW)
    cache = _cached(store, clock)
    cache.render()
    _finished_run(store, hourly, 2, ExecutionStatus.SUCCESS)  # the kept body is brought up to date
    clock.advance(0.25)

    kept = cache.render()

    assert kept == MetricsExposition(store, clock).render()
    assert cache.builds == 2


def test_a_kept_body_is_served_with_the_same_type_and_only_with_a_viewer_token(
    settings: Settings, web_store: Store
) -> None:
    _finished_run(web_store, add_task(web_store, "nightly"), 0, ExecutionStatus.SUCCESS)
    token, _ = Accounts(web_store, actor="test").create_token("prometheus", role=Role.VIEWER, now=NOW)
    app = create_app(settings, web_store, clock=FakeClock(NOW))  # the clock stands still: one build
    with TestClient(app) as client:
        first = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        again = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        refused = client.get("/metrics")

    assert app.state.metrics.builds == 1
    assert again.status_code == 200 and again.headers["content-type"] == CONTENT_TYPE
    assert again.content == first.content
    assert refused.status_code == 401 and "smartcron_runs_total" not in refused.text


class _Versions:
    """A snapshot source whose every read is newer than the last, and a build that counts itself."""

    def __init__(self, on_read: Callable[[], None] = lambda: None) -> None:
        self.reads = 0
        self.built = 0
        self._lock = threading.Lock()
        self._on_read = on_read

    def snapshot(self) -> StateSnapshot:
        with self._lock:
            self.reads += 1
            reads = self.reads
        self._on_read()
        return dataclasses.replace(SNAPSHOT, max_execution_id=reads)

    def build(self) -> bytes:
        self.built += 1
        return f"build {self.built}\n".encode()


def test_scrapes_that_arrive_together_cost_one_build_even_when_each_saw_a_newer_snapshot() -> None:
    scrapes = 4
    arrived = threading.Barrier(scrapes)  # every scrape has come before any build begins
    source = _Versions(on_read=arrived.wait)
    cache = CachedMetrics(source.build, source.snapshot, FakeClock(NOW))
    bodies: list[bytes] = []

    threads = [threading.Thread(target=lambda: bodies.append(cache.render())) for _ in range(scrapes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert source.built == cache.builds == 1
    assert {body.split(b"#")[0] for body in bodies} == {b"build 1\n"}


def test_a_scrape_that_comes_during_a_build_waits_for_it_and_takes_its_body() -> None:
    building, release, waiter_arrived = threading.Event(), threading.Event(), threading.Event()
    built = 0

    def slow_build() -> bytes:
        nonlocal built
        built += 1
        building.set()
        release.wait()
        return b"the body\n"

    snapshot_reads = 0

    def snapshot() -> StateSnapshot:
        nonlocal snapshot_reads
        snapshot_reads += 1
        if snapshot_reads == 2:
            waiter_arrived.set()
        return SNAPSHOT

    cache = CachedMetrics(slow_build, snapshot, FakeClock(NOW))
    bodies: list[bytes] = []
    builder = threading.Thread(target=lambda: bodies.append(cache.render()))
    builder.start()
    building.wait()
    waiter = threading.Thread(target=lambda: bodies.append(cache.render()))
    waiter.start()
    waiter_arrived.wait()
    release.set()
    builder.join()
    waiter.join()

    assert built == cache.builds == 1
    assert [body.startswith(b"the body\n") for body in bodies] == [True, True]


def test_a_scrape_after_a_newer_snapshot_than_the_build_began_with_builds_again() -> None:
    source = _Versions()
    cache = CachedMetrics(source.build, source.snapshot, FakeClock(NOW))

    cache.render()
    cache.render()

    assert source.built == cache.builds == 2
