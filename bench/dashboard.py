"""p50 and p95 of every dashboard page and API call against a generated history (DESIGN 8:
p95 <= 100 ms with 1,000,000 executions on SQLite).

    .venv/bin/python bench/generate.py /tmp/bench.db
    .venv/bin/python bench/dashboard.py sqlite:////tmp/bench.db
    .venv/bin/python bench/dashboard.py postgresql+psycopg://postgres@127.0.0.1/bench --rounds 30

Requests go through the whole application in process (routing, auth, queries, templates, JSON)
with an API token or a session; only the network is left out. Each call is made a few times to
warm up, then ``--rounds`` times measured. Adds a user and a token to the database it measures,
and queues/pauses/resumes one task (the actions are measured too). Results also go to
bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from smartcron.clock import SystemClock
from smartcron.config import load_settings
from smartcron.domain.enums import Role
from smartcron.store import Store, open_store
from smartcron.store.schema import alerts, executions, tasks
from smartcron.web.accounts import Accounts
from smartcron.web.app import create_app

TARGET_P95_MS = 100.0
PASSWORD = "benchmark-password"


def _subjects(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        busiest_id, runs = conn.execute(
            select(executions.c.task_id, func.count()).group_by(executions.c.task_id).order_by(func.count().desc())
        ).first() or (None, 0)
        if busiest_id is None:
            sys.exit("the database holds no executions; run bench/generate.py first")
        name = conn.execute(select(tasks.c.name).where(tasks.c.id == busiest_id)).scalar_one()
        newest = conn.execute(select(func.max(executions.c.id))).scalar_one()
        alert_id = conn.execute(select(func.max(alerts.c.id)).where(alerts.c.state == "open")).scalar_one_or_none()
        total = conn.execute(select(func.max(executions.c.id))).scalar_one()
    return {"task": name, "task_runs": runs, "execution": newest, "alert": alert_id, "executions": total}


def _calls(s: dict[str, Any]) -> list[tuple[str, str]]:
    task, run = s["task"], s["execution"]
    pages = [
        "/", "/?offset=500", "/?category=vend", "/?q=job_09", "/partials/grid",
        "/executions", "/partials/executions", f"/executions?task={task}", "/executions?status=failed",
        f"/executions/{run}", f"/partials/executions/{run}/log",
        f"/tasks/{task}", f"/partials/tasks/{task}",
        "/health", "/partials/health", "/alerts", "/partials/alerts", "/charts", "/audit", "/users",
    ]
    api = [
        "/api/v1/tasks", "/api/v1/tasks?limit=200", f"/api/v1/tasks/{task}",
        "/api/v1/executions", f"/api/v1/executions?task={task}", "/api/v1/executions?status=timeout",
        f"/api/v1/executions?before={run - 500_000}", f"/api/v1/executions/{run}", f"/api/v1/executions/{run}/log",
        "/api/v1/alerts", "/api/v1/alerts?active=true", "/api/v1/health",
        "/api/v1/metrics/cpu_percent", "/api/v1/metrics/cpu_percent?hours=720&step=3600",
        "/api/v1/stats/activity", "/api/v1/stats/activity?hours=168&bucket=3600",
        "/metrics", "/healthz", "/api/openapi.json",
    ]
    actions = [f"/api/v1/tasks/{task}/run", f"/api/v1/tasks/{task}/pause", f"/api/v1/tasks/{task}/resume"]
    if s["alert"]:
        actions.append(f"/api/v1/alerts/{s['alert']}/ack")
    return [("GET", p) for p in pages + api] + [("POST", p) for p in actions]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(url: str, *, rounds: int, warmup: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="smartcron-bench-"))
    settings = load_settings(env={"SMARTCRON_HOME": str(home), "SMARTCRON_DATABASE_URL": url})
    store = open_store(settings)
    subjects = _subjects(store)
    now = datetime.now(UTC)
    accounts = Accounts(store, actor="bench")
    stamp = str(int(time.time()))
    token, _ = accounts.create_token(f"bench-{stamp}", role=Role.ADMIN, now=now)
    accounts.add_user(f"bench-{stamp}", password=PASSWORD, role=Role.ADMIN, now=now)
    app = create_app(settings, store, clock=SystemClock())
    results: dict[str, Any] = {}
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for method, path in _calls(subjects):
            timings = []
            for index in range(warmup + rounds):
                started = time.perf_counter()
                answer = client.request(method, path)
                took = (time.perf_counter() - started) * 1000
                if answer.status_code >= 400:
                    sys.exit(f"{method} {path} answered {answer.status_code}: {answer.text[:200]}")
                if index >= warmup:
                    timings.append(took)
            results[f"{method} {path}"] = {
                "p50_ms": round(statistics.median(timings), 2),
                "p95_ms": round(_percentile(timings, 0.95), 2),
                "max_ms": round(max(timings), 2),
            }
    store.close()
    return {"database": store.url, "dialect": store.dialect, "subjects": subjects, "rounds": rounds,
            "results": results}


def report(run: dict[str, Any]) -> int:
    results = run["results"]
    width = max(len(k) for k in results)
    print(f"{run['dialect']}: {run['subjects']['executions']:,} executions; busiest task {run['subjects']['task']} "
          f"({run['subjects']['task_runs']:,} runs); {run['rounds']} measured rounds per call")
    print(f"{'call':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}")
    misses = 0
    for call, figures in results.items():
        miss = figures["p95_ms"] > TARGET_P95_MS
        misses += miss
        print(f"{call:<{width}}  {figures['p50_ms']:>8.1f}  {figures['p95_ms']:>8.1f}{'  > target' if miss else ''}")
    worst = max(results.items(), key=lambda item: item[1]["p95_ms"])
    print(f"worst p95: {worst[1]['p95_ms']:.1f} ms ({worst[0]}); {misses} of {len(results)} calls over "
          f"{TARGET_P95_MS:.0f} ms")
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="database URL (or SQLite path) filled by bench/generate.py")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    url = args.url if "://" in args.url else f"sqlite:///{args.url}"
    run = measure(url, rounds=args.rounds, warmup=args.warmup)
    report(run)
    out = Path(__file__).with_name("results.json")
    existing = json.loads(out.read_text()) if out.exists() else {}
    existing[f"dashboard:{run['dialect']}"] = run
    out.write_text(json.dumps(existing, indent=2, default=str))


if __name__ == "__main__":
    main()
