"""``/metrics`` is Prometheus text a standard parser reads, with counters that only move by new runs
(the first two tests on every database)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from smartcron.clock import FakeClock
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web.metrics import MetricsExposition, label_value
from tests.conftest import utc
from tests.web.conftest import NOW, add_task

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _finished_run(store: Store, task_id: int, minute: int, status: ExecutionStatus, duration_ms: int = 1500) -> None:
    slot = utc(2026, 3, 1, 11, minute)
    [run] = store.executions.claim([SlotClaim(task_id, slot, Trigger.SCHEDULE)], node="n", token="t", now=slot)
    store.executions.begin([run.id], node="n", token="t", now=slot, lease_until=slot)
    outcome = Outcome(status=status, finished_at=slot, exit_code=0, duration_ms=duration_ms)
    store.executions.finish([Finish(run.id, task_id, outcome)], token="t")


def _scrape(exposition: MetricsExposition) -> tuple[dict[str, str], Samples]:
    """Family name -> type, and every sample by (name, sorted labels), as Prometheus' parser reads them."""
    types: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition.render().decode()):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return types, samples


def test_a_scrape_holds_every_family_with_its_type_and_the_runs_per_task(store: Store) -> None:
    nightly = add_task(store, "nightly")
    _finished_run(store, nightly, 0, ExecutionStatus.SUCCESS, duration_ms=1500)
    _finished_run(store, nightly, 1, ExecutionStatus.FAILED, duration_ms=500)
    add_task(store, "never_ran")

    types, samples = _scrape(MetricsExposition(store, FakeClock(NOW)))

    assert types == {
        "smartcron_runs": "counter",
        "smartcron_run_duration_seconds": "summary",
        "smartcron_task_last_success_timestamp_seconds": "gauge",
        "smartcron_running_runs": "gauge",
        "smartcron_open_alerts": "gauge",
        "smartcron_runner_heartbeat_age_seconds": "gauge",
    }
    task = (("task", "nightly"),)
    assert samples[("smartcron_runs_total", (("status", "success"), *task))] == 1.0
    assert samples[("smartcron_runs_total", (("status", "failed"), *task))] == 1.0
    assert samples[("smartcron_run_duration_seconds_count", task)] == 2.0
    assert samples[("smartcron_run_duration_seconds_sum", task)] == 2.0
    assert samples[("smartcron_task_last_success_timestamp_seconds", task)] == utc(2026, 3, 1, 11, 0).timestamp()
    assert not [key for key in samples if ("task", "never_ran") in key[1]]
    assert samples[("smartcron_running_runs", ())] == 0.0
    assert {key[1]: value for key, value in samples.items() if key[0] == "smartcron_open_alerts"} == {
        (("severity", "critical"),): 0.0,
        (("severity", "high"),): 0.0,
        (("severity", "low"),): 0.0,
    }


def test_counters_count_each_later_run_once_across_scrapes(store: Store) -> None:
    nightly = add_task(store, "nightly")
    _finished_run(store, nightly, 0, ExecutionStatus.SUCCESS)
    exposition = MetricsExposition(store, FakeClock(NOW))
    success = ("smartcron_runs_total", (("status", "success"), ("task", "nightly")))

    assert _scrape(exposition)[1][success] == 1.0
    _finished_run(store, nightly, 1, ExecutionStatus.SUCCESS)
    _finished_run(store, nightly, 2, ExecutionStatus.TIMEOUT)
    _, first = _scrape(exposition)
    _, again = _scrape(exposition)  # the same rows are read again inside the overlap window

    assert first[success] == again[success] == 2.0
    assert again[("smartcron_runs_total", (("status", "timeout"), ("task", "nightly")))] == 1.0
    assert again[("smartcron_run_duration_seconds_count", (("task", "nightly"),))] == 3.0
    assert again[("smartcron_task_last_success_timestamp_seconds", (("task", "nightly"),))] == (
        utc(2026, 3, 1, 11, 1).timestamp()
    )


def test_a_run_recorded_late_but_within_five_minutes_of_the_newest_is_still_counted(web_store: Store) -> None:
    nightly = add_task(web_store, "nightly")
    _finished_run(web_store, nightly, 5, ExecutionStatus.SUCCESS)
    exposition = MetricsExposition(web_store, FakeClock(NOW))
    success = ("smartcron_runs_total", (("status", "success"), ("task", "nightly")))
    assert _scrape(exposition)[1][success] == 1.0

    _finished_run(web_store, nightly, 2, ExecutionStatus.SUCCESS)  # ended before the newest, committed after
    _, late = _scrape(exposition)
    _, again = _scrape(exposition)

    assert late[success] == again[success] == 2.0


def test_a_removed_task_leaves_the_scrape(web_store: Store) -> None:
    for name in ("nightly", "hourly"):
        _finished_run(web_store, add_task(web_store, name), 0, ExecutionStatus.SUCCESS)
    exposition = MetricsExposition(web_store, FakeClock(NOW))
    assert {dict(labels).get("task") for _, labels in _scrape(exposition)[1]} >= {"nightly", "hourly"}

    web_store.tasks.remove("hourly")

    tasks = {dict(labels).get("task") for _, labels in _scrape(exposition)[1]} - {None}
    assert tasks == {"nightly"}


def test_runner_heartbeats_are_ages_by_node(web_store: Store) -> None:
    web_store.nodes.beat("web-1", "runner", now=NOW, pid=1)
    clock = FakeClock(NOW)
    clock.advance(42)

    _, samples = _scrape(MetricsExposition(web_store, clock))

    assert samples[("smartcron_runner_heartbeat_age_seconds", (("node", "web-1"),))] == 42.0


def test_label_values_escape_what_the_text_format_reserves() -> None:
    assert label_value("plain_name.1") == "plain_name.1"
    assert label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
