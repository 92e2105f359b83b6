"""``bench/run``: every benchmark of DESIGN 8 in one command, one table, and ``bench/results.json``.

    bench/run                       # everything, full size (minutes; the first run also generates
                                    # the 1,000,000-run dashboard histories, cached in bench/.cache)
    bench/run --quick               # a reduced version of everything, under a minute
    bench/run --only dashboard rowsize
    bench/run --quick --json-only   # the JSON on stdout, no table

Each benchmark is a module in ``bench/`` with ``figures(quick) -> list[Figure]`` (``common.py``).
Modules run one after another, each in its own interpreter, so one cannot disturb the next (memory,
threads, imports) and a crash, hang or missing module costs only its own figures: it is reported
as not available with its error, and the run goes on.

``results.json`` is an object keyed by figure name; each entry has ``value``, ``unit``,
``target``, ``better``, ``floor``, ``meets`` (true, false, or null when the figure has no target or
could not be measured; then ``value`` is null too), ``note`` and ``module``. With ``--only`` the
entries of the other modules are kept from the previous run. The exit code is 1 when a measured
figure misses its target, else 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results.json"
MODULES = (
    "lateness",
    "burst",
    "throughput",
    "run_cost",
    "tick_idle",
    "runner_rss",
    "dashboard",
    "dashboard_idle",
    "metrics",
    "rowsize",
    "alert_latency",
    "scaling",
    "cluster_soak",
)
"""In DESIGN 8's order. A module that does not exist yet is listed as not available."""
UNMEASURED: dict[str, Any] = {
    "value": None,
    "unit": "",
    "target": None,
    "better": "lower",
    "floor": None,
    "meets": None,
}
TIMEOUT_SECONDS = {True: 180, False: 3 * 3600}  # per module, quick and full


@dataclass(frozen=True, slots=True)
class ModuleRun:
    module: str
    seconds: float
    figures: list[dict[str, Any]]
    error: str | None = None
    load: float = 0.0  # the machine's 1-minute load average when the module started


def _figure_entry(figure: Any) -> dict[str, Any]:
    """A Figure as a JSON entry; a value that is not a finite number is null (not measured)."""
    value = float(figure.value)
    measured = math.isfinite(value)
    return {
        "name": figure.name,
        "value": value if measured else None,
        "unit": figure.unit,
        "target": figure.target,
        "better": figure.better,
        "floor": figure.floor,
        "meets": figure.meets if measured else None,
        "note": figure.note,
    }


def run_child(module: str, quick: bool, out: Path) -> int:
    """In the child interpreter: import the module, take its figures, write them to ``out``."""
    sys.path.insert(0, str(ROOT))  # modules import each other as ``bench.<name>``
    try:
        figures = importlib.import_module(f"bench.{module}").figures(quick)
        out.write_text(json.dumps({"figures": [_figure_entry(f) for f in figures]}))
        return 0
    except BaseException as exc:  # whatever it was (even SystemExit), the parent reports it in one line
        traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        out.write_text(json.dumps({"error": f"{type(exc).__name__}: {message}".rstrip(": ")}))
        return 1


def run_module(module: str, quick: bool, *, verbose: bool) -> ModuleRun:
    if not (BENCH / f"{module}.py").exists():
        return ModuleRun(module, 0.0, [], f"bench/{module}.py does not exist yet")
    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="smartcron-bench-run-") as folder:
        out = Path(folder) / "figures.json"
        command = [sys.executable, str(Path(__file__).resolve()), "--child", module, "--out", str(out)]
        command += ["--quick"] if quick else []
        output = None if verbose else subprocess.PIPE
        try:
            done = subprocess.run(
                command, cwd=ROOT, stdout=output, stderr=output, text=True, timeout=TIMEOUT_SECONDS[quick], check=False
            )
        except subprocess.TimeoutExpired:
            timeout = f"timed out after {TIMEOUT_SECONDS[quick]} s"
            return ModuleRun(module, time.perf_counter() - started, [], timeout, load)
        seconds = time.perf_counter() - started
        answer = json.loads(out.read_text()) if out.exists() and out.stat().st_size else {}
    if "figures" in answer:
        return ModuleRun(module, seconds, answer["figures"], load=load)
    error = answer.get("error")
    if not error:
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        error = f"exited with code {done.returncode}" + (f": {lines[-1].strip()}" if lines else "")
    return ModuleRun(module, seconds, [], error, load)


def _number(value: float) -> str:
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _table_rows(runs: list[ModuleRun]) -> list[tuple[str, str, str, str, str, str, str]]:
    rows = []
    for run in runs:
        if run.error is not None:
            rows.append((run.module, "not available", "", "", "", "-", run.error))
            continue
        for figure in run.figures:
            value, floor, target, unit = figure["value"], figure["floor"], figure["target"], figure["unit"]
            shown = "-" if value is None else f"{_number(value)} {unit}"
            bound = "" if target is None else f"{'<=' if figure['better'] == 'lower' else '>='} {_number(target)}"
            ratio = "" if value is None or not floor else f"{value / floor:.2f}"
            meets = {True: "yes", False: "NO", None: "-"}[figure["meets"]]
            rows.append((figure["name"], shown, bound, "" if floor is None else _number(floor), ratio, meets,
                         figure["note"]))  # fmt: skip
    return rows


def print_table(runs: list[ModuleRun], quick: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"smartcron benchmarks{' (quick)' if quick else ''}", show_lines=False)
    for column, justify in (("figure", "left"), ("value", "right"), ("target", "right"), ("floor", "right"),
                            ("ratio", "right"), ("meets", "center"), ("note", "left")):  # fmt: skip
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in _table_rows(runs):
        style = "red" if row[5] == "NO" else ("yellow" if row[1] == "not available" else None)
        table.add_row(*row, style=style)
    timing = ", ".join(f"{run.module} {run.seconds:.1f} s (load {run.load:.1f})" for run in runs if not run.error)
    table.caption = (
        f"ratio = value / floor (the same work without smartcron, measured in the same run); {os.cpu_count()} CPUs; "
        f"time per module (1-minute load average at its start): {timing}"
    )
    Console(width=max(160, Console().width)).print(table)


def merged_results(runs: list[ModuleRun]) -> dict[str, dict[str, Any]]:
    """The new figures, plus the previous file's entries from modules that did not run now."""
    ran = {run.module for run in runs}
    previous: dict[str, dict[str, Any]] = {}
    if RESULTS.exists():
        try:
            loaded = json.loads(RESULTS.read_text())
            previous = loaded if isinstance(loaded, dict) else {}
        except json.JSONDecodeError:
            previous = {}
    results = {
        name: entry for name, entry in previous.items() if isinstance(entry, dict) and entry.get("module") not in ran
    }
    for run in runs:
        if run.error is not None:
            note = f"not available: {run.error}"
            results[run.module] = dict(UNMEASURED, note=note, module=run.module)
        for figure in run.figures:
            entry = {key: value for key, value in figure.items() if key != "name"}
            results[figure["name"]] = entry | {"module": run.module}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a reduced version of everything, under a minute")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=MODULES, help="run only these modules")
    parser.add_argument("--json-only", action="store_true", help="print the results as JSON, no table")
    parser.add_argument("--verbose", action="store_true", help="show each module's own output as it runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child, args.quick, args.out)

    runs = []
    for module in args.only or MODULES:
        if not args.json_only:
            print(f"{module} ...", end="", file=sys.stderr, flush=True)
        run = run_module(module, args.quick, verbose=args.verbose)
        runs.append(run)
        if not args.json_only:
            print(f" {run.seconds:.1f} s" + (f" (not available: {run.error})" if run.error else ""), file=sys.stderr)
    results = merged_results(runs)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    if args.json_only:
        print(json.dumps(results, indent=2))
    else:
        print_table(runs, args.quick)
        print(f"written: {os.path.relpath(RESULTS)}", file=sys.stderr)
    missed = [f for run in runs for f in run.figures if f["meets"] is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
