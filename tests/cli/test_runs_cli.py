"""``smartcron runs`` and ``smartcron logs`` as a person and a script use them."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartcron.cli.main import main
from smartcron.clock import SystemClock
from smartcron.config import Settings, load_settings
from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.task import TaskSpec
from smartcron.logs import task_log_path
from smartcron.runner.tick import run_tick
from smartcron.services.setup import initialise
from smartcron.store import Store, open_store
from tests.runner.runner_support import CHILD_ENV, wait_until

CHATTY = "for i in $(seq 1 3000); do echo line $i; done"


@pytest.fixture
def settings(home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("SMARTCRON_RUNNER_OUTPUT_PREVIEW_KB", "1")
    settings = load_settings()
    initialise(settings)
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings)
    yield store
    store.close()


def run_main(*args: str) -> tuple[int, str, str]:
    """The program as a shell runs it (errors as one line and an exit code), in-process."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue().decode(), err.getvalue().decode()


def add(store: Store, name: str, command: str, *, at: datetime, **spec: object) -> None:
    task = TaskSpec(name=name, command=(command,), shell=True, schedule="0 0 1 1 *", category="demo", **spec)  # type: ignore[arg-type]
    store.tasks.add(task, now=at, next_run_at=at)


def tick(settings: Settings, store: Store, tmp_path: Path) -> None:
    run_tick(settings, store, clock=SystemClock(), base_env=CHILD_ENV, cwd=str(tmp_path))


@pytest.fixture
def history(settings: Settings, store: Store, tmp_path: Path) -> dict[str, int]:
    """Three real runs: a chatty success, a failure, and one more success of the chatty task."""
    now = datetime.now(UTC)
    add(store, "chatty", CHATTY, at=now)
    add(store, "broken", "echo oops >&2; exit 3", at=now, retries=0)
    tick(settings, store, tmp_path)
    store.tasks.set_next_run(store.tasks.get("chatty").id, datetime.now(UTC))
    tick(settings, store, tmp_path)
    runs = store.executions.list(limit=10)
    chatty = [r.id for r in runs if r.task_name == "chatty"]
    broken = [r.id for r in runs if r.task_name == "broken"]
    return {"chatty_first": min(chatty), "chatty_second": max(chatty), "broken": broken[0]}


def test_runs_json_lists_runs_newest_first_with_the_fields_scripts_rely_on(history: dict[str, int]) -> None:
    code, out, _ = run_main("runs", "--json")
    assert code == 0
    runs = json.loads(out)
    assert [r["id"] for r in runs] == sorted((r["id"] for r in runs), reverse=True)
    assert len(runs) == 3
    broken = next(r for r in runs if r["id"] == history["broken"])
    expected_keys = {
        "id", "task", "status", "trigger", "attempt", "scheduled_for", "started_at", "finished_at", "exit_code",
        "signal", "duration_ms", "max_rss_kb", "output",
    }  # fmt: skip
    assert expected_keys <= broken.keys()
    assert (broken["task"], broken["status"], broken["trigger"], broken["exit_code"], broken["output"]) == (
        "broken", "failed", "schedule", 3, "oops\n",
    )  # fmt: skip
    for key in ("scheduled_for", "started_at", "finished_at"):
        assert datetime.fromisoformat(broken[key]).utcoffset() == timedelta(0)


def test_runs_filters_by_task_status_and_limit(history: dict[str, int]) -> None:
    _, by_task, _ = run_main("runs", "--task", "chatty", "--json")
    assert [r["id"] for r in json.loads(by_task)] == [history["chatty_second"], history["chatty_first"]]
    _, failed, _ = run_main("runs", "--status", "failed", "--json")
    assert [r["id"] for r in json.loads(failed)] == [history["broken"]]
    _, limited, _ = run_main("runs", "--limit", "1", "--json")
    assert [r["id"] for r in json.loads(limited)] == [history["chatty_second"]]


def test_runs_table_shows_one_line_per_run_with_status_and_last_output_line(history: dict[str, int]) -> None:
    code, out, _ = run_main("runs")
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split()[:4] == ["ID", "TASK", "STATUS", "TRIGGER"]
    assert len(lines) == 3
    broken = next(line for line in lines if line.startswith(str(history["broken"])))
    assert "failed" in broken and broken.rstrip().endswith("oops")


def test_runs_of_an_unknown_task_is_one_clear_line_and_exit_two(history: dict[str, int]) -> None:
    assert run_main("runs", "--task", "nope") == (2, "", "smartcron: no task named 'nope'\n")
    code, _, err = run_main("runs", "--status", "exploded")
    assert code == 2 and "exploded" in err


def test_logs_prints_a_runs_full_output_not_only_the_preview(store: Store, history: dict[str, int]) -> None:
    code, out, _ = run_main("logs", str(history["chatty_first"]))
    assert code == 0
    assert out.splitlines() == [f"line {i}" for i in range(1, 3001)]
    preview = store.executions.get(history["chatty_first"]).output
    assert preview is not None and len(preview) <= 1024 < len(out)


def test_logs_finds_a_run_in_a_rotated_compressed_log(
    settings: Settings, store: Store, history: dict[str, int]
) -> None:
    current = task_log_path(settings.log_dir, "demo", "chatty")
    with current.open("rb") as plain, gzip.open(current.with_name(current.name + ".1.gz"), "wb") as packed:
        shutil.copyfileobj(plain, packed)
    current.write_text("")
    code, out, _ = run_main("logs", str(history["chatty_second"]))
    assert code == 0 and out.splitlines()[-1] == "line 3000" and len(out.splitlines()) == 3000


def test_logs_falls_back_to_the_stored_tail_when_the_log_is_gone(settings: Settings, history: dict[str, int]) -> None:
    task_log_path(settings.log_dir, "demo", "broken").unlink()
    code, out, err = run_main("logs", str(history["broken"]))
    assert (code, out) == (0, "oops\n")
    assert "no longer holds" in err


def test_logs_of_an_unknown_run_or_a_slot_that_never_ran(store: Store, history: dict[str, int]) -> None:
    assert run_main("logs", "99999") == (2, "", "smartcron: no execution with id 99999\n")
    task = store.tasks.get("broken")
    missed = store.executions.enqueue(task.id, scheduled_for=datetime.now(UTC))
    code, _, err = run_main("logs", str(missed))
    assert code == 1 and f"execution {missed} did not run (scheduled)" in err


def test_logs_follow_prints_output_as_the_run_writes_it_until_it_ends(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    script = f"echo first; while [ ! -e {release} ]; do sleep 0.05; done; echo last"
    add(store, "slow", script, at=datetime.now(UTC))
    ticking = subprocess.Popen([sys.executable, "-m", "smartcron", "tick"], env=os.environ | CHILD_ENV, cwd=tmp_path)
    try:
        wait_until(lambda: store.executions.count(status=ExecutionStatus.RUNNING) == 1, "the run to start")
        [run] = store.executions.live(status=ExecutionStatus.RUNNING)
        follower = subprocess.Popen(
            [sys.executable, "-m", "smartcron", "logs", str(run.id), "--follow"],
            env=os.environ,
            stdout=subprocess.PIPE,
        )
        assert follower.stdout is not None
        assert follower.stdout.readline() == b"first\n"
        release.touch()
        rest, _ = follower.communicate(timeout=60)
        assert (follower.returncode, rest) == (0, b"last\n")
        assert ticking.wait(timeout=60) == 0
    finally:
        for process in (ticking,):
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.parametrize("command", [["runs"], ["logs", "1"], ["tick"]])
def test_an_unreachable_database_is_one_line_and_exit_one(
    home: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("SMARTCRON_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    code, out, err = run_main(*command)
    assert (code, out) == (1, "")
    assert err.startswith("smartcron: database unreachable (postgresql+psycopg://nobody@127.0.0.1:1/nothing): ")
    assert len(err.splitlines()) == 1
