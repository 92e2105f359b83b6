"""The syntax people bring from other crons: how smartcron reads it, says so, and stays Debian's.

Each form's times are checked against the Debian model in test_schedule_conformance.py and
test_schedule_model_properties.py; this file pins how each reading is reported, the H hash
(stable, spread, per task) and the evaluation's independence from cronsim's stepped ranges.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcron.domain.cron_syntax import parse_expression
from smartcron.domain.describe import describe
from smartcron.domain.schedule import parse_schedule
from smartcron.errors import ScheduleError
from tests.conftest import utc


def times(expr: str, count: int = 3, hash_key: str | None = None) -> list[str]:
    start = utc(2026, 1, 1)
    schedule = parse_schedule(expr, "UTC", hash_key=hash_key)
    return [slot.isoformat() for slot in schedule.between(start, start + timedelta(days=800), count)]


# --- '?' -------------------------------------------------------------------------------------


def test_question_mark_means_what_a_star_means_and_keeps_the_day_fields_and_rule() -> None:
    # '?' counts as '*': "0 0 ? * MON" is every Monday (AND), not every day OR Monday.
    assert times("0 0 ? * MON") == times("0 0 * * MON")
    assert times("0 0 15 * ?") == times("0 0 15 * *")


def test_question_mark_is_reported_and_quartz_weekday_numbers_are_called_out() -> None:
    assert parse_schedule("0 0 ? * MON", "UTC").notes == ("day-of-month '?' is read as '*'",)
    assert describe("0 0 ? * 1") == (
        "at 00:00 on Monday (day-of-month '?' is read as '*'; day-of-week numbers are cron's: "
        "0 and 7 are Sunday, 1 is Monday, unlike Quartz's 1 for Sunday)"
    )


# --- a step without a range ------------------------------------------------------------------


def test_a_step_without_a_range_runs_to_the_end_of_the_field_and_explain_says_so() -> None:
    assert times("1/10 * * * *") == times("1-59/10 * * * *")
    assert describe("1/10 * * * *").endswith("(minute 1/10 is read as 1-59/10, as Debian cron needs it written)")
    assert describe("1-59/10 * * * *") == "at minutes 1, 11, 21, 31, 41, and 51 of every hour"


# --- W, L-n and the other day forms in words ---------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0 9 15W * *", "at 09:00 on the weekday nearest day 15 of every month"),
        ("0 9 LW * *", "at 09:00 on the last weekday of every month"),
        ("0 9 L-3 * *", "at 09:00, 3 days before the last day of every month"),
        ("0 9 L-1 * *", "at 09:00, 1 day before the last day of every month"),
        ("0 9 * * 5L", "at 09:00 on the last Friday of the month"),
        ("0 9 * * MON#1,FRI#3", "at 09:00 on the first Monday of the month and the third Friday of the month"),
    ],
)
def test_day_forms_read_as_words(expr: str, words: str) -> None:
    assert describe(expr) == words


def test_a_day_form_without_short_words_is_shown_as_read() -> None:
    assert describe("0 9 1,15w * *") == "0 9 1,15W * *"


# --- H ---------------------------------------------------------------------------------------


def test_h_picks_one_value_per_task_the_same_every_time() -> None:
    first = times("H H(0-5) * * *", hash_key="nightly_backup")
    assert first == times("H H(0-5) * * *", hash_key="nightly_backup")
    expression = parse_expression("H H(0-5) * * *", "nightly_backup")
    minute, hour = int(expression.fields[1]), int(expression.fields[2])
    assert 0 <= minute <= 59 and 0 <= hour <= 5
    assert first[0] == f"2026-01-01T{hour:02d}:{minute:02d}:00+00:00"


def test_h_values_never_change_between_releases() -> None:
    # Moving these moves every hashed task of every installation: they are part of the contract.
    assert parse_expression("H H(0-5) * * *", "nightly_backup").fields[1:3] == ("50", "5")
    assert parse_expression("H/15 * * * *", "sync_vend_inventory").fields[1] == "10,25,40,55"
    assert parse_expression("0 0 H * H", "payroll").fields[3:] == ("4", "*", "2")


def test_h_is_the_same_in_every_process_whatever_pythons_string_hash_seed() -> None:
    code = "from smartcron.domain.cron_syntax import parse_expression as p; print(p('H H H H H', 'report').fields)"
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = os.environ | {"PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_h_spreads_two_hundred_nightly_tasks_across_the_window() -> None:
    picked = [parse_expression("H H(0-5) * * *", f"nightly_{n}").fields[1:3] for n in range(200)]
    hours = Counter(hour for _, hour in picked)
    assert sorted(hours) == ["0", "1", "2", "3", "4", "5"]
    assert all(15 <= count <= 55 for count in hours.values())  # about 33 each
    assert len({minute for minute, _ in picked}) > 45
    assert len(set(picked)) > 150  # few tasks share a start minute


def test_h_in_day_of_month_stays_in_days_every_month_has_and_in_weekday_below_seven() -> None:
    days = {parse_expression("0 0 H * *", f"t{n}").fields[3] for n in range(300)}
    weekdays = {parse_expression("0 0 * * H", f"t{n}").fields[5] for n in range(300)}
    assert {int(day) for day in days} == set(range(1, 29))
    assert {int(day) for day in weekdays} == set(range(7))


def test_h_with_a_step_keeps_the_step_from_an_offset_within_it() -> None:
    minutes = [int(value) for value in parse_expression("H/15 * * * *", "sync").fields[1].split(",")]
    assert len(minutes) == 4 and minutes[0] < 15
    assert [b - a for a, b in pairwise(minutes)] == [15, 15, 15]
    ranged = [int(value) for value in parse_expression("H(30-59)/10 * * * *", "sync").fields[1].split(",")]
    assert 30 <= ranged[0] < 40 and ranged == list(range(ranged[0], 60, 10))


def test_h_counts_as_a_number_for_debians_dst_rule() -> None:
    assert parse_schedule("H H * * *", "UTC", hash_key="t").fixed_time
    assert not parse_schedule("H/15 * * * *", "UTC", hash_key="t").fixed_time


def test_h_is_reported_with_the_task_it_was_hashed_from() -> None:
    assert describe("H H(0-5) * * *", hash_key="nightly_backup") == (
        "at 05:50 every day (H picked from the task name 'nightly_backup': minute H = 50, hour H(0-5) = 5)"
    )


def test_a_task_name_changes_nothing_for_an_expression_without_h() -> None:
    assert parse_schedule("0 3 * * THU", "UTC", hash_key="a") is parse_schedule("0 3 * * THU", "UTC", hash_key="b")
    assert parse_schedule("@hourly", "UTC", hash_key="a") is parse_schedule("@hourly", "UTC")


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("H(5-1) * * * *", "minute field: in 'H(5-1)' the range 5-1 goes backwards"),
        ("H(0-60) * * * *", "minute field: 60 is out of range 0-59"),
        ("H/0 * * * *", "minute field: step 0 is not allowed"),
        ("HH * * * *", "minute field: 'HH' is not valid; H is written H, H(0-5), H/15 or H(0-29)/15"),
        ("0 0 30 2 H", None),
    ],
)
def test_bad_h_is_refused_naming_the_field(expr: str, message: str | None) -> None:
    if message is None:  # a hashed weekday ORs with the 30th: it fires
        assert parse_schedule(expr, "UTC", hash_key="t").next_after(utc(2026, 1, 1))
        return
    with pytest.raises(ScheduleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_schedule(expr, "UTC", hash_key="t")


# --- independent of how cronsim reads stepped ranges -------------------------------------------

field_terms = st.one_of(
    st.integers(0, 59).map(str),
    st.tuples(st.integers(0, 59), st.integers(0, 59), st.integers(1, 70)).map(
        lambda p: f"{min(p[:2])}-{max(p[:2])}/{p[2]}"
    ),
    st.tuples(st.integers(0, 59), st.integers(1, 70)).map(lambda p: f"{p[0]}/{p[1]}"),
    st.integers(1, 70).map(lambda k: f"*/{k}"),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(field_terms, min_size=1, max_size=4).map(",".join))
def test_cronsim_is_never_handed_a_stepped_range_it_could_read_otherwise(minutes: str) -> None:
    # cronsim 2.8 read 13-13/1 as "13 to the end"; only '*/n' (which every version reads as
    # Debian does) reaches it, every other step arrives spelled out as a list.
    schedule = parse_schedule(f"{minutes} {minutes} * * * *", "UTC")
    for term in schedule.cron.replace(" ", ",").split(","):
        assert "/" not in term or term.startswith("*/")
