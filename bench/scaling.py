"""How the dashboard's p95 and the bytes per execution row grow with the number of tasks.

    .venv/bin/python bench/scaling.py            # 100, 1,000 and 10,000 tasks

For each size, the same number of executions (so only the task count changes): the calls whose
work depends on the number of tasks (task grid, task list, health scorecard, Prometheus metrics,
activity) are timed on SQLite as ``bench/dashboard.py`` times them, and rows are written and
measured as ``bench/rowsize.py`` does. Reported for information (no target): a figure that grows
with the task count shows a per-task cost somewhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dashboard, rowsize
from bench.common import Figure

TASK_COUNTS = {True: (100, 10_000), False: (100, 1_000, 10_000)}
EXECUTIONS = {True: 10_000, False: 200_000}
ROWS = {True: 2_000, False: 30_000}  # the row size does not depend on how many tasks ran
EFFORT = {True: dashboard.Effort(rounds=3, warmup=1, floor_replays=1), False: dashboard.Effort(25, 2, 3)}
CALLS = (
    "grid",
    "grid_partial",
    "runs",
    "task",
    "health",
    "api_tasks",
    "api_tasks_200",
    "api_health",
    "api_activity",
    "metrics",
)
"""The calls whose work can depend on the number of tasks."""
QUICK_CALLS = ("grid", "api_tasks_200", "health", "metrics")


def figures(quick: bool) -> list[Figure]:
    out = []
    for tasks in TASK_COUNTS[quick]:
        with dashboard.sqlite_copy(tasks, EXECUTIONS[quick]) as url:
            run = dashboard.measure(url, EFFORT[quick], only=QUICK_CALLS if quick else CALLS)
        label, worst = run.worst
        out.append(
            worst.p95_figure(
                f"scaling.dashboard_p95_ms_{tasks}_tasks",
                None,
                f"worst of {len(run.calls)} calls: {label}; {run.executions:,} executions on SQLite, "
                f"{run.rounds} rounds, load average {run.load[0]:.1f} -> {run.load[1]:.1f}; "
                f"metrics first scrape {run.calls['metrics'].first_ms:.0f} ms",
            )
        )
        size = rowsize.measure(ROWS[quick], tasks)
        out.append(
            Figure(
                f"scaling.bytes_per_execution_{tasks}_tasks",
                round(size.total, 1),
                "B",
                None,
                floor=round(size.raw_values, 1),
                note=f"{size.rows:,} rows after VACUUM",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 and 10,000 tasks, fewer rows and rounds")
    args = parser.parse_args()
    for figure in figures(quick=args.quick):
        print(f"{figure.name:<45} {figure.value:>10,.1f} {figure.unit:<3} {figure.note}")


if __name__ == "__main__":
    main()
