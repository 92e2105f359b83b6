"""MkDocs hook: the reference pages, rendered from the definitions the code validates with.

A reference page holds prose and a marker such as ``<!-- generated: task-fields -->``; the hook
replaces each marker with the Markdown of :data:`RENDERERS` at build time, so nothing listed there
is written twice. tests/docs imports this module to check that every item the code defines is on
its page. The command-line reference is mkdocs-click's (``::: mkdocs-click`` in reference/cli.md).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import MISSING, fields
from enum import Enum
from pathlib import Path
from typing import Any

MARKER = re.compile(r"<!--\s*generated:\s*([a-z-]+)\s*-->")


def cell(text: object) -> str:
    """A value made safe for one cell of a Markdown table: no '|' or newline, and a '<' outside a
    code span shown as itself rather than read as an HTML tag."""
    parts = str(text).replace("|", "\\|").replace("\n", " ").split("`")
    return "`".join(part if index % 2 else part.replace("<", "&lt;") for index, part in enumerate(parts))


def table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def code(text: object) -> str:
    return f"`{text}`" if str(text) != "" else ""


# ---------------------------------------------------------------------------------------------
# Task file


def task_fields() -> str:
    from smartcron.domain import task as task_module
    from smartcron.domain.taskfields import FIELD_DOCS, INT_RANGES
    from smartcron.domain.taskfile import REQUIRED

    defaults = {f.name: f.default for f in fields(task_module.TaskSpec)}
    rows = []
    for key in task_module.SPEC_FIELDS:
        doc = FIELD_DOCS[key]
        if key in REQUIRED:
            default = "required"
        elif key == "timezone":
            default = "the `timezone` setting"
        else:
            default = _toml_default(defaults[key])
        if key in INT_RANGES:
            rule = INT_RANGES[key]
            accepts = f"{rule.minimum} to {rule.maximum}{rule.unit}"
        else:
            accepts = doc.accepts
        rows.append([f"`{key}`", doc.kind, default, accepts, doc.about, f"`{key} = {doc.example}`"])
    return table(["key", "type", "default", "accepts", "what it does", "example"], rows)


def _toml_default(value: Any) -> str:
    if value is MISSING or value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, Enum):
        return f'`"{value.value}"`'
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[]`" if not value else f"`{list(value)}`"
    return f"`{value}`"


# ---------------------------------------------------------------------------------------------
# Settings

DERIVED_DEFAULTS = {
    "data_dir": "`$SMARTCRON_HOME/data`, `/var/lib/smartcron` for root, else `$XDG_DATA_HOME/smartcron`",
    "log_dir": "`$SMARTCRON_HOME/logs`, `/var/log/smart-cron` for root, else `$XDG_STATE_HOME/smartcron/logs`",
    "run_dir": "`$SMARTCRON_HOME/run`, `/run/smartcron` for root, else `$XDG_RUNTIME_DIR/smartcron`",
    "node": "the host name",
    "database_url": "`sqlite:///<data_dir>/smartcron.db`",
    "backup_dir": "`<data_dir>/backups`",
}
"""Defaults worked out when the settings are loaded (config.load_settings), not written in the field."""


def settings() -> str:
    from smartcron import config

    out = []
    section: str | None = None
    rows: list[list[object]] = []

    def flush() -> None:
        if rows:
            title = f"`[{section}]`" if section else "Top level"
            out.append(
                f"### {title}\n\n" + table(["key", "environment variable", "default", "bounds", "what it is"], rows)
            )
            rows.clear()

    for field in fields(config.Settings):
        if field.name in ("home", "config_file"):
            continue
        key = config.file_key(field.name)
        here = key.split(".")[0] if "." in key else ""
        if here != section:
            flush()
            section = here
        low, high = field.metadata.get("min"), field.metadata.get("max")
        bounds = f"{low:g} to {high:g}" if low is not None and high is not None else ""
        default = DERIVED_DEFAULTS.get(field.name) or _setting_default(field.default)
        rows.append(
            [f"`{key.split('.')[-1]}`", f"`{config.env_name(field.name)}`", default, bounds, field.metadata["help"]]
        )
    flush()
    return "\n".join(out)


def _setting_default(value: Any) -> str:
    if value in ("", ()):
        return "none"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


# ---------------------------------------------------------------------------------------------
# HTTP API


def api_operations() -> list[dict[str, str]]:
    """Every operation of the OpenAPI document: method, path, summary, parameters, role."""
    from smartcron.config import load_settings
    from smartcron.store import open_store
    from smartcron.web.app import create_app

    with tempfile.TemporaryDirectory(prefix="smartcron-docs-") as home:
        throwaway = load_settings(env={"SMARTCRON_HOME": home}, euid=1000)
        store = open_store(throwaway)
        try:
            document = create_app(throwaway, store, secret_key=b"docs" * 8).openapi()
        finally:
            store.close()
    roles = route_roles()
    operations = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            parameters = ", ".join(f"`{p['name']}` ({p['in']})" for p in operation.get("parameters", []))
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "parameters": parameters,
                    "role": roles.get((method.upper(), path), ""),
                    "description": " ".join(operation.get("description", "").split()),
                    "examples": request_examples(operation),
                }
            )
    return operations


def request_examples(operation: dict[str, Any]) -> list[tuple[str, Any]]:
    """(title, body) of each request example an operation declares (``openapi_examples`` or a
    schema's ``examples``)."""
    media = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    named = [(ex.get("summary", name), ex["value"]) for name, ex in media.get("examples", {}).items()]
    listed = [("Example", value) for value in media.get("schema", {}).get("examples", [])]
    return named or listed


def route_roles() -> dict[tuple[str, str], str]:
    """(method, path) -> the role its ``require_*`` dependency asks for, for every route of every router."""
    from fastapi.routing import APIRoute

    from smartcron.web.routes import actions, api, api_accounts, api_alerts, nodes, pages, system

    found: dict[tuple[str, str], str] = {}
    routers = [module.router for module in (system, pages, actions, api, api_alerts, api_accounts)]
    for router in [*routers, nodes.api, nodes.pages]:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            names = [getattr(dep.call, "__name__", "") for dep in route.dependant.dependencies]
            role = next((n.removeprefix("require_") for n in names if n.startswith("require_")), "public")
            for method in route.methods:
                found[(method, route.path)] = role
    return found


def system_endpoints() -> list[dict[str, str]]:
    """The routes outside the OpenAPI document that scripts and probes use."""
    from fastapi.routing import APIRoute

    from smartcron.web.routes import system

    roles = route_roles()
    rows = []
    for route in system.router.routes:
        if isinstance(route, APIRoute) and route.path in SYSTEM_ENDPOINTS:
            for method in sorted(route.methods):
                rows.append(
                    {
                        "method": method,
                        "path": route.path,
                        "summary": SYSTEM_ENDPOINTS[route.path],
                        "role": roles[(method, route.path)],
                    }
                )
    return rows


SYSTEM_ENDPOINTS = {
    "/healthz": "Liveness probe: 200 with the database latency, 503 when the database cannot be reached.",
    "/metrics": "Prometheus text exposition (see Metrics).",
    "/api/openapi.json": "This API's OpenAPI document.",
    "/api/docs": "The API documentation, browsable.",
}


def api() -> str:
    operations = api_operations()
    rows = [[f"`{op['method']}`", f"`{op['path']}`", op["summary"], op["parameters"], op["role"]] for op in operations]
    system = [[f"`{op['method']}`", f"`{op['path']}`", op["summary"], "", op["role"]] for op in system_endpoints()]
    header = ["method", "path", "what it does", "parameters", "role"]
    return (
        "### Under `/api/v1`\n\n"
        + table(header, rows)
        + "\n### Outside the API\n\n"
        + table(header, system)
        + "\n### Operations in detail\n\n"
        + operation_details(operations)
    )


def operation_details(operations: list[dict[str, Any]]) -> str:
    """What each operation that takes a body or says more than its summary does, with its
    request examples."""
    parts = []
    for op in operations:
        if not (op["description"] or op["examples"]):
            continue
        parts.append(f"#### `{op['method']} {op['path']}`\n\n{op['summary']} (role: {op['role']}).\n")
        if op["description"]:
            parts.append(op["description"] + "\n")
        for title, body in op["examples"]:
            parts.append(f"{title}:\n\n```json\n{json.dumps(body, indent=2)}\n```\n")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Metrics, alert rules, statuses, exit codes


def metrics() -> str:
    from smartcron.monitor.metrics import METRIC_DESCRIPTIONS, METRIC_NAMES
    from smartcron.web.metrics import FAMILIES

    exposed = table(
        ["family", "type", "labels", "what it is"],
        ([f"`{f.name}`", f.kind, ", ".join(f"`{x}`" for x in f.labels), f.help] for f in FAMILIES),
    )
    sampled = table(["name", "what it is"], ([f"`{name}`", METRIC_DESCRIPTIONS[name]] for name in METRIC_NAMES))
    return (
        "### Prometheus families at `/metrics`\n\n" + exposed + "\n### Samples stored by the health monitor\n\n"
        "Charted on the dashboard and served by `GET /api/v1/metrics/{name}`.\n\n" + sampled
    )


def _member_table(enum_class: type[Enum], header: str = "value") -> str:
    from smartcron.cli.help import member_docs

    docs = member_docs(enum_class)
    return table([header, "meaning"], ([f"`{m.value}`", docs[str(m.value)]] for m in enum_class))


def alert_rules() -> str:
    from smartcron.domain.alert_rules import RuleKind

    return _member_table(RuleKind, "kind")


def statuses() -> str:
    from smartcron.domain import enums
    from smartcron.domain.why_model import WhyOutcome

    sections = [
        ("Execution statuses", enums.ExecutionStatus),
        ("Triggers: what started a run", enums.Trigger),
        ("Error categories", enums.ErrorCategory),
        ("Overlap policies (`overlap`)", enums.OverlapPolicy),
        ("Catch-up policies (`catchup`)", enums.CatchupPolicy),
        ("Priorities (`priority`)", enums.Priority),
        ("Alert severities", enums.Severity),
        ("Alert states", enums.AlertState),
        ("Health check results", enums.CheckStatus),
        ("Roles", enums.Role),
        ("What `smartcron why` says of a slot", WhyOutcome),
    ]
    return "\n".join(f"### {title}\n\n" + _member_table(enum_class) for title, enum_class in sections)


def exit_codes() -> str:
    from smartcron.errors import EXIT_STATUSES

    return table(["status", "meaning"], ([f"`{code}`", about] for code, about in EXIT_STATUSES.items()))


RENDERERS: dict[str, Callable[[], str]] = {
    "task-fields": task_fields,
    "settings": settings,
    "api": api,
    "metrics": metrics,
    "alert-rules": alert_rules,
    "statuses": statuses,
    "exit-codes": exit_codes,
}


def render_markers(markdown: str, source: str = "page") -> str:
    """The page with each marker replaced by its generated Markdown; an unknown marker is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in RENDERERS:
            raise ValueError(f"{source}: unknown generated section {name!r} (known: {', '.join(RENDERERS)})")
        return RENDERERS[name]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    return render_markers(markdown, str(Path(page.file.src_path)))
