"""What pages fetch again answers 304 Not Modified, with no body, while nothing changed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from smartcron.store import Store
from smartcron.web.conditional import matches
from tests.web.conftest import add_task


def test_a_fragment_asked_again_with_its_etag_is_not_sent_again(
    viewer: tuple[TestClient, str], web_store: Store
) -> None:
    client, _ = viewer
    add_task(web_store, "bank_import")
    first = client.get("/partials/grid")
    assert first.status_code == 200 and "bank_import" in first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get("/partials/grid", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag

    add_task(web_store, "payroll")
    changed = client.get("/partials/grid", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "payroll" in changed.text
    assert changed.headers["etag"] != etag


def test_the_api_answers_304_too_but_full_pages_and_errors_carry_no_etag(viewer: tuple[TestClient, str]) -> None:
    client, _ = viewer
    first = client.get("/api/v1/tasks")
    assert first.status_code == 200
    assert client.get("/api/v1/tasks", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert "etag" not in client.get("/").headers
    missing = client.get("/api/v1/tasks/nope")
    assert missing.status_code == 404 and "etag" not in missing.headers


def test_if_none_match_compares_weakly_and_lists() -> None:
    assert matches('"a", W/"b"', '"b"')
    assert matches("*", '"b"')
    assert not matches('"a"', '"b"')
    assert not matches(None, '"b"')
