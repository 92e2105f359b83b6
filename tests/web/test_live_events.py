"""The live event stream: one per tab, told of runs, alerts, health and nodes by what changed in
the database, resumable with Last-Event-ID. Read here over a real uvicorn socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from smartcron.clock import SystemClock
from smartcron.config import Settings
from smartcron.domain.enums import Severity
from smartcron.store import Store
from smartcron.store.changes import StateSnapshot
from smartcron.web.app import create_app
from smartcron.web.live_events import alive_nodes, changed_kinds, digests_of, event_id, parse_event_id
from tests.web.conftest import NOW, PASSWORD, add_task, csrf_of
from tests.web.live_server import serving

EMPTY = StateSnapshot(0, (), None, (), 0, 0, 0, None, ())


def test_an_event_id_carries_one_digest_per_kind_and_foreign_ids_are_ignored(settings: Settings) -> None:
    digests = digests_of(EMPTY, now=NOW, settings=settings)
    assert parse_event_id(event_id(digests)) == digests
    for foreign in (None, "", "42", "a-b-c-d-e", "zzzzzzzz-" * 4 + "zzzzzzzz"):
        assert parse_event_id(foreign) is None


def test_only_the_kinds_that_changed_are_named(settings: Settings) -> None:
    before = digests_of(EMPTY, now=NOW, settings=settings)
    queued = StateSnapshot(7, (("scheduled", 1, 7),), None, (), 0, 0, 0, None, ())
    assert changed_kinds(before, digests_of(queued, now=NOW, settings=settings)) == ["run"]
    alerted = StateSnapshot(0, (), None, (("open", 1),), 3, 0, 0, None, ())
    assert changed_kinds(before, digests_of(alerted, now=NOW, settings=settings)) == ["alert"]


def test_a_runner_is_lost_when_its_lease_would_be_past_and_a_tick_after_the_down_delay() -> None:
    beats = (("a", "runner", NOW - timedelta(seconds=4)), ("b", "runner", NOW - timedelta(seconds=6)),
             ("c", "tick", NOW - timedelta(seconds=100)))  # fmt: skip
    assert alive_nodes(beats, now=NOW, runner_lost_after=5, other_lost_after=120) == (("a", "runner"), ("c", "tick"))


def test_a_node_joining_is_a_node_event_but_its_next_beat_is_not(settings: Settings) -> None:
    now = NOW
    joined = StateSnapshot(0, (), None, (), 0, 0, 0, None, (("box", "runner", now),))
    beat_again = StateSnapshot(0, (), None, (), 0, 0, 0, None, (("box", "runner", now + timedelta(seconds=1)),))
    before = digests_of(EMPTY, now=now, settings=settings)
    after = digests_of(joined, now=now, settings=settings)
    assert changed_kinds(before, after) == ["node"]
    assert changed_kinds(after, digests_of(beat_again, now=now + timedelta(seconds=1), settings=settings)) == []
    lost = digests_of(beat_again, now=now + timedelta(seconds=60), settings=settings)
    assert changed_kinds(after, lost) == ["node"]


@pytest.fixture
def live(settings: Settings, web_store: Store) -> Iterator[str]:
    app = create_app(settings, web_store, clock=SystemClock(), live_interval=0.05)
    app.state.login_recheck_seconds = 0.2
    with serving(app) as base:
        yield base


@contextmanager
def _logged_in(base: str, user: str = "viewer") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as client:
        token = csrf_of(client.get("/login").text)
        answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
        assert answer.status_code == 200 and "Log out" in answer.text
        yield client


class EventReader:
    """Parses a text/event-stream into (event, id) pairs, each read with a deadline."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()

    def next(self, deadline: float = 5.0) -> tuple[str, str | None]:
        end = time.monotonic() + deadline
        event, ident, data = "message", None, False
        for line in self._lines:
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("id:"):
                ident = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                data = True
            elif line == "" and data:
                return event, ident
            assert time.monotonic() < end, "no event before the deadline"
        raise AssertionError("the stream ended")

    def until(self, wanted: str, deadline: float = 5.0) -> tuple[list[str], str | None]:
        seen: list[str] = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            event, ident = self.next(end - time.monotonic())
            seen.append(event)
            if event == wanted:
                return seen, ident
        raise AssertionError(f"no {wanted} event; saw {seen}")


def test_the_stream_needs_a_login(live: str) -> None:
    answer = httpx.get(f"{live}/events", follow_redirects=False, timeout=5)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_run_event_arrives_after_an_execution_row_changes(live: str, web_store: Store) -> None:
    task_id = add_task(web_store, "bank_import")
    with _logged_in(live) as client, client.stream("GET", "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = EventReader(response)
        assert reader.next()[0] == "ready"
        changed = time.monotonic()
        web_store.executions.enqueue(task_id, scheduled_for=NOW)
        seen, _ = reader.until("run")
        latency = time.monotonic() - changed
    assert seen == ["run"], seen  # nothing but the run: no alert, health or node event with it
    assert latency < 3, latency


def test_a_reconnecting_tab_is_told_what_changed_while_it_was_away(live: str, web_store: Store) -> None:
    add_task(web_store, "bank_import")
    with _logged_in(live) as client:
        with client.stream("GET", "/events") as response:
            event, last_id = EventReader(response).next()
        assert event == "ready" and last_id
        web_store.alerts.raise_or_repeat(
            "failed", task_id=None, severity=Severity.HIGH, message="x", now=NOW, notify_after=None
        )
        with client.stream("GET", "/events", headers={"Last-Event-ID": last_id}) as response:
            event, new_id = EventReader(response).next()
        assert event == "alert" and new_id != last_id
        with client.stream("GET", "/events", headers={"Last-Event-ID": new_id or ""}) as response:
            assert EventReader(response).next()[0] == "ready"  # nothing missed this time


@pytest.mark.parametrize("change", ["removed", "password changed"])
def test_an_open_stream_ends_once_its_login_no_longer_holds(live: str, web_store: Store, change: str) -> None:
    with _logged_in(live) as client, client.stream("GET", "/events") as response:
        reader = EventReader(response)
        assert reader.next()[0] == "ready"
        if change == "removed":
            web_store.users.remove("viewer")
        else:
            web_store.users.set_password("viewer", "a-new-hash")
        give_up = time.monotonic() + 15  # a bound only a stream that never ends reaches
        with pytest.raises(AssertionError, match="the stream ended"):
            while time.monotonic() < give_up:  # beats may come until the next check of the login
                reader.next(deadline=10.0)


def test_an_open_stream_goes_on_while_its_login_holds(live: str, web_store: Store) -> None:
    task_id = add_task(web_store, "bank_import")
    with _logged_in(live) as client, client.stream("GET", "/events") as response:
        reader = EventReader(response)
        assert reader.next()[0] == "ready"
        time.sleep(0.6)  # several checks of the login go by
        web_store.executions.enqueue(task_id, scheduled_for=NOW)
        assert reader.until("run")[0][-1] == "run"
