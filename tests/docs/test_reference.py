"""Each reference page lists everything the code defines, with a description taken from the code.

An item added to the code without a description (a task-file key, a setting, a status, a metric,
a rule kind, an exit status) fails here, and so does one the generated page leaves out.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import fields
from enum import Enum
from pathlib import Path
from types import ModuleType

import click
import pytest

from smartcron import config, errors
from smartcron.cli.help import member_docs
from smartcron.cli.main import cli
from smartcron.clock import SystemClock
from smartcron.domain import enums
from smartcron.domain.alert_rules import RuleKind
from smartcron.domain.task import SPEC_FIELDS
from smartcron.domain.taskfields import FIELD_DOCS
from smartcron.domain.taskfile import spec_from_mapping
from smartcron.monitor import metrics as sampled
from smartcron.services.setup import initialise
from smartcron.store import open_store
from smartcron.web import metrics as exposed
from tests.docs.conftest import REPO, Site

SETTINGS_SKIPPED = {"home", "config_file"}  # derived from the environment, not settings of their own


def test_every_task_file_key_has_a_description_and_a_valid_example() -> None:
    assert set(FIELD_DOCS) == set(SPEC_FIELDS)
    base = {"name": "example", "command": ["true"], "schedule": "@daily"}
    for key, doc in FIELD_DOCS.items():
        assert doc.about and doc.kind and doc.example, key
        value = tomllib.loads(f"{key} = {doc.example}")[key]
        extra = {"shell": True, "command": "true"} if key == "shell" else {}
        spec = spec_from_mapping(base | extra | {key: value}, default_timezone="UTC")
        assert spec.name


def test_task_file_page_lists_every_key(site: Site) -> None:
    page = site.text("reference/task-file")
    for key in SPEC_FIELDS:
        assert f"{key} = {FIELD_DOCS[key].example}" in page, key
        assert FIELD_DOCS[key].about.replace("`", "") in page, key


def test_configuration_page_lists_every_setting_with_its_variable_and_help(site: Site) -> None:
    page = site.text("reference/configuration")
    for field in fields(config.Settings):
        if field.name in SETTINGS_SKIPPED:
            continue
        assert str(field.metadata.get("help", "")).strip(), f"setting {field.name} has no help"
        assert config.env_name(field.name) in page, field.name
        assert str(field.metadata["help"]).replace("`", "") in page, field.name
        section = config.file_key(field.name).partition(".")[0]
        if "." in config.file_key(field.name):
            assert f"[{section}]" in page, section


def _commands(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                found += _commands(sub, (*path, name))
    return found


def test_command_line_page_has_every_command_and_option(site: Site) -> None:
    page_html = site.html("reference/cli")
    page = site.text("reference/cli")
    commands = _commands(cli, ("smartcron",))
    assert len(commands) > 40
    for path, command in commands:
        anchor = "-".join(path)
        assert f'id="{anchor}"' in page_html, " ".join(path)
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for flag in param.opts:
                    assert flag in page, f"{' '.join(path)} {flag}"


def test_api_page_lists_every_operation_of_the_openapi_document_with_its_role(
    site: Site, reference: ModuleType
) -> None:
    page = site.text("reference/api")
    operations = reference.api_operations()
    assert len(operations) >= 10
    for operation in operations:
        assert operation["summary"], operation
        assert operation["role"] in ("viewer", "operator", "admin"), operation
        summary = re.escape(operation["summary"].replace("`", ""))
        row = rf"{operation['method']}\s*{re.escape(operation['path'])}\s*{summary}"
        assert re.search(row, page), f"{operation['method']} {operation['path']}"
    for path in reference.SYSTEM_ENDPOINTS:
        assert path in page


def test_api_page_shows_each_operations_description_and_request_examples(site: Site, reference: ModuleType) -> None:
    page = " ".join(site.text("reference/api").split())
    operations = reference.api_operations()
    for operation in operations:
        if operation["description"]:
            assert operation["description"].replace("`", "")[:80] in page, operation["path"]
    bodies = [op for op in operations if op["method"] in ("POST", "PATCH") and op["examples"]]
    assert {(op["method"], op["path"]) for op in bodies} >= {
        ("POST", "/api/v1/tasks"),
        ("PATCH", "/api/v1/tasks/{name}"),
        ("POST", "/api/v1/alerts/{alert_id}/snooze"),
    }
    assert '"schedule": "*/30 * * * *"' in page and '"duration": "2h"' in page


def test_metrics_page_lists_every_family_the_exposition_serves(site: Site, tmp_path: Path) -> None:
    settings = config.load_settings(env={"SMARTCRON_HOME": str(tmp_path)}, euid=1000)
    initialise(settings)
    store = open_store(settings)
    try:
        text = exposed.MetricsExposition(store, SystemClock()).render().decode()
    finally:
        store.close()
    served = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    assert served == {family.name for family in exposed.FAMILIES}
    page = site.text("reference/metrics")
    for family in exposed.FAMILIES:
        assert family.name in page and family.help in page, family.name


def test_metrics_page_lists_every_stored_sample_with_a_description(site: Site) -> None:
    assert set(sampled.METRIC_DESCRIPTIONS) == set(sampled.METRIC_NAMES)
    page = site.text("reference/metrics")
    for name in sampled.METRIC_NAMES:
        assert name in page and sampled.METRIC_DESCRIPTIONS[name] in page, name


def _documented(enum_class: type[Enum]) -> dict[str, str]:
    docs = member_docs(enum_class)
    missing = [str(member.value) for member in enum_class if not docs.get(str(member.value))]
    assert not missing, f"{enum_class.__name__} members without a docstring: {missing}"
    return docs


def test_alert_rules_page_lists_every_kind(site: Site) -> None:
    page = site.text("reference/alert-rules")
    for kind, doc in _documented(RuleKind).items():
        assert kind in page and doc.replace("``", "")[:40] in page.replace("`", ""), kind


def test_statuses_page_covers_every_enum_of_the_vocabulary(site: Site) -> None:
    page = site.text("reference/statuses").replace("`", "")
    vocabulary = [value for value in vars(enums).values() if isinstance(value, type) and issubclass(value, Enum)]
    vocabulary = [enum_class for enum_class in vocabulary if enum_class.__module__ == enums.__name__]
    assert enums.ExecutionStatus in vocabulary
    for enum_class in vocabulary:
        for value, doc in _documented(enum_class).items():
            assert value in page and doc.replace("``", "")[:40] in page, f"{enum_class.__name__}.{value}"


def _literal_exits() -> set[int]:
    """Every ``sys.exit(<integer>)`` written in the CLI's source."""
    codes: set[int] = set()
    for path in (REPO / "src" / "smartcron" / "cli").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "exit"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, int)
            ):
                codes.add(node.args[0].value)
    return codes


def test_exit_codes_page_lists_every_status_the_program_exits_with(site: Site) -> None:
    raised = {
        cls.exit_code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.SmartcronError)
    }
    used = raised | _literal_exits() | {0}
    assert used <= set(errors.EXIT_STATUSES), used - set(errors.EXIT_STATUSES)
    page = site.text("reference/exit-codes")
    for code, about in errors.EXIT_STATUSES.items():
        assert re.search(rf"^\s*{code}\s*$", page, re.MULTILINE) and about.replace("`", "") in page, code


def test_site_fetches_nothing_from_the_internet(site: Site) -> None:
    for page in ("reference/cli", "guides/getting-started", ""):
        text = site.html(page) if page else (site.root / "index.html").read_text(encoding="utf-8")
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text


def test_generated_tables_render_as_tables(site: Site, reference: ModuleType) -> None:
    pages = {
        "task-fields": "reference/task-file",
        "settings": "reference/configuration",
        "api": "reference/api",
        "metrics": "reference/metrics",
        "alert-rules": "reference/alert-rules",
        "statuses": "reference/statuses",
        "exit-codes": "reference/exit-codes",
    }
    assert set(pages) == set(reference.RENDERERS)
    for name, page in pages.items():
        expected = sum(line.startswith("|---") for line in reference.RENDERERS[name]().splitlines())
        assert site.html(page).count("<table>") >= expected, name
        assert "|---" not in site.text(page), f"{page}: a table left as text"


def test_an_item_without_a_description_stops_the_build(reference: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(FIELD_DOCS, "timeout")
    with pytest.raises(KeyError):
        reference.task_fields()
    monkeypatch.delitem(sampled.METRIC_DESCRIPTIONS, sampled.LOAD1)
    with pytest.raises(KeyError):
        reference.metrics()


def test_an_unknown_marker_stops_the_build(reference: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown generated section 'nope'"):
        reference.render_markers("<!-- generated: nope -->", "page.md")
