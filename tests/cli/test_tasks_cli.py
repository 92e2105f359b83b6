"""``smartcron tasks ...`` as a person and a script use it: in-process through click, and for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from smartcron.cli.main import cli, main
from smartcron.config import Settings
from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Execution
from smartcron.domain.task import TaskSpec
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "examples" / "tasks.toml")
SMARTCRON = REPO / ".venv" / "bin" / "smartcron"

TASK = """\
[[task]]
name = "payroll_sync"
category = "payroll"
command = ["php", "/var/www/jobs/payroll_sync.php"]
schedule = "*/30 * * * *"
"""


@pytest.fixture
def initialised(settings: Settings) -> Settings:
    initialise(settings)
    return settings


@pytest.fixture
def db(initialised: Settings):
    store = open_store(initialised)
    yield store
    store.close()


def invoke(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def run_main(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    """The program as a shell runs it (errors mapped to one line and an exit code), in-process."""
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def user_tasks(store: Store) -> list[str]:
    return sorted(task.name for task in store.tasks.list() if not task.builtin)


def write(tmp_path: Path, text: str | bytes, name: str = "tasks.toml") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_apply_registers_the_example_and_a_second_apply_says_nothing_changed(db: Store) -> None:
    first = invoke("tasks", "apply", EXAMPLE)
    assert first.output.count("+ add") == 25
    assert "applied: 25 added, 0 changed, 0 removed, 0 unchanged" in first.output
    assert len(user_tasks(db)) == 25
    second = invoke("tasks", "apply", EXAMPLE)
    assert second.output.strip() == "nothing changed (25 tasks unchanged)"


def test_apply_shows_each_changed_field_old_and_new(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "apply", write(tmp_path, TASK))
    result = invoke("tasks", "apply", write(tmp_path, TASK + "timeout = 600\n"))
    assert "~ change  payroll_sync" in result.output
    assert "timeout: 300 -> 600" in result.output
    assert db.tasks.get("payroll_sync").spec.timeout == 600


def test_dry_run_shows_the_plan_and_writes_nothing(db: Store) -> None:
    result = invoke("tasks", "apply", EXAMPLE, "--dry-run")
    assert "dry run: 25 to add, 0 to change, 0 to remove, 0 unchanged; nothing written" in result.output
    assert user_tasks(db) == []


def test_apply_json_prints_the_plan(db: Store, tmp_path: Path) -> None:
    result = invoke("tasks", "apply", write(tmp_path, TASK), "--json")
    plan = json.loads(result.output)
    assert plan["summary"] == {"added": 1, "changed": 0, "removed": 0, "unchanged": 0}
    assert plan["adds"][0]["name"] == "payroll_sync" and plan["applied"] is True


def test_prune_needs_confirmation_when_not_on_a_terminal(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "apply", EXAMPLE)
    only_one = write(tmp_path, TASK)
    code, _, err = run_main("tasks", "apply", only_one, "--prune")
    assert code == 2 and "pass --yes to confirm" in err
    assert len(user_tasks(db)) == 25
    result = invoke("tasks", "apply", only_one, "--prune", "--yes")
    assert result.output.count("- remove") == 25
    assert user_tasks(db) == ["payroll_sync"]


def test_apply_reads_the_task_file_from_stdin(db: Store) -> None:
    invoke("tasks", "apply", "-", input=TASK)
    assert user_tasks(db) == ["payroll_sync"]


def test_list_json_has_the_fields_scripts_rely_on(db: Store) -> None:
    invoke("tasks", "apply", EXAMPLE)
    rows = json.loads(invoke("tasks", "list", "--json").output)
    row = next(row for row in rows if row["name"] == "sync_vend_inventory")
    assert row["category"] == "vend" and row["schedule"] == "*/30 * * * *"
    assert row["timezone"] == "Pacific/Auckland" and row["enabled"] is True and row["paused"] is False
    assert (row["priority"], row["timeout"], row["retries"]) == (2, 300, 3)
    assert row["last_status"] is None and row["last_run_at"] is None
    next_run = datetime.fromisoformat(row["next_run_at"])
    assert next_run.utcoffset() is not None and next_run > datetime.now(UTC)
    assert row["schedule_text"]


def test_list_filters_by_category_and_shows_a_table(db: Store) -> None:
    invoke("tasks", "apply", EXAMPLE)
    rows = json.loads(invoke("tasks", "list", "--category", "bank", "--json").output)
    assert sorted(row["name"] for row in rows) == ["auto_categorize", "fetch_transactions"]
    table = invoke("tasks", "list", "--category", "bank").output
    assert "fetch_transactions" in table and "30 */4 * * *" in table and "2 tasks" in table


def test_show_prints_every_field_and_the_next_five_fire_times(db: Store) -> None:
    invoke("tasks", "apply", EXAMPLE)
    detail = json.loads(invoke("tasks", "show", "fetch_transactions", "--json").output)
    for key in ("command", "schedule", "timezone", "priority", "timeout", "retries", "overlap", "catchup", "env"):
        assert key in detail
    times = [datetime.fromisoformat(moment) for moment in detail["next_fire_times"]]
    assert len(times) == 5 and times == sorted(times) and times[0] > datetime.now(UTC)
    assert all(moment.astimezone(UTC).minute == 0 for moment in times)
    assert detail["origin"] == "file"
    text = invoke("tasks", "show", "fetch_transactions").output
    assert "next 5 fire times" in text and "Pacific/Auckland" in text


def test_add_takes_the_command_after_a_double_dash(db: Store) -> None:
    invoke("tasks", "add", "backup", "--schedule", "0 1 * * *", "--timeout", "600", "--", "/usr/bin/backup", "--full")
    spec = db.tasks.get("backup").spec
    assert spec.command == ("/usr/bin/backup", "--full") and spec.timeout == 600 and spec.schedule == "0 1 * * *"


def test_add_with_shell_and_options(db: Store) -> None:
    result = invoke(
        "tasks", "add", "report", "-s", "@daily", "--shell", "--command", "report.sh | mail ops",
        "--category", "monitoring", "--env", "LANG=C.UTF-8", "--priority", "1", "--no-notify",
        "--notify-email", "ops@example.com", "--set", "max_cpu_seconds=30", "--json",
    )  # fmt: skip
    assert json.loads(result.output)["name"] == "report"
    spec = db.tasks.get("report").spec
    assert spec.shell and spec.command == ("report.sh | mail ops",) and spec.category == "monitoring"
    assert spec.env == (("LANG", "C.UTF-8"),) and spec.priority == 1 and not spec.notify_on_failure
    assert spec.notify_emails == ("ops@example.com",) and spec.max_cpu_seconds == 30


def test_add_from_a_file_with_one_task(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "add", "--file", write(tmp_path, TASK))
    assert user_tasks(db) == ["payroll_sync"]


def test_edit_sets_values_read_as_toml_and_unsets_keys(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "apply", write(tmp_path, TASK + "max_memory_mb = 512\n"))
    invoke(
        "tasks", "edit", "payroll_sync", "--set", "timeout=60", "--set", 'command=["php", "b.php"]',
        "--set", "schedule=0 */2 * * *", "--unset", "max_memory_mb",
    )  # fmt: skip
    spec = db.tasks.get("payroll_sync").spec
    assert spec.timeout == 60 and spec.command == ("php", "b.php") and spec.schedule == "0 */2 * * *"
    assert spec.max_memory_mb is None


def test_pause_resume_disable_enable_and_the_audit_log(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "apply", write(tmp_path, TASK))
    paused = json.loads(invoke("tasks", "pause", "payroll_sync", "--json").output)
    assert paused["paused"] is True and paused["next_run_at"] is None
    assert "resumed payroll_sync: enabled, next run" in invoke("tasks", "resume", "payroll_sync").output
    assert "disabled payroll_sync: disabled" in invoke("tasks", "disable", "payroll_sync").output
    enabled = json.loads(invoke("tasks", "enable", "payroll_sync", "--json").output)
    assert enabled["enabled"] is True and enabled["next_run_at"] is not None
    entries = db.audit.list(target="payroll_sync")
    assert [entry.action for entry in entries] == [
        "task.enable",
        "task.disable",
        "task.resume",
        "task.pause",
        "task.add",
    ]
    assert all(entry.actor.startswith("cli:") and len(entry.actor) > 4 for entry in entries)


def test_remove_asks_unless_told_yes(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "apply", write(tmp_path, TASK))
    code, _, err = run_main("tasks", "remove", "payroll_sync")
    assert code == 2 and "pass --yes to confirm" in err
    assert invoke("tasks", "remove", "payroll_sync", "--yes").output.strip() == "removed payroll_sync"
    assert user_tasks(db) == []


def test_run_prints_the_execution_and_exits_by_its_outcome(db: Store, tmp_path: Path, monkeypatch) -> None:
    invoke("tasks", "apply", write(tmp_path, TASK))
    outcomes: list[ExecutionStatus] = []

    def trigger(settings: Settings, store: Store, name: str, *, wait: bool, by: str) -> Execution:
        assert by.startswith("cli:")
        status = outcomes.pop(0)
        return Execution(
            id=7, task_id=1, task_name=name, scheduled_for=datetime.now(UTC), attempt=0,
            trigger=Trigger.MANUAL, status=status, exit_code=None if status is ExecutionStatus.SCHEDULED else 3,
        )  # fmt: skip

    monkeypatch.setitem(sys.modules, "smartcron.runner.manual", types.SimpleNamespace(trigger=trigger))
    outcomes[:] = [ExecutionStatus.SCHEDULED, ExecutionStatus.FAILED]
    assert "execution 7 queued for payroll_sync" in invoke("tasks", "run", "payroll_sync").output
    code, out, _ = run_main("tasks", "run", "payroll_sync", "--wait")
    assert code == 1 and "execution 7: failed (exit code 3)" in out


# The brief's list of bad input: each is one line naming file line, task and field, exit 2, nothing written.
BAD_FILES = [
    ("minute 60", TASK.replace("*/30 * * * *", "60 * * * *"), "tasks.toml:5: task 'payroll_sync', field 'schedule'"),
    ("three fields", TASK.replace("*/30 * * * *", "* * *"), "field 'schedule': invalid schedule '* * *'"),
    ("step 0", TASK.replace("*/30 * * * *", "*/0 * * * *"), "field 'schedule'"),
    ("never fires", TASK.replace("*/30 * * * *", "0 0 30 2 *"), "never fires"),
    ("day of week 8", TASK.replace("*/30 * * * *", "0 0 * * 8"), "field 'schedule'"),
    ("zone", TASK + 'timezone = "Mars/Base"\n', "tasks.toml:6: task 'payroll_sync', field 'timezone'"),
    ("timeout 0", TASK + "timeout = 0\n", "field 'timeout': must be a positive number of seconds, got 0"),
    ("timeout negative", TASK + "timeout = -1\n", "field 'timeout': must be a positive number of seconds"),
    ("retries -1", TASK + "retries = -1\n", "field 'retries': must not be negative"),
    ("retries huge", TASK + "retries = 1000000\n", "field 'retries': must be at most 100"),
    (
        "typo",
        TASK + "tiemout = 30\n",
        "tasks.toml:6: task 'payroll_sync': unknown key 'tiemout'; did you mean 'timeout'?",
    ),
    ("empty command", TASK.replace('["php", "/var/www/jobs/payroll_sync.php"]', "[]"), "field 'command'"),
    ("duplicate", TASK + "\n" + TASK, "tasks.toml:8: task 'payroll_sync', field 'name': duplicate name"),
    ("slash", TASK.replace('"payroll_sync"', '"pay/roll"'), "task 'pay/roll', field 'name'"),
    ("dot dot", TASK.replace('"payroll_sync"', '"..x"'), "field 'name'"),
    ("NUL", TASK + 'description = "\x00"\n', "tasks.toml:6: contains a NUL byte"),
    ("not TOML", "[[task]\nname = 1\n", "tasks.toml:1: not valid TOML"),
    ("not UTF-8", TASK.encode() + b'description = "\xff"\n', "tasks.toml:6: not UTF-8 text"),
]


@pytest.mark.parametrize(("text", "words"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_task_file_is_one_line_exit_2_and_nothing_written(db, tmp_path, monkeypatch, text, words) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)
    code, out, err = run_main("tasks", "apply", "tasks.toml")
    assert code == 2 and out == ""
    assert err.startswith("smartcron: ") and err.count("\n") == 1 and words in err
    assert "Traceback" not in err
    assert user_tasks(db) == []


def test_bad_values_on_the_command_line_are_one_line_too(db: Store, tmp_path: Path) -> None:
    invoke("tasks", "apply", write(tmp_path, TASK))
    cases = [
        (("tasks", "edit", "payroll_sync", "--set", "timeout=0"), "field 'timeout': must be a positive number"),
        (("tasks", "edit", "payroll_sync", "--set", "tiemout=5"), "did you mean 'timeout'?"),
        (("tasks", "edit", "payroll_sync", "--set", "timeout=abc"), "got string 'abc'"),
        (("tasks", "add", "x", "-s", "60 * * * *", "--", "true"), "field 'schedule'"),
        (("tasks", "add", "x", "-s", "@daily", "--timeout", "soon", "--", "true"), "got string 'soon'"),
        (("tasks", "add", "x", "-s", "@daily"), "give the command"),
        (("tasks", "add", "payroll_sync", "-s", "@daily", "--", "true"), "already exists"),
        (("tasks", "show", "ghost"), "no task named 'ghost'"),
        (("tasks", "pause", "ghost"), "no task named 'ghost'"),
        (("tasks", "apply", str(tmp_path / "missing.toml")), "missing.toml: cannot read: No such file or directory"),
    ]
    for args, words in cases:
        code, _, err = run_main(*args)
        assert (code, err.count("\n")) == (2, 1), (args, err)
        assert words in err, (args, err)
    assert db.tasks.get("payroll_sync").spec.timeout == 300
    assert user_tasks(db) == ["payroll_sync"]


def test_import_crontab_prints_a_task_file_that_applies(db: Store, tmp_path: Path) -> None:
    crontab = write(
        tmp_path,
        "MAILTO=ops@example.com\n# Sync stock from Vend\n*/30 * * * * php /var/www/sync_vend_inventory.php\n"
        "@reboot /usr/bin/start-things\n",
        "crontab.txt",
    )
    code, out, err = run_main("tasks", "import-crontab", crontab)
    assert code == 0 and "[[task]]" in out and "@reboot" in err
    imported = write(tmp_path, out, "imported.toml")
    invoke("tasks", "apply", imported)
    assert len(user_tasks(db)) == 1


def test_import_crontab_writes_the_output_file(db: Store, tmp_path: Path) -> None:
    target = tmp_path / "out.toml"
    code, out, _ = run_main(
        "tasks", "import-crontab", "-", "--output", str(target), input="0 1 * * * /usr/bin/backup\n"
    )
    assert code == 0 and out == "" and "[[task]]" in target.read_text()


def test_the_installed_program_applies_the_example_and_reports_bad_input(home: Path, tmp_path: Path) -> None:
    env = dict(os.environ)

    def smartcron(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SMARTCRON), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60)

    assert smartcron("init").returncode == 0
    applied = smartcron("tasks", "apply", "examples/tasks.toml")
    assert applied.returncode == 0, applied.stderr
    listed = json.loads(smartcron("tasks", "list", "--json").stdout)
    assert len([row for row in listed if not row["builtin"]]) == 25
    bad = write(tmp_path, TASK + "timeout = 0\n")
    refused = smartcron("tasks", "apply", bad)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == f"smartcron: {bad}:6: task 'payroll_sync', field 'timeout': " + (
        "must be a positive number of seconds, got 0\n"
    )


def test_a_builtin_task_is_refused_for_removal_without_a_question(db: Store) -> None:
    spec = TaskSpec(name="smartcron.test_builtin", command=("true",), schedule="@daily")
    db.tasks.add(spec, now=datetime.now(UTC), next_run_at=None, builtin=True)
    code, _, err = run_main("tasks", "remove", "smartcron.test_builtin")
    assert code == 2 and "is a built-in task and cannot be removed; disable it instead" in err
    assert db.tasks.find("smartcron.test_builtin") is not None
