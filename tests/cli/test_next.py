"""``smartcron next`` and ``smartcron explain`` as a person and a script use them.

New Zealand's changes (see tests/domain/test_schedule_dst.py): clocks go forward at 2026-09-27
02:00 NZST (+12:00) to 03:00 NZDT (+13:00), and back at 2027-04-04 03:00 NZDT to 02:00 NZST.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartcron.cli.main import main

REPO = Path(__file__).resolve().parents[2]
SMARTCRON = REPO / ".venv" / "bin" / "smartcron"


def run(*args: str) -> tuple[int, str, str]:
    """The program in-process, with errors mapped to one line and an exit code as in a shell."""
    with CliRunner().isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def test_next_lists_times_with_utc_and_marks_the_spring_forward(home: Path) -> None:
    code, out, err = run(
        "next", "*/30 * * * *", "--tz", "Pacific/Auckland", "--after", "2026-09-27T01:00", "--count", "3"
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "2026-09-27T01:30:00+12:00  2026-09-26T13:30:00Z",
        "~ 2026-09-27T03:00:00+13:00: clocks go forward 1 hour (+12:00 -> +13:00)",
        "2026-09-27T03:00:00+13:00  2026-09-26T14:00:00Z",
        "2026-09-27T03:30:00+13:00  2026-09-26T14:30:00Z",
    ]


def test_next_marks_the_fall_back_between_the_two_passes(home: Path) -> None:
    code, out, _ = run(
        "next", "@hourly", "--tz", "Pacific/Auckland", "--after", "2027-04-04T01:30+13:00", "--count", "2"
    )
    assert code == 0
    assert out.splitlines() == [
        "2027-04-04T02:00:00+13:00  2027-04-03T13:00:00Z",
        "~ 2027-04-04T02:00:00+12:00: clocks go back 1 hour (+13:00 -> +12:00)",
        "2027-04-04T02:00:00+12:00  2027-04-03T14:00:00Z",
    ]


def test_next_json_is_an_array_of_local_iso_times_with_offsets(home: Path) -> None:
    code, out, _ = run(
        "next", "0 2 * * *", "--tz", "Pacific/Auckland", "--after", "2026-09-26T12:00", "--count", "3", "--json"
    )
    assert code == 0
    # 02:00 does not exist on 27 September: Debian cron runs it at 03:00 NZDT.
    assert json.loads(out) == ["2026-09-27T03:00:00+13:00", "2026-09-28T02:00:00+13:00", "2026-09-29T02:00:00+13:00"]


def test_next_after_with_an_offset_is_that_instant(home: Path) -> None:
    code, out, _ = run(
        "next", "0 * * * *", "--tz", "UTC", "--after", "2026-01-01T10:30:00+13:00", "--count", "1", "--json"
    )
    assert code == 0
    assert json.loads(out) == ["2025-12-31T22:00:00+00:00"]


def test_next_defaults_to_five_times_after_now_in_the_configured_zone(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMARTCRON_TIMEZONE", "Pacific/Auckland")
    code, out, _ = run("next", "*/5 * * * *", "--json")
    assert code == 0
    times = json.loads(out)
    assert len(times) == 5
    assert all(time.endswith(("+12:00", "+13:00")) for time in times)


def test_next_needs_no_database(home: Path) -> None:
    code, _, _ = run("next", "@daily", "--count", "2")
    assert code == 0
    assert not (home / "data").exists()


def test_next_can_list_a_thousand_times(home: Path) -> None:
    code, out, _ = run(
        "next", "* * * * * *", "--tz", "UTC", "--after", "2026-01-01T00:00Z", "--count", "1000", "--json"
    )
    assert code == 0
    times = json.loads(out)
    assert len(times) == 1000
    assert times[-1] == "2026-01-01T00:16:40+00:00"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["60 * * * *"], "smartcron: schedule '60 * * * *': minute field: 60 is out of range 0-59"),
        (["* * *"], "smartcron: schedule '* * *': expected 5 fields (or 6 with seconds first), got 3"),
        (["*/0 * * * *"], "smartcron: schedule '*/0 * * * *': minute field: step 0 is not allowed"),
        (["0 0 30 2 *"], "smartcron: schedule '0 0 30 2 *': never fires: day 30 does not exist in February"),
        (["0 0 * * 8"], "smartcron: schedule '0 0 * * 8': day-of-week field: 8 is out of range 0-7"),
        (["@reboot"], "smartcron: schedule '@reboot': @reboot is not supported: smartcron has no boot trigger"),
        (["0 0\x00 * * *"], "smartcron: schedule '0 0\\x00 * * *': contains the character '\\x00'"),
        (["* * * * *", "--tz", "Mars/Base"], "smartcron: --tz: unknown time zone 'Mars/Base'"),
        (["* * * * *", "--count", "0"], "smartcron: --count: must be from 1 to 1000, got 0"),
        (["* * * * *", "--count", "1001"], "smartcron: --count: must be from 1 to 1000, got 1001"),
        (["* * * * *", "--count", "five"], "smartcron: --count: 'five' is not a whole number"),
        (["* * * * *", "--after", "yesterday"], "smartcron: --after: 'yesterday' is not an ISO 8601 date and time"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_two(home: Path, args: list[str], message: str) -> None:
    code, out, err = run("next", *args)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(message)


def test_explain_says_it_in_words_with_the_next_three_times(home: Path) -> None:
    code, out, _ = run("explain", "0 8-18 * * 1-5", "--tz", "Pacific/Auckland")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "0 8-18 * * 1-5  (Pacific/Auckland)"
    assert lines[1] == "at 08:00-18:00 on the hour on Monday through Friday"
    assert lines[2] == "next:"
    assert len([line for line in lines[3:] if not line.strip().startswith("~")]) == 3


def test_explain_json_for_scripts(home: Path) -> None:
    code, out, _ = run("explain", "*/30 * * * *", "--tz", "UTC", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["description"] == "every 30 minutes"
    assert document["timezone"] == "UTC"
    assert len(document["next"]) == 3


def test_explain_rejects_a_bad_expression_in_one_line(home: Path) -> None:
    code, _, err = run("explain", "61 * * * *")
    assert code == 2
    assert err == "smartcron: schedule '61 * * * *': minute field: 61 is out of range 0-59\n"


def test_the_installed_program_prints_next_times_and_fails_cleanly(home: Path) -> None:
    environment = dict(os.environ)
    ok = subprocess.run(
        [
            str(SMARTCRON),
            "next",
            "30 2 * * *",
            "--tz",
            "Pacific/Auckland",
            "--after",
            "2027-04-03T12:00",
            "--count",
            "2",
        ],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    # 02:30 happens twice on 4 April 2027; a fixed-time job runs in the first pass only.
    assert ok.stdout.splitlines() == [
        "2027-04-04T02:30:00+13:00  2027-04-03T13:30:00Z",
        "~ 2027-04-04T02:00:00+12:00: clocks go back 1 hour (+13:00 -> +12:00)",
        "2027-04-05T02:30:00+12:00  2027-04-04T14:30:00Z",
    ]
    bad = subprocess.run(
        [str(SMARTCRON), "next", "60 * * * *"], capture_output=True, text=True, env=environment, check=False
    )
    assert bad.returncode == 2
    assert bad.stderr == "smartcron: schedule '60 * * * *': minute field: 60 is out of range 0-59\n"
    assert "Traceback" not in bad.stderr


# --- the syntax other crons bring ------------------------------------------------------------


def test_next_with_a_task_name_shows_the_times_its_h_picks_and_says_how_on_stderr(home: Path) -> None:
    code, out, err = run(
        "next",
        "H H(0-5) * * *",
        "--task",
        "nightly_backup",
        "--tz",
        "UTC",
        "--after",
        "2026-01-01T00:00",
        "--count",
        "2",
    )
    assert code == 0
    assert out.splitlines() == [
        "2026-01-01T05:50:00+00:00  2026-01-01T05:50:00Z",
        "2026-01-02T05:50:00+00:00  2026-01-02T05:50:00Z",
    ]
    assert err == "note: H picked from the task name 'nightly_backup': minute H = 50, hour H(0-5) = 5\n"
    other = run("next", "H H(0-5) * * *", "--task", "nightly_report", "--tz", "UTC", "--count", "1", "--json")
    assert json.loads(other[1]) != json.loads(
        run("next", "H H(0-5) * * *", "--task", "nightly_backup", "--tz", "UTC", "--count", "1", "--json")[1]
    )


def test_next_without_a_task_name_says_h_needs_one(home: Path) -> None:
    code, out, err = run("next", "H * * * *", "--tz", "UTC")
    assert (code, out) == (2, "")
    assert err == (
        "smartcron: schedule 'H * * * *': minute field: 'H' picks its value from the task name, "
        "and there is no task here (next and explain: --task NAME)\n"
    )


def test_next_refuses_a_task_option_that_is_no_task_name(home: Path) -> None:
    code, _, err = run("next", "H * * * *", "--task", "no such/name", "--tz", "UTC")
    assert code == 2 and err.startswith("smartcron: --task: 'no such/name' is not a task name")


def test_explain_says_how_a_step_without_a_range_and_a_question_mark_are_read(home: Path) -> None:
    code, out, _ = run("explain", "1/10 * ? * *", "--tz", "UTC")
    assert code == 0
    assert out.splitlines()[1] == (
        "at minutes 1, 11, 21, 31, 41, and 51 of every hour (minute 1/10 is read as 1-59/10, as Debian cron "
        "needs it written; day-of-month '?' is read as '*')"
    )
    document = json.loads(run("explain", "1/10 * ? * *", "--tz", "UTC", "--json")[1])
    assert document["notes"] == [
        "minute 1/10 is read as 1-59/10, as Debian cron needs it written",
        "day-of-month '?' is read as '*'",
    ]


def test_next_of_a_one_value_range_with_a_step_is_that_value_alone(home: Path) -> None:
    code, out, err = run("next", "0 0 13-13/1 * *", "--tz", "UTC", "--after", "2026-01-01T00:00", "--count", "2")
    assert (code, err) == (0, "")
    assert [line.split()[0] for line in out.splitlines()] == ["2026-01-13T00:00:00+00:00", "2026-02-13T00:00:00+00:00"]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 0 * * FRI-MON", "day-of-week field: range FRI-MON goes backwards; write FRI,SAT,SUN,MON"),
        ("0 0 * * MONDAY", "day-of-week field: 'MONDAY' is not a day name; write MON"),
        ("0 0 * * * * 2027", "got 7: a year field is not supported"),
        ("0 0 1 1 * 2027", "the last, '2027', is a year: a year field is not supported"),
        ("0 0 * * MON-FRI#1", "'#' takes one weekday, so list them: MON#1,TUE#1,WED#1,THU#1,FRI#1"),
    ],
)
def test_refused_forms_say_what_to_write_instead(home: Path, expr: str, message: str) -> None:
    code, _, err = run("next", expr, "--tz", "UTC")
    assert code == 2 and message in err and err.count("\n") == 1
