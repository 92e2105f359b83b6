"""A run's page while it runs: the tail of its output first, then what the log gains, a bounded,
escaped slice at a time; its state; and the fragment's answers when nothing is new or the run ended."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smartcron.domain.enums import ExecutionStatus, Trigger
from smartcron.domain.execution import Outcome
from smartcron.store import Store
from smartcron.store.executions import Finish, SlotClaim
from smartcron.web.livelog import SLICE_BYTES, TAIL_BYTES
from tests.web.conftest import NOW, add_task

OFFSET = re.compile(r'<div id="log-tail" data-offset="(\d+)" data-polling="(yes|no)"')
APPENDED = re.compile(r'<span hx-swap-oob="beforeend:#run-log">(.*?)</span>', re.S)
SHOWN = re.compile(r'<pre class="log" id="run-log" data-follow>(.*?)</pre>', re.S)


class RunningRun:
    """A run of task ``demo`` that a runner started, and its task log as the runner writes it."""

    def __init__(self, store: Store, log_dir: Path) -> None:
        self.store = store
        self.task_id = add_task(store, "demo", category="ops", timeout=600)
        [row] = store.executions.claim(
            [SlotClaim(self.task_id, NOW, Trigger.SCHEDULE)], node="n1", token="tok", now=NOW
        )
        store.executions.begin([row.id], node="n1", token="tok", now=NOW, lease_until=NOW)
        self.id = row.id
        self.log = log_dir / "tasks" / "ops_demo.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        earlier = "=== 2026-03-01T11:00:00+00:00 demo execution 999 attempt 0 (schedule) ===\nan older run\n"
        self.log.write_text(
            earlier + f"=== 2026-03-01T12:00:00+00:00 demo execution {row.id} attempt 0 (schedule) ===\n"
        )

    def write(self, data: bytes | str) -> None:
        with self.log.open("ab") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)

    def end(self, status: ExecutionStatus = ExecutionStatus.SUCCESS, exit_code: int = 0) -> None:
        outcome = Outcome(status=status, finished_at=NOW, exit_code=exit_code, duration_ms=4200)
        self.store.executions.finish([Finish(self.id, self.task_id, outcome)], token="tok")


@pytest.fixture
def run(web_store: Store, log_dir: Path) -> RunningRun:
    return RunningRun(web_store, log_dir)


def _poller(html: str) -> tuple[int, bool]:
    found = OFFSET.search(html)
    assert found, html
    return int(found.group(1)), found.group(2) == "yes"


def test_a_running_runs_page_shows_the_last_64_kib_from_a_line_and_asks_for_what_follows(
    viewer: tuple[TestClient, str], run: RunningRun
) -> None:
    client, _ = viewer
    lines = [f"line {i:06d}\n" for i in range(10_000)]  # 120,000 bytes
    run.write("".join(lines))
    html = client.get(f"/executions/{run.id}").text
    [shown] = SHOWN.findall(html)
    assert shown.endswith("line 009999\n")
    assert "line 000000" not in shown and "an older run" not in shown
    assert shown.startswith("line ") and len(shown) <= TAIL_BYTES  # starts at a line, not inside one
    offset, polling = _poller(html)
    assert (offset, polling) == (len("".join(lines)), True)
    assert f'hx-get="/partials/executions/{run.id}/log?after={offset}" hx-trigger="every 1s"' in html
    hidden = offset - len(shown)
    assert f"The first {round(hidden / 1024, 1)} KiB of this run's output are not shown here" in html


def test_the_log_fragment_gives_the_bytes_after_an_offset_then_nothing_until_more_come(
    viewer: tuple[TestClient, str], run: RunningRun
) -> None:
    client, _ = viewer
    run.write("first\n")
    assert _poller(client.get(f"/executions/{run.id}").text) == (6, True)
    nothing = client.get(f"/partials/executions/{run.id}/log?after=6")
    assert (nothing.status_code, nothing.content) == (204, b"")
    run.write("second\nthird\n")
    answer = client.get(f"/partials/executions/{run.id}/log?after=6")
    assert answer.status_code == 200
    assert APPENDED.findall(answer.text) == ["second\nthird\n"]
    assert _poller(answer.text) == (19, True)
    assert APPENDED.findall(client.get(f"/partials/executions/{run.id}/log?after=0").text) == ["first\nsecond\nthird\n"]
    assert client.get(f"/partials/executions/{run.id}/log?after=19").status_code == 204


def test_a_running_runs_unfinished_line_waits_and_a_character_is_never_split(
    viewer: tuple[TestClient, str], run: RunningRun
) -> None:
    client, _ = viewer
    run.write("done\nhalf a li")
    answer = client.get(f"/partials/executions/{run.id}/log?after=0")
    assert APPENDED.findall(answer.text) == ["done\n"] and _poller(answer.text) == (5, True)
    run.write("ne\n")
    assert APPENDED.findall(client.get(f"/partials/executions/{run.id}/log?after=5").text) == ["half a line\n"]
    euro = "€".encode()
    run.write(b"price " + euro[:2])  # a progress line without newline, cut inside a character
    answer = client.get(f"/partials/executions/{run.id}/log?after=17")
    assert APPENDED.findall(answer.text) == ["price "] and _poller(answer.text) == (23, True)
    run.write(euro[2:])
    assert APPENDED.findall(client.get(f"/partials/executions/{run.id}/log?after=23").text) == ["€"]


def test_each_answer_is_bounded_and_a_page_behind_catches_up_over_several(
    viewer: tuple[TestClient, str], run: RunningRun
) -> None:
    client, _ = viewer
    line = "x" * 99 + "\n"
    total = 10_000 * len(line)  # 1,000,000 bytes: four answers of at most 262,144 bytes
    run.write(line * 10_000)
    offset, seen, answers = 0, 0, 0
    while True:
        answer = client.get(f"/partials/executions/{run.id}/log?after={offset}")
        if answer.status_code == 204:
            break
        answers += 1
        [text] = APPENDED.findall(answer.text)
        assert 0 < len(text) <= SLICE_BYTES and text.endswith("\n")
        seen += len(text)
        offset, _ = _poller(answer.text)
    assert (seen, offset, answers) == (total, total, 4)


def test_output_shows_as_escaped_text_without_terminal_codes(viewer: tuple[TestClient, str], run: RunningRun) -> None:
    client, _ = viewer
    run.write('<script>alert("x")</script>\n')
    page = client.get(f"/executions/{run.id}").text
    run.write("\x1b[31mred\x1b[0m \x1b]0;title\x07<img src=x onerror=alert(1)>\n")
    answer = client.get(f"/partials/executions/{run.id}/log?after=28").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert APPENDED.findall(answer) == ["red &lt;img src=x onerror=alert(1)&gt;\n"]
    assert "\x1b" not in answer and "<img" not in answer


def test_once_the_run_ended_the_rest_is_sent_and_the_asking_stops(
    viewer: tuple[TestClient, str], run: RunningRun
) -> None:
    client, _ = viewer
    run.write("working\n")
    run.write("last words, no newline")
    run.end(ExecutionStatus.FAILED, exit_code=3)
    answer = client.get(f"/partials/executions/{run.id}/log?after=8")
    assert APPENDED.findall(answer.text) == ["last words, no newline"]
    assert _poller(answer.text) == (30, True)  # read to the end once more: then it is known to be all
    final = client.get(f"/partials/executions/{run.id}/log?after=30")
    assert final.status_code == 200
    assert _poller(final.text) == (30, False) and "hx-get" not in final.text
    state = client.get(f"/partials/executions/{run.id}/state").text
    assert 'data-status="failed"' in state and "code 3" in state and "4.2 s" in state
    assert "data-elapsed-since" not in state
    page = client.get(f"/executions/{run.id}").text
    assert '<section id="run-state">' in page  # a finished run's page listens to nothing more
    assert 'hx-get="/partials/executions/' not in page and "data-follow" in page


def test_the_next_runs_header_ends_a_runs_output(viewer: tuple[TestClient, str], run: RunningRun) -> None:
    client, _ = viewer
    run.write(f"mine\n=== 2026-03-01T12:05:00+00:00 demo execution {run.id + 1} attempt 0 (manual) ===\nnot mine\n")
    answer = client.get(f"/partials/executions/{run.id}/log?after=0")
    assert APPENDED.findall(answer.text) == ["mine\n"]
    assert _poller(answer.text) == (5, False)


def test_a_queued_runs_page_waits_for_its_output(viewer: tuple[TestClient, str], web_store: Store) -> None:
    client, _ = viewer
    queued = web_store.executions.enqueue(add_task(web_store, "later"), scheduled_for=NOW)
    html = client.get(f"/executions/{queued}").text
    assert _poller(html) == (0, True) and "not started yet" in html
    assert client.get(f"/partials/executions/{queued}/log?after=0").status_code == 204


def test_a_running_runs_state_shows_elapsed_time_the_timeouts_deadline_and_node(
    viewer: tuple[TestClient, str], run: RunningRun
) -> None:
    client, _ = viewer
    state = client.get(f"/partials/executions/{run.id}/state").text
    assert 'data-status="running"' in state
    assert 'data-elapsed-since="2026-03-01T12:00:00+00:00"' in state
    assert "at 2026-03-01 12:10:00 UTC (600 s after the start" in state
    assert "<td>n1</td>" in state and "attempt 0" in state
    assert 'data-action="cancel"' not in state  # a viewer has no buttons


def test_unknown_runs_are_404_and_the_fragments_need_a_login(
    viewer: tuple[TestClient, str], anonymous: TestClient, run: RunningRun
) -> None:
    client, _ = viewer
    for path in ("/executions/777", "/partials/executions/777/log?after=0", "/partials/executions/777/state"):
        assert client.get(path).status_code == 404, path
    for path in (f"/partials/executions/{run.id}/log?after=0", f"/partials/executions/{run.id}/state"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
        fragment = anonymous.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
        assert fragment.status_code == 401 and fragment.headers["hx-redirect"].startswith("/login"), path
    assert client.get(f"/partials/executions/{run.id}/log?after=-1").status_code == 422
