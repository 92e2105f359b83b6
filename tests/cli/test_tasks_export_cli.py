"""``smartcron tasks export`` and what ``tasks apply --prune`` says before removing tasks that no
task file made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartcron.cli.main import main
from smartcron.config import Settings
from smartcron.domain.task import TaskOrigin
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "examples" / "tasks.toml")
TASK = """\
[[task]]
name = "payroll_sync"
command = ["php", "/var/www/jobs/payroll_sync.php"]
schedule = "*/30 * * * *"
"""


@pytest.fixture
def db(settings: Settings):
    initialise(settings)
    store = open_store(settings)
    yield store
    store.close()


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    with CliRunner().isolation(input=input) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def user_tasks(store: Store) -> list[str]:
    return sorted(task.name for task in store.tasks.list() if not task.builtin)


def test_export_prints_a_task_file_that_apply_takes_back_unchanged(db: Store, tmp_path: Path) -> None:
    assert run("tasks", "apply", EXAMPLE)[0] == 0
    code, out, err = run("tasks", "export")
    assert (code, err) == (0, "")
    assert out.startswith("# Task file exported from sqlite:///")
    assert out.count("[[task]]") == 25  # the built-in tasks are left out
    exported = tmp_path / "exported.toml"
    exported.write_text(out, encoding="utf-8")
    code, out, _ = run("tasks", "apply", str(exported), "--prune", "--json")
    plan = json.loads(out)
    assert code == 0 and plan["summary"] == {"added": 0, "changed": 0, "removed": 0, "unchanged": 25}


def test_export_writes_the_file_given_with_output(db: Store, tmp_path: Path) -> None:
    run("tasks", "add", "nightly", "--schedule", "H H(0-5) * * *", "--", "/usr/bin/backup", "--all")
    target = tmp_path / "registry.toml"
    code, out, err = run("tasks", "export", "--output", str(target))
    assert (code, out, err) == (0, "", f"wrote {target}\n")
    assert 'schedule = "H H(0-5) * * *"' in target.read_text(encoding="utf-8")


def test_export_to_a_file_it_cannot_write_says_so_in_one_line(db: Store, tmp_path: Path) -> None:
    code, _, err = run("tasks", "export", "-o", str(tmp_path / "missing" / "x.toml"))
    assert code == 2
    assert err.startswith("smartcron: --output ") and "cannot write: No such file or directory" in err
    assert err.count("\n") == 1


def test_prune_names_the_tasks_made_elsewhere_and_needs_yes_to_remove_them(db: Store, tmp_path: Path) -> None:
    file = tmp_path / "tasks.toml"
    file.write_text(TASK, encoding="utf-8")
    run("tasks", "apply", str(file))
    run("tasks", "add", "by_hand", "--schedule", "@daily", "--", "true")
    assert db.tasks.get("by_hand").origin is TaskOrigin.CLI
    assert db.tasks.get("payroll_sync").origin is TaskOrigin.FILE

    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    code, out, _ = run("tasks", "apply", str(empty), "--prune", "--dry-run")
    assert code == 0
    assert "- remove  by_hand  (default; made with the CLI, not from a task file)" in out
    assert "- remove  payroll_sync  (default)" in out

    code, _, err = run("tasks", "apply", str(empty), "--prune", input="y\n")
    assert code == 2
    assert err.splitlines() == [
        "smartcron: 1 of the tasks --prune would remove were not made from a task file: by_hand (cli)",
        "smartcron: --prune: pass --yes to remove 1 task(s) made elsewhere; nothing changed",
    ]
    assert user_tasks(db) == ["by_hand", "payroll_sync"]

    code, out, _ = run("tasks", "apply", str(empty), "--prune", "--yes")
    assert code == 0 and user_tasks(db) == []


def test_prune_of_tasks_only_files_made_asks_as_before(db: Store, tmp_path: Path) -> None:
    file = tmp_path / "tasks.toml"
    file.write_text(TASK, encoding="utf-8")
    run("tasks", "apply", str(file))
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    code, _, err = run("tasks", "apply", str(empty), "--prune")
    assert code == 2 and "pass --yes to confirm" in err and "made elsewhere" not in err
