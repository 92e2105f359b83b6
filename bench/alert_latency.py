"""Failure -> email accepted by the SMTP server, for a critical task, through the real runner daemon.

    .venv/bin/python bench/alert_latency.py                 # 20 failures, SQLite
    .venv/bin/python bench/alert_latency.py --runs 50 --database postgresql+psycopg://postgres@127.0.0.1/bench

Starts aiosmtpd on loopback and ``smartcron run`` in a fresh SMARTCRON_HOME, then, one after
another, registers a priority-1 task whose command exits 1, queues a run of it, and waits for the
mail. Latency is from the run's recorded end (``finished_at``) to the moment the server accepted
the message. The digest threshold is raised so every failure takes the single-alert path (a storm
is batched on purpose; that is not what this measures). Target (DESIGN 8): <= 5 s. Floor: one bare
SMTP transaction (connect, send, quit) to the same server, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.controller import Controller
from bench.common import Figure, median, percentile

from smartcron.config import load_settings
from smartcron.domain.enums import Trigger
from smartcron.domain.task import TaskSpec
from smartcron.store import open_store

SMARTCRON = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "smartcron"
TARGET_SECONDS = 5.0


class Inbox:
    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}  # subject -> wall-clock time of acceptance
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        at = time.time()
        text = envelope.original_content.decode("utf-8", "replace")
        subject = next((line[9:] for line in text.splitlines() if line.startswith("Subject: ")), "")
        with self.changed:
            self.accepted.setdefault(subject, at)
            self.changed.notify_all()
        return "250 accepted"

    def wait_for(self, subject: str, timeout: float) -> float | None:
        with self.changed:
            self.changed.wait_for(lambda: subject in self.accepted, timeout)
            return self.accepted.get(subject)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_floor(port: int, count: int) -> float:
    """Median seconds for one bare SMTP transaction (connect, send a mail, quit) to the same server:
    the part of the latency no alerting system can avoid."""
    times = []
    for i in range(count):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "bench@example.com", "ops@example.com", f"floor {i}"
        message.set_content("floor")
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
            client.send_message(message)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(runs: int, database: str | None = None) -> tuple[list[float], float, str]:
    """Latencies (seconds) of ``runs`` failures, the SMTP floor, and the database's dialect."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    home = Path(tempfile.mkdtemp(prefix="smartcron-bench-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMARTCRON_")}
    env |= {
        "SMARTCRON_HOME": str(home),
        "SMARTCRON_SMTP_HOST": "127.0.0.1",
        "SMARTCRON_SMTP_PORT": str(port),
        "SMARTCRON_ALERT_EMAIL_TO": "ops@example.com",
        "SMARTCRON_ALERT_DIGEST_THRESHOLD": "10000",
        "SMARTCRON_NODE": "bench",
    }
    if database:
        env["SMARTCRON_DATABASE_URL"] = database
    store = open_store(load_settings(env=env))
    store.upgrade()
    daemon = subprocess.Popen([str(SMARTCRON), "run", "--quiet"], env=env, stdout=subprocess.DEVNULL)
    latencies: list[float] = []
    try:
        floor = smtp_floor(port, 5)
        for i in range(runs):
            name = f"bench_payroll_{i:03d}"
            now = store.database_now()
            task = store.tasks.add(
                TaskSpec(name=name, category="bench", command=("sh", "-c", "exit 1"), schedule="0 0 1 1 *",
                         priority=1, retries=0),
                now=now,
                next_run_at=datetime(2100, 1, 1, tzinfo=UTC),
            )  # fmt: skip
            execution_id = store.executions.enqueue(task.id, scheduled_for=now, trigger=Trigger.MANUAL)
            accepted = inbox.wait_for(f"[smartcron CRITICAL] bench/{name} failed (exit 1)", timeout=120)
            finished_at = store.executions.get(execution_id).finished_at
            if accepted is None or finished_at is None:
                raise RuntimeError(f"run {i}: no mail within 120 s")
            latencies.append(accepted - finished_at.timestamp())
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=60)
        controller.stop()
        dialect = store.dialect
        store.close()
        shutil.rmtree(home, ignore_errors=True)
    return latencies, floor, dialect


def figures(quick: bool) -> list[Figure]:
    latencies, floor, dialect = measure(3 if quick else 20)
    note = (
        f"{len(latencies)} critical failures on {dialect}, run's end -> SMTP server accepted; floor: a bare SMTP send"
    )
    return [
        Figure("alerts.email_latency_median_s", round(median(latencies), 3), "s", TARGET_SECONDS,
               floor=round(floor, 4), note=note),
        Figure("alerts.email_latency_p95_s", round(percentile(latencies, 0.95), 3), "s", TARGET_SECONDS,
               floor=round(floor, 4), note=f"max {max(latencies):.3f} s"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in the temporary home)")
    args = parser.parse_args()
    latencies, floor, dialect = measure(args.runs, args.database)
    p50, p95 = median(latencies), percentile(latencies, 0.95)
    print(f"critical failure -> email accepted, {len(latencies)} runs on {dialect}:")
    print(f"  median {p50:.3f} s   p95 {p95:.3f} s   max {max(latencies):.3f} s   (target <= {TARGET_SECONDS:g} s)")
    print(f"  floor: one bare SMTP transaction to the same server takes {floor * 1000:.1f} ms")
    return 0 if p95 <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
