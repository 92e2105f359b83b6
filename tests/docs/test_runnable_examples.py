"""The console examples marked runnable in README.md and docs/ run, exit 0 and print what they show.

A runnable example is a ```console block right after the line ``<!-- runnable -->``. Each ``$ ``
line is a command (``> `` lines continue it, as for a heredoc), each run by a bash of its own, in order, in one fresh
home (HOME, the XDG folders and SMARTCRON_HOME in a temporary directory, no other SMARTCRON_*
variable from outside, so SQLite);
the lines under a command are what it prints: each must match a line of its output, in order, with
``...`` inside a line standing for any text and a line of just ``...`` for any lines left out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.docs.conftest import REPO

MARKER = "<!-- runnable -->"
SOURCES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Example:
    source: str
    line: int
    steps: list[Step]


def parse_examples(path: Path) -> list[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    examples = []
    for index, line in enumerate(lines):
        if line.strip() != MARKER:
            continue
        fence = index + 1
        assert fence < len(lines) and lines[fence].startswith("```console"), (
            f"{path.name}:{index + 1}: {MARKER} must stand right before a ```console block"
        )
        steps: list[Step] = []
        for body in lines[fence + 1 :]:
            if body.startswith("```"):
                break
            if body.startswith("$ "):
                steps.append(Step(body[2:]))
            elif body.startswith("> ") or body == ">":
                assert steps and not steps[-1].expected, f"{path.name}: '> ' continues a command"
                steps[-1].command += "\n" + body[2:]
            elif body.strip():
                assert steps, f"{path.name}:{fence + 1}: output before any command"
                steps[-1].expected.append(body.rstrip())
        assert steps, f"{path.name}:{index + 1}: a runnable block without a command"
        examples.append(Example(f"{path.relative_to(REPO)}:{index + 1}", index + 1, steps))
    return examples


EXAMPLES = [example for path in SOURCES for example in parse_examples(path)]


def matches(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part.strip()) for part in expected.split("..."))
    return re.fullmatch(r"\s*" + pattern + r"\s*", actual) is not None


def check_output(expected: list[str], output: str) -> str | None:
    """None when every expected line matches a line of output in order, else what went wrong."""
    actual = [line.rstrip() for line in output.splitlines()]
    position = 0
    for wanted in expected:
        if wanted.strip() == "...":
            continue
        while position < len(actual) and not matches(wanted, actual[position]):
            position += 1
        if position == len(actual):
            return f"no line matching {wanted!r}"
        position += 1
    return None


def fresh_environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMARTCRON_")}
    env.pop("XDG_RUNTIME_DIR", None)
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        # Root's defaults are /etc and /var/lib (CI runs as root): keep every example in its home.
        "SMARTCRON_HOME": str(home / "smartcron"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "COLUMNS": "200",
        "TZ": "UTC",
    }
    return env


def test_there_are_runnable_examples_in_the_readme_and_the_guides() -> None:
    sources = {example.source.split(":")[0] for example in EXAMPLES}
    assert "README.md" in sources
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.source for example in EXAMPLES])
def test_runnable_example(example: Example, tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")  # the README applies examples/tasks.toml
    env = fresh_environment(home)
    for step in example.steps:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", step.command],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"{example.source}: $ {step.command}\nexit {result.returncode}\n{output}"
        problem = check_output(step.expected, result.stdout + "\n" + result.stderr)
        assert problem is None, f"{example.source}: $ {step.command}\n{problem} in:\n{output}"
