"""The API fuzzed from its own OpenAPI document: whatever arrives, no answer is a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from smartcron.clock import SystemClock
from smartcron.config import load_settings
from smartcron.domain.enums import Role
from smartcron.services.setup import initialise
from smartcron.store import open_store
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app
from tests.web.conftest import NOW, add_task


@pytest.fixture(scope="module")
def fuzzed_api(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    home = tmp_path_factory.mktemp("fuzz") / "home"
    app_settings = load_settings(env={"SMARTCRON_HOME": str(home), "SMARTCRON_TIMEZONE": "UTC"})
    initialise(app_settings)
    store = open_store(app_settings)
    add_task(store, "nightly")
    token, _ = Accounts(store, actor="test").create_token("fuzz", role=Role.ADMIN, now=NOW)
    app = create_app(app_settings, store, clock=SystemClock())
    # The document is taken from the app itself (what /api/openapi.json answers, checked below), so that
    # loading it is not a request with a client timeout on a machine busy with the rest of the suite.
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    schema.location = "/api/openapi.json"
    schema.fuzz_token = token  # type: ignore[attr-defined]
    return schema


def test_no_request_makes_the_api_fail(fuzzed_api: schemathesis.BaseSchema) -> None:
    token = fuzzed_api.fuzz_token  # type: ignore[attr-defined]
    operations = [result.ok() for result in fuzzed_api.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error], timeout=120
            )

        call()


def test_the_fuzzed_document_is_ours(fuzzed_api: schemathesis.BaseSchema) -> None:
    labels = {operation.ok().label for operation in fuzzed_api.get_all_operations()}
    assert "POST /api/v1/tasks/{name}/run" in labels
    assert "GET /api/v1/executions/{execution_id}/log" in labels


def test_the_served_document_is_the_fuzzed_one(fuzzed_api: schemathesis.BaseSchema) -> None:
    from starlette.testclient import TestClient

    token = fuzzed_api.fuzz_token  # type: ignore[attr-defined]
    with TestClient(fuzzed_api.app) as client:
        served = client.get("/api/openapi.json", headers={"Authorization": f"Bearer {token}"})
        anonymous = client.get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json() == fuzzed_api.raw_schema
    assert anonymous.status_code == 401
