"""`smartcron users`, `smartcron tokens` and `smartcron web` as a person types them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from smartcron.config import Settings
from smartcron.services.setup import initialise

SMARTCRON = [sys.executable, "-m", "smartcron"]


def _run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SMARTCRON, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_users_are_added_listed_given_a_new_password_and_removed(settings: Settings, home: Path) -> None:
    initialise(settings)
    added = _run("users", "add", "alice", "--role", "operator", "--password-stdin", stdin="long-enough-pw\n")
    assert added.returncode == 0, added.stderr
    listed = _run("users", "list", "--json")
    assert '"name": "alice"' in listed.stdout and '"role": "operator"' in listed.stdout
    assert _run("users", "passwd", "alice", "--password-stdin", stdin="another-long-pw\n").returncode == 0
    assert _run("users", "remove", "alice").returncode == 0
    assert "no users" in _run("users", "list").stdout


def test_bad_user_input_is_one_line_and_exit_code_2(settings: Settings, home: Path) -> None:
    initialise(settings)
    short = _run("users", "add", "alice", "--role", "admin", "--password-stdin", stdin="short\n")
    bad_name = _run("users", "add", "../x", "--role", "admin", "--password-stdin", stdin="long-enough-pw\n")
    bad_role = _run("users", "add", "alice", "--role", "root", "--password-stdin", stdin="long-enough-pw\n")
    assert (short.returncode, bad_name.returncode, bad_role.returncode) == (2, 2, 2)
    assert short.stderr.strip() == "smartcron: password: at least 8 characters"
    assert "Traceback" not in short.stderr + bad_name.stderr + bad_role.stderr
    assert "no users" in _run("users", "list").stdout


def test_a_token_is_printed_once_and_only_listed_by_name(settings: Settings, home: Path) -> None:
    initialise(settings)
    created = _run("tokens", "create", "ci", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("sct_") and len(token) > 40
    listed = _run("tokens", "list")
    assert "ci" in listed.stdout and token not in listed.stdout
    assert _run("tokens", "revoke", "ci").returncode == 0
    assert _run("tokens", "revoke", "ci").returncode == 2


def test_the_dashboard_refuses_to_start_without_a_user(settings: Settings, home: Path) -> None:
    initialise(settings)
    answer = _run("web", "--port", "1")
    assert answer.returncode == 2
    assert "smartcron users add NAME --role admin" in answer.stderr
