"""The OpenAPI document shows an example for every request body and every JSON answer, and each
example is a valid instance of its model (an example that drifts from the model fails here)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from smartcron.web.routes import api_accounts, api_alerts, api_models, nodes


def _models() -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for module in (api_models, api_alerts, api_accounts, nodes):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found.append(value)
    return found


@pytest.mark.parametrize("model", _models(), ids=lambda model: model.__name__)
def test_each_example_of_a_model_is_a_valid_instance(model: type[BaseModel]) -> None:
    for value in (model.model_config.get("json_schema_extra") or {}).get("examples", []):  # type: ignore[union-attr]
        model.model_validate(value)


def _schema_name(content: dict[str, Any]) -> str | None:
    schema = content.get("schema", {})
    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


def test_every_body_and_every_json_answer_has_an_example(app: FastAPI) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and "examples" not in body and "example" not in body:
                name = _schema_name(body)
                if name is None or "examples" not in schemas[name]:
                    missing.append(f"{method.upper()} {path}: request body")
            for status, answer in operation["responses"].items():
                content = answer.get("content", {}).get("application/json")
                if not status.startswith("2") or content is None:
                    continue
                name = _schema_name(content)
                if name is not None and "examples" not in schemas[name]:
                    missing.append(f"{method.upper()} {path}: {status} {name}")
    assert missing == []
