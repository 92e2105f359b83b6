"""Daemon start lateness: how long after its slot a task's process exists (DESIGN 8: p99 <= 10 ms).

    .venv/bin/python bench/lateness.py                 # 10 tasks every second, 30 slots
    .venv/bin/python bench/lateness.py --slots 60 --registered 10000

Ten tasks with a six-field schedule fire every second; the daemon (in this process, real clock,
real processes, logging as in production, background chores on) runs them for a number of slots.
A run's lateness is the time from its slot to the moment its spawn call returned (the process
exists and has exec'ed). Other tasks, registered but not due, show how lateness grows with the
registry.

The floor: the same work without smartcron. A plain Python loop in its own process sleeps on the
monotonic clock until each instant (waking 2 ms early and closing in by 0.1 ms sleeps, as the
daemon does) and starts the same ten processes one after another with ``os.posix_spawn``,
measuring each one's lateness the same way. It runs at the same time as the daemon, on instants a
quarter of a second after the daemon's slots (the daemon claims the next slot half a second
ahead), so the two share the machine's state without fighting over the same milliseconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, median, percentile
from bench.runner_home import BenchDaemon, bench_home, bench_settings, open_bench_store, register, trivial_tasks

from smartcron.runner.process.env import SCHEDULED_FOR_VARIABLE
from smartcron.runner.process.supervisor import ProcessSpec

DUE_EACH_SLOT = 10
LEAD_SECONDS = 2.0
TARGET_P99_MS = 10.0
GROWTH = (100, 1000, 10000)

FLOOR_OFFSET = 0.25
FLOOR_LOOP = """
import json, os, shutil, sys, time
instants, per_instant = json.loads(sys.argv[1]), int(sys.argv[2])  # wall-clock seconds
program = shutil.which("true")
late = []
for instant in instants:
    target = time.monotonic() + (instant - time.time())
    while (left := target - time.monotonic()) > 0.002:  # as the daemon: wake early, close in
        time.sleep(left - 0.002)
    while target - time.monotonic() > 0:
        time.sleep(0.0001)
    pids = []
    for _ in range(per_instant):
        pids.append(os.posix_spawn(program, ["true"], os.environ, setsid=True))
        late.append(time.time() - instant)
    for pid in pids:
        os.waitpid(pid, 0)
print(json.dumps(late))
"""


@dataclass(frozen=True, slots=True)
class Lateness:
    registered: int
    late: list[float]  # seconds, one per run
    floor: list[float]  # seconds, one per process the floor loop started


class Spawns:
    def __init__(self) -> None:
        self.changed = threading.Condition()
        # perf_counter and the wall clock differ by a constant here; take it once.
        self.offset = time.time() - time.perf_counter()
        self.late: list[tuple[datetime, float]] = []

    def spawned(self, spec: ProcessSpec, _begun: float, returned: float) -> None:
        slot = datetime.fromisoformat(spec.env[SCHEDULED_FOR_VARIABLE])
        with self.changed:
            self.late.append((slot, returned + self.offset - slot.timestamp()))
            self.changed.notify_all()

    def wait_for_slot(self, slot: datetime, runs: int, timeout: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: sum(1 for s, _ in self.late if s == slot) >= runs, timeout)


def measure(slots: int, registered: int = 1000) -> Lateness:
    with bench_home("lateness") as home:
        settings = bench_settings(home)
        store = open_bench_store(settings)
        try:
            first = datetime.now(UTC).replace(microsecond=0) + timedelta(
                seconds=int(LEAD_SECONDS + 1 + registered / 5000)
            )
            idle = max(0, registered - DUE_EACH_SLOT)
            register(store, trivial_tasks(idle, prefix="idle"), next_run_at=first + timedelta(days=300))
            register(store, trivial_tasks(DUE_EACH_SLOT, prefix="second", schedule="* * * * * *"), next_run_at=first)
            instants = [(first + timedelta(seconds=i)).timestamp() for i in range(slots)]
            spawns = Spawns()
            with BenchDaemon(settings, store, home=home, on_spawn=spawns.spawned):
                floor_instants = [instant + FLOOR_OFFSET for instant in instants]
                floor_loop = subprocess.Popen(
                    [sys.executable, "-c", FLOOR_LOOP, json.dumps(floor_instants), str(DUE_EACH_SLOT)],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                floor_output, _ = floor_loop.communicate(timeout=slots + registered / 1000 + 60)
                last = first + timedelta(seconds=slots - 1)
                spawns.wait_for_slot(last, DUE_EACH_SLOT, timeout=10)
        finally:
            store.close()
    late = [seconds for slot, seconds in spawns.late if first <= slot <= last]
    if len(late) < DUE_EACH_SLOT * slots:
        raise RuntimeError(f"{len(late)} runs started in {slots} slots of {DUE_EACH_SLOT} tasks")
    return Lateness(registered, late, json.loads(floor_output))


def figures(quick: bool) -> list[Figure]:
    result = measure(6 if quick else 30)
    ms = 1000.0
    note = f"{DUE_EACH_SLOT} tasks every second, {len(result.late) // DUE_EACH_SLOT} slots, 1,000 tasks registered"
    figures_ = [
        Figure("daemon.lateness_p50_ms", median(result.late) * ms, "ms", None, floor=median(result.floor) * ms,
               note=note),
        Figure("daemon.lateness_p99_ms", percentile(result.late, 0.99) * ms, "ms", TARGET_P99_MS,
               floor=percentile(result.floor, 0.99) * ms, note=note),
    ]  # fmt: skip
    if not quick:
        for registered in GROWTH:
            grown = result if registered == result.registered else measure(15, registered)
            figures_.append(
                Figure(f"daemon.lateness_p99_ms@{registered}", percentile(grown.late, 0.99) * ms, "ms", None,
                       floor=percentile(grown.floor, 0.99) * ms, note=f"{registered} tasks registered")
            )  # fmt: skip
    return figures_


def report(result: Lateness) -> None:
    ms = 1000.0
    print(f"lateness: {DUE_EACH_SLOT} tasks every second, {len(result.late)} runs, {result.registered} registered")
    print(f"{'':24} {'p50':>8} {'p99':>8} {'max':>8}")
    for label, values in (("daemon", result.late), ("floor (same spawns, no smartcron)", result.floor)):
        print(f"{label:24} {median(values) * ms:6.2f}ms {percentile(values, 0.99) * ms:6.2f}ms "
              f"{max(values) * ms:6.2f}ms")  # fmt: skip
    print(f"target: p99 <= {TARGET_P99_MS:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=30)
    parser.add_argument("--registered", type=int, default=1000, help="tasks in the registry (10 of them due)")
    arguments = parser.parse_args()
    report(measure(arguments.slots, arguments.registered))


if __name__ == "__main__":
    main()
