"""``smartcron completion`` (scripts, and completions as a shell asks for them through click's
completion variables, run as the shell runs them) and ``smartcron help TOPIC``."""

from __future__ import annotations

import os
import subprocess
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartcron.cli.help import member_docs
from smartcron.cli.main import main
from smartcron.config import Settings, env_name, file_key
from smartcron.domain.enums import (
    AlertState,
    CatchupPolicy,
    CheckStatus,
    ErrorCategory,
    ExecutionStatus,
    OverlapPolicy,
    Trigger,
)
from smartcron.domain.task import TaskSpec
from smartcron.registry.service import Registry
from smartcron.services.setup import initialise
from smartcron.store import open_store
from tests.conftest import utc

REPO = Path(__file__).resolve().parents[2]
SMARTCRON = REPO / ".venv" / "bin" / "smartcron"


def run(*args: str) -> tuple[int, str, str]:
    with CliRunner().isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def complete(shell: str, words: str, current: str | int) -> list[str]:
    """What the completion script's shell function gets back for the command line ``words``."""
    env = os.environ | {"_SMARTCRON_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": str(current)}
    done = subprocess.run([str(SMARTCRON)], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr == ""
    return [line for line in done.stdout.splitlines() if line]


# --- completion scripts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marks"),
    [
        ("bash", ["_SMARTCRON_COMPLETE=bash_complete", "complete -o nosort -F _smartcron_completion smartcron"]),
        ("zsh", ["#compdef smartcron", "_SMARTCRON_COMPLETE=zsh_complete"]),
        ("fish", ["_SMARTCRON_COMPLETE=fish_complete", "complete --no-files --command smartcron"]),
    ],
)
def test_completion_prints_the_script_for_each_shell(shell: str, marks: list[str]) -> None:
    code, out, err = run("completion", shell)
    assert (code, err) == (0, "")
    for mark in marks:
        assert mark in out


def test_completion_for_an_unknown_shell_is_refused_in_one_line() -> None:
    code, _, err = run("completion", "powershell")
    assert code == 2
    assert "'powershell' is not one of 'bash', 'zsh', 'fish'" in err


# --- what the shell gets back ------------------------------------------------------------------


@pytest.fixture
def registry_with_runs(settings: Settings) -> list[int]:
    initialise(settings)
    store = open_store(settings)
    try:
        registry = Registry(store, settings, actor="cli:alice")
        now = utc(2026, 3, 1, 9)
        for name in ("payroll_sync", "payroll_export", "backup"):
            registry.add(TaskSpec(name, ("true",), "@daily", description=f"{name} job"), now=now)
        task_id = store.tasks.get("backup").id
        return [store.executions.enqueue(task_id, scheduled_for=now + timedelta(minutes=n)) for n in range(3)]
    finally:
        store.close()


def test_task_names_complete_for_the_commands_that_take_one(registry_with_runs: list[int]) -> None:
    assert complete("bash", "smartcron tasks show pay", 3) == ["plain,payroll_export", "plain,payroll_sync"]
    assert complete("bash", "smartcron tasks pause b", 3) == ["plain,backup"]
    assert complete("bash", "smartcron runs --task pay", 3) == ["plain,payroll_export", "plain,payroll_sync"]
    assert complete("bash", "smartcron next '@daily' --task b", 4) == ["plain,backup"]
    # zsh also shows each task's description
    assert complete("zsh", "smartcron tasks run payroll_s", 3) == ["plain", "payroll_sync", "payroll_sync job"]


def test_a_new_tasks_name_is_not_completed(registry_with_runs: list[int]) -> None:
    assert complete("bash", "smartcron tasks add pay", 3) == []


def test_recent_execution_ids_complete_with_their_task_and_status(registry_with_runs: list[int]) -> None:
    newest_first = [str(run_id) for run_id in reversed(registry_with_runs)]
    assert complete("bash", "smartcron logs ", 2) == [f"plain,{run_id}" for run_id in newest_first]
    fish = complete("fish", "smartcron logs ", "")
    assert fish[0] == f"plain,{newest_first[0]}\tbackup scheduled 2026-03-01 09:02"


def test_subcommands_and_options_complete(registry_with_runs: list[int]) -> None:
    assert "plain,export" in complete("bash", "smartcron tasks ex", 2)
    options = complete("bash", "smartcron tasks apply x --", 4)
    assert {"plain,--prune", "plain,--dry-run", "plain,--yes"} <= set(options)
    assert complete("bash", "smartcron completion z", 2) == ["plain,zsh"]
    assert complete("bash", "smartcron help co", 2) == ["plain,configuration"]


def test_without_a_database_task_names_complete_to_nothing_and_say_nothing(home: Path) -> None:
    assert complete("bash", "smartcron tasks show pay", 3) == []


# --- help topics ---------------------------------------------------------------------------------


def test_help_lists_its_topics() -> None:
    code, out, _ = run("help")
    assert code == 0
    for topic in ("schedules", "policies", "configuration", "statuses"):
        assert f"  {topic}" in out


def test_help_configuration_lists_every_setting_with_its_variable_and_default(home: Path) -> None:
    code, out, _ = run("help", "configuration")
    assert code == 0
    for field in fields(Settings):
        if field.name in ("home", "config_file"):
            continue
        key = file_key(field.name).split(".")[-1]
        assert f"  {key}    {env_name(field.name)}    default: " in out
        assert str(field.metadata["help"]).split()[0] in out
    assert "  port    SMARTCRON_SMTP_PORT    default: 25" in out
    assert "(1 to 65535)" in out
    assert f"data_dir    SMARTCRON_DATA_DIR    default: {home / 'data'} (in this environment)" in out


def test_help_statuses_explains_every_status_the_code_defines() -> None:
    code, out, _ = run("help", "statuses")
    assert code == 0
    for enum in (ExecutionStatus, Trigger, AlertState, CheckStatus):
        for member in enum:
            assert f"\n  {member.value}\n" in out + "\n"
    docs = member_docs(ExecutionStatus)
    assert set(docs) == {status.value for status in ExecutionStatus}  # each status has its words
    assert "Exited with status 0." in out
    assert docs["unknown_outcome"].startswith("Its process ended while no runner watched it")


def test_help_policies_explains_overlap_catchup_and_retries() -> None:
    code, out, _ = run("help", "policies")
    assert code == 0
    for enum in (OverlapPolicy, CatchupPolicy, ErrorCategory):
        docs = member_docs(enum)
        for member in enum:
            assert f"\n  {member.value}\n" in out
            assert docs[member.value].split()[0] in out
    assert "retries = 3" in out and "retry_delay = 30 s" in out and "exit 126, 127" in out


def test_help_schedules_is_the_schedules_document() -> None:
    code, out, _ = run("help", "schedules")
    assert code == 0
    assert out == (REPO / "docs" / "schedules.md").read_text(encoding="utf-8") + "\n"


def test_help_for_an_unknown_topic_names_the_topics() -> None:
    code, _, err = run("help", "cron")
    assert code == 2
    assert "'cron' is not one of 'schedules', 'policies', 'configuration', 'statuses'" in err
