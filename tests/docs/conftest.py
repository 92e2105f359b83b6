"""Fixtures for the documentation tests: the reference generator and the site, built once."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "docs" / "hooks" / "reference.py"


@pytest.fixture(scope="session")
def reference() -> ModuleType:
    """docs/hooks/reference.py, the module that renders the reference pages."""
    spec = importlib.util.spec_from_file_location("smartcron_docs_reference", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Site:
    """The built site: the text of a page, with tags removed and entities decoded."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def html(self, page: str) -> str:
        return (self.root / page / "index.html").read_text(encoding="utf-8")

    def text(self, page: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", "", self.html(page)))


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """`mkdocs build --strict`, as tools/docs runs it, into a temporary folder."""
    target = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return Site(target)
