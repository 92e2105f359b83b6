"""Crontabs turned into task files: settings lines, zones, mail, names, commands, system format."""

from __future__ import annotations

import tomllib
from textwrap import dedent

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartcron.domain.task import TaskSpec
from smartcron.domain.taskfile import parse_task_file
from smartcron.errors import TaskSpecError
from smartcron.registry.crontab_import import CrontabImport, convert_crontab


def convert(text: str, **options: object) -> CrontabImport:
    result = convert_crontab(dedent(text), default_timezone="UTC", **options)  # type: ignore[arg-type]
    # Whatever comes out must be a task file that declares exactly these tasks.
    assert parse_task_file(result.toml, default_timezone="UTC") == result.tasks
    return result


def by_name(result: CrontabImport) -> dict[str, TaskSpec]:
    return {task.name: task for task in result.tasks}


COMPANY_CRONTAB = """\
    # Edit this file to introduce tasks to be run by cron.
    #
    # m h  dom mon dow   command
    PATH=/usr/local/bin:/usr/bin:/bin
    MAILTO=ops@example.co.nz
    CRON_TZ=Pacific/Auckland

    # Sync Vend inventory
    */30 * * * * php /var/www/jobs/sync_vend_inventory.php
    0 2 * * * /usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1
    @reboot /usr/local/bin/start-queue
    LANG=C.UTF-8
    15 * * * * date +\\%Y-\\%m-\\%d >> /tmp/dates
"""


def test_company_crontab_becomes_tasks_with_zone_mail_and_environment() -> None:
    result = convert(COMPANY_CRONTAB)
    tasks = by_name(result)
    assert list(tasks) == ["sync_vend_inventory", "backup", "date"]
    vend = tasks["sync_vend_inventory"]
    assert vend.description == "Sync Vend inventory"
    assert vend.command == ("php", "/var/www/jobs/sync_vend_inventory.php")
    assert not vend.shell
    assert vend.schedule == "*/30 * * * *"
    assert vend.timezone == "Pacific/Auckland"
    assert vend.notify_emails == ("ops@example.co.nz",)
    assert vend.env == (("PATH", "/usr/local/bin:/usr/bin:/bin"),)
    # LANG comes after the first jobs, so only the last one has it.
    assert dict(tasks["date"].env) == {"LANG": "C.UTF-8", "PATH": "/usr/local/bin:/usr/bin:/bin"}


def test_reboot_job_is_reported_and_not_imported() -> None:
    result = convert(COMPANY_CRONTAB)
    assert any("line 11: @reboot jobs are not supported" in warning for warning in result.warnings)
    assert all("start-queue" not in " ".join(task.command) for task in result.tasks)
    assert "# warning: line 11: @reboot" in result.toml


def test_command_with_shell_syntax_stays_a_shell_command() -> None:
    backup = by_name(convert(COMPANY_CRONTAB))["backup"]
    assert backup.shell
    assert backup.command == ("/usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1",)


def test_escaped_percent_signs_become_plain_percent_signs() -> None:
    assert by_name(convert(COMPANY_CRONTAB))["date"].command == ("date +%Y-%m-%d >> /tmp/dates",)


def test_bare_percent_sign_is_kept_for_the_shell_with_a_warning() -> None:
    result = convert("0 9 * * * mail -s report bob%Hello%\n")
    (task,) = result.tasks
    assert task.shell and task.command == ("mail -s report bob%Hello%",)
    assert any("line 1: '%' in a cron command means a newline" in warning for warning in result.warnings)


def test_toml_output_is_a_commented_task_file() -> None:
    result = convert(COMPANY_CRONTAB)
    document = tomllib.loads(result.toml)
    assert [table["name"] for table in document["task"]] == ["sync_vend_inventory", "backup", "date"]
    assert document["task"][0]["command"] == ["php", "/var/www/jobs/sync_vend_inventory.php"]
    assert "# line 9: */30 * * * * php /var/www/jobs/sync_vend_inventory.php" in result.toml
    assert result.toml.startswith("# Task file imported from crontab")


def test_cron_tz_applies_to_the_jobs_below_it_only() -> None:
    tasks = convert(
        """\
        0 1 * * * /bin/first
        CRON_TZ=Pacific/Auckland
        0 2 * * * /bin/second
        TZ=Europe/London
        0 3 * * * /bin/third
        """
    ).tasks
    assert [(task.name, task.timezone) for task in tasks] == [
        ("first", "UTC"),
        ("second", "Pacific/Auckland"),
        ("third", "Europe/London"),
    ]
    # TZ is also the job's own environment; CRON_TZ is read by cron alone.
    assert tasks[1].env == ()
    assert tasks[2].env == (("TZ", "Europe/London"),)


def test_unknown_time_zone_is_reported_and_the_previous_one_kept() -> None:
    result = convert("CRON_TZ=Mars/Base\n0 1 * * * /bin/job\n")
    assert result.tasks[0].timezone == "UTC"
    assert any("line 1: unknown time zone 'Mars/Base' in CRON_TZ" in warning for warning in result.warnings)


def test_empty_mailto_turns_failure_mail_off() -> None:
    (task,) = convert('MAILTO=""\n0 1 * * * /bin/job\n').tasks
    assert not task.notify_on_failure
    assert task.notify_emails == ()


def test_mailto_with_several_addresses_notifies_each() -> None:
    (task,) = convert("MAILTO=a@example.com, b@example.com\n0 1 * * * /bin/job\n").tasks
    assert task.notify_emails == ("a@example.com", "b@example.com")
    assert task.notify_on_failure


def test_mailto_local_user_is_not_an_address_and_is_reported() -> None:
    result = convert("MAILTO=root\n0 1 * * * /bin/job\n")
    assert result.tasks[0].notify_emails == ()
    assert any("MAILTO 'root' is not an email address" in warning for warning in result.warnings)


def test_quoted_environment_values_lose_their_quotes() -> None:
    (task,) = convert("GREETING = 'hello world'\n0 1 * * * /bin/job\n").tasks
    assert task.env == (("GREETING", "hello world"),)


def test_bash_as_shell_keeps_running_shell_commands_with_bash() -> None:
    (plain, piped) = convert("SHELL=/bin/bash\n0 1 * * * /bin/job\n0 2 * * * /bin/job | tee /tmp/out\n").tasks
    assert plain.command == ("/bin/job",)
    assert not piped.shell
    assert piped.command == ("/bin/bash", "-c", "/bin/job | tee /tmp/out")
    assert piped.env == (("SHELL", "/bin/bash"),)


def test_names_come_from_the_script_a_command_runs_and_are_made_unique() -> None:
    tasks = convert(
        """\
        0 1 * * * /usr/bin/php8.2 /var/www/jobs/payroll_sync.php --verbose
        0 2 * * * flock -n /tmp/sync.lock python3 /opt/jobs/bank_import.py
        0 3 * * * cd /srv/app && ./nightly-report.sh
        0 4 * * * /var/www/jobs/payroll_sync.php
        0 5 * * * sudo -u www-data php /var/www/artisan queue:work
        """
    ).tasks
    assert [task.name for task in tasks] == [
        "payroll_sync",
        "bank_import",
        "nightly_report",
        "payroll_sync_2",
        "artisan",
    ]


def test_comment_directly_above_names_the_job_unless_a_blank_line_separates_them() -> None:
    tasks = convert(
        """\
        # Xero bank feed import
        # pulls yesterday's transactions
        0 6 * * * /opt/jobs/xero.sh

        # Unrelated note

        0 7 * * * /opt/jobs/cleanup.sh
        # 0 8 * * * /opt/jobs/old_job.sh
        0 9 * * * /opt/jobs/report.sh
        """
    ).tasks
    assert [task.name for task in tasks] == ["xero_bank_feed_import", "cleanup", "report"]
    assert tasks[0].description == "Xero bank feed import pulls yesterday's transactions"
    assert tasks[1].description == "imported from crontab line 7"


def test_invalid_job_lines_are_reported_and_the_rest_imported() -> None:
    result = convert(
        """\
        60 * * * * /bin/bad_minute
        0 0 30 2 * /bin/never
        this is not cron
        0 1 * * * /bin/good
        """
    )
    assert [task.name for task in result.tasks] == ["good"]
    assert any("line 1: not imported: schedule '60 * * * *': minute field: 60" in w for w in result.warnings)
    assert any("line 2: not imported: schedule '0 0 30 2 *': never fires" in w for w in result.warnings)
    assert any("line 3: not a job or a setting" in w for w in result.warnings)


SYSTEM_CRONTAB = """\
    SHELL=/bin/sh
    PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

    # Example of job definition:
    # m h dom mon dow user  command
    17 *  * * * root    cd / && run-parts --report /etc/cron.hourly
    25 6  * * * root    test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily
    */5 * * * * www-data php /var/www/cron.php
"""


def test_system_crontab_is_recognised_by_its_header_and_the_user_field_dropped() -> None:
    result = convert(SYSTEM_CRONTAB)
    tasks = result.tasks
    assert [task.command for task in tasks] == [
        ("cd / && run-parts --report /etc/cron.hourly",),
        ("test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily",),
        ("php", "/var/www/cron.php"),
    ]
    assert any("line 8: ran as user 'www-data'" in warning for warning in result.warnings)


def test_cron_d_file_with_root_in_the_user_field_is_recognised_without_a_header() -> None:
    (task,) = convert("0 4 * * * root /usr/sbin/logrotate /etc/logrotate.conf\n").tasks
    assert task.command == ("/usr/sbin/logrotate", "/etc/logrotate.conf")


def test_system_format_can_be_chosen_or_refused_explicitly() -> None:
    (as_system,) = convert("0 4 * * * backup /usr/local/bin/dump\n", system=True).tasks
    assert as_system.command == ("/usr/local/bin/dump",)
    (as_user,) = convert("0 4 * * * root /usr/sbin/logrotate\n", system=False).tasks
    assert as_user.command == ("root", "/usr/sbin/logrotate")


def test_nickname_jobs_are_imported_with_their_nickname() -> None:
    (task,) = convert("@daily /usr/local/bin/report\n").tasks
    assert task.schedule == "@daily"


def test_crlf_line_endings_are_read_like_plain_ones() -> None:
    (task,) = convert("MAILTO=ops@example.com\r\n0 1 * * * /bin/job\r\n").tasks
    assert task.notify_emails == ("ops@example.com",)
    assert task.command == ("/bin/job",)


def test_nul_byte_is_refused_with_its_line() -> None:
    with pytest.raises(TaskSpecError, match=r"crontab:2: contains a NUL byte"):
        convert_crontab("0 1 * * * /bin/a\n0 2 * * * /bin/\x00b\n", default_timezone="UTC")


def test_empty_crontab_gives_an_empty_task_file() -> None:
    result = convert("# nothing here\n")
    assert result.tasks == []
    assert tomllib.loads(result.toml) == {}


crontab_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(["MAILTO=", "MAILTO=a@b.co", "CRON_TZ=Pacific/Auckland", "TZ=Nowhere", "SHELL=/bin/bash"]),
        st.sampled_from(["# a comment", "#", "", "@reboot /bin/x", "@daily /bin/y"]),
        st.tuples(
            st.sampled_from(["* * * * *", "0 2 * * *", "*/0 * * * *", "0 0 30 2 *", "@hourly", "* * *"]),
            st.sampled_from(["root ", ""]),
            st.text(max_size=30),
        ).map(lambda parts: f"{parts[0]} {parts[1]}{parts[2]}"),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crontab_lines)
def test_any_crontab_gives_a_task_file_that_declares_exactly_its_tasks(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        result = convert_crontab(text, default_timezone="UTC")
    except TaskSpecError as exc:
        assert "NUL" in exc.message
        return
    assert parse_task_file(result.toml, default_timezone="UTC") == result.tasks
