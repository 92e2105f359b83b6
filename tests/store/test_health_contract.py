"""HealthRepository and MetricRepository behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import timedelta

import pytest

from smartcron.domain.enums import CheckStatus
from smartcron.domain.health import CheckResult
from smartcron.store import Store
from smartcron.store.health import MetricPoint
from tests.conftest import utc

NOW = utc(2026, 3, 1, 12)


def result(name: str, status: CheckStatus = CheckStatus.OK, value: float | None = 1.0) -> CheckResult:
    return CheckResult(name, status, value, f"{name} is {status.value}")


def test_latest_gives_the_newest_result_of_each_check_per_node(store: Store) -> None:
    store.health.record([result("disk"), result("memory")], at=NOW - timedelta(minutes=10), node="a")
    store.health.record(
        [result("disk", CheckStatus.WARN, 85.0), result("memory", CheckStatus.FAIL, 99.0)], at=NOW, node="a"
    )
    store.health.record([result("disk", CheckStatus.FAIL, 95.0)], at=NOW - timedelta(minutes=5), node="b")

    latest = {(r.name, r.node): (r.status, r.result.value, r.at) for r in store.health.latest()}

    assert latest == {
        ("disk", "a"): (CheckStatus.WARN, 85.0, NOW),
        ("memory", "a"): (CheckStatus.FAIL, 99.0, NOW),
        ("disk", "b"): (CheckStatus.FAIL, 95.0, NOW - timedelta(minutes=5)),
    }
    assert [(r.name, r.node) for r in store.health.latest(node="b")] == [("disk", "b")]


def test_history_of_one_check_is_oldest_first_within_the_window(store: Store) -> None:
    for minutes in (30, 20, 10, 0):
        store.health.record(
            [result("disk", value=float(minutes)), result("cpu")], at=NOW - timedelta(minutes=minutes), node="a"
        )

    history = store.health.history("disk", NOW - timedelta(minutes=20), until=NOW)

    assert [r.result.value for r in history] == [20.0, 10.0]
    assert all(r.name == "disk" for r in history)


def test_run_times_lists_each_health_run_once(store: Store) -> None:
    for minutes in (15, 10, 5):
        store.health.record([result("disk"), result("cpu")], at=NOW - timedelta(minutes=minutes), node="a")

    assert store.health.run_times(NOW - timedelta(minutes=12)) == [
        NOW - timedelta(minutes=10),
        NOW - timedelta(minutes=5),
    ]


def test_long_messages_are_cut_to_fit_the_column(store: Store) -> None:
    store.health.record([CheckResult("disk", CheckStatus.OK, None, "x" * 2000)], at=NOW, node=None)

    (only,) = store.health.latest()
    assert only.result.message == "x" * 500
    assert only.result.value is None and only.node is None


def test_health_rows_older_than_the_cutoff_are_deleted_in_chunks(store: Store) -> None:
    for minutes in range(10):
        store.health.record([result("disk")], at=NOW - timedelta(days=40, minutes=minutes), node="a")
    store.health.record([result("disk")], at=NOW, node="a")

    assert store.health.delete_before(NOW - timedelta(days=30), chunk=4) == 4
    assert store.health.delete_before(NOW - timedelta(days=30), chunk=4) == 4
    assert store.health.delete_before(NOW - timedelta(days=30), chunk=4) == 2
    assert store.health.delete_before(NOW - timedelta(days=30), chunk=4) == 0
    assert [r.at for r in store.health.history("disk", NOW - timedelta(days=365))] == [NOW]


def test_database_size_is_known_on_every_database(store: Store) -> None:
    size = store.health.database_size_bytes()

    assert size is not None and size > 0


def test_series_averages_samples_into_even_buckets_with_gaps_as_none(store: Store) -> None:
    start = utc(2026, 3, 1, 0)
    for minute, value in [(0, 10.0), (5, 20.0), (10, 30.0), (25, 50.0), (29, 70.0)]:
        store.metrics.record({"cpu_percent": value, "load1": 1.0}, at=start + timedelta(minutes=minute), node="a")
    store.metrics.record({"cpu_percent": 99.0}, at=start + timedelta(minutes=5), node="b")

    points = store.metrics.series("cpu_percent", start, start + timedelta(minutes=30), timedelta(minutes=10), node="a")

    assert [(p.at, p.value) for p in points] == [
        (start, 15.0),
        (start + timedelta(minutes=10), 30.0),
        (start + timedelta(minutes=20), 60.0),
    ]
    every_node = store.metrics.series("cpu_percent", start, start + timedelta(minutes=20), 600.0)
    assert [p.value for p in every_node] == [pytest.approx((10 + 20 + 99) / 3), pytest.approx(30.0)]
    empty = store.metrics.series("cpu_percent", start - timedelta(hours=1), start, timedelta(minutes=30))
    assert [p.value for p in empty] == [None, None]


def test_series_of_a_partial_last_bucket_still_covers_until(store: Store) -> None:
    start = utc(2026, 3, 1, 0)
    store.metrics.record({"load1": 4.0}, at=start + timedelta(minutes=25), node="a")

    points = store.metrics.series("load1", start, start + timedelta(minutes=25, seconds=1), timedelta(minutes=10))

    assert [p.value for p in points] == [None, None, 4.0]


def test_latest_metric_at_or_before_a_time(store: Store) -> None:
    store.metrics.record({"database_size_mb": 10.0}, at=NOW - timedelta(days=1), node="a")
    store.metrics.record({"database_size_mb": 11.0}, at=NOW, node="a")

    newest = store.metrics.latest("database_size_mb")
    day_ago = store.metrics.latest("database_size_mb", at_or_before=NOW - timedelta(hours=12))
    assert newest is not None and newest.value == 11.0
    assert day_ago is not None and (day_ago.at, day_ago.value) == (NOW - timedelta(days=1), 10.0)
    assert store.metrics.latest("nothing") is None


def test_downsampling_keeps_one_hourly_average_for_old_samples_only(store: Store) -> None:
    cutoff = utc(2026, 3, 8, 0)
    old_hour = utc(2026, 3, 1, 10)
    for minute in range(0, 60, 5):  # 12 samples, values 0..11, in an hour older than the cutoff
        store.metrics.record({"cpu_percent": minute / 5}, at=old_hour + timedelta(minutes=minute, seconds=7), node="a")
    store.metrics.record({"cpu_percent": 50.0}, at=old_hour + timedelta(minutes=30), node="b")
    recent = cutoff + timedelta(hours=1)
    for minute in range(0, 60, 5):
        store.metrics.record({"cpu_percent": 1.0}, at=recent + timedelta(minutes=minute), node="a")

    removed = store.metrics.downsample_before(cutoff)

    assert removed == 11  # a's 12 samples became 1; b's single sample moved to the hour start
    old = store.metrics.series("cpu_percent", old_hour, old_hour + timedelta(hours=1), timedelta(hours=1), node="a")
    assert [p.value for p in old] == [pytest.approx(5.5)]
    assert store.metrics.latest("cpu_percent", node="b") == MetricPoint(old_hour, 50.0)
    kept = store.metrics.series("cpu_percent", recent, recent + timedelta(hours=1), timedelta(minutes=5), node="a")
    assert [p.value for p in kept] == [1.0] * 12
    assert store.metrics.downsample_before(cutoff) == 0


def test_metrics_older_than_the_cutoff_are_deleted(store: Store) -> None:
    store.metrics.record({"cpu_percent": 1.0, "load1": 1.0}, at=NOW - timedelta(days=91), node="a")
    store.metrics.record({"cpu_percent": 2.0}, at=NOW - timedelta(days=89), node="a")

    assert store.metrics.delete_before(NOW - timedelta(days=90)) == 2
    assert store.metrics.names() == ["cpu_percent"]


def test_latest_leaves_out_checks_no_run_reported_for_a_day(store: Store) -> None:
    store.health.record([result("retired_check"), result("disk")], at=NOW - timedelta(days=1, seconds=1), node="a")
    store.health.record([result("disk")], at=NOW, node="a")

    assert [(r.name, r.at) for r in store.health.latest()] == [("disk", NOW)]
    assert store.health.latest(node="nowhere") == []
