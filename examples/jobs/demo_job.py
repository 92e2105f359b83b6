#!/usr/bin/env python3
"""A stand-in for one of the company's job scripts, for the example task registry.

It prints progress lines, takes about --duration seconds, and fails now and then, so the runner,
the history, the alerts and the dashboard have something real to show. Standard library only.

    python3 examples/jobs/demo_job.py --name sync_vend_inventory --duration 2 --fail-rate 0.05

The example task files run it as ``examples/jobs/demo_job.py``, a path relative to the repository
root: they set no ``working_dir``, so tasks run in the directory the runner was started from.
Start the runner from the repository root (or give the tasks a ``working_dir``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="demo_job", help="the job this run stands in for")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds of pretend work")
    parser.add_argument("--jitter", type=float, default=0.0, help="up to this fraction longer or shorter (0.2 = 20%%)")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="chance of failing with exit code 1 (0..1)")
    parser.add_argument("--seed", type=int, help="seed the random choices, to repeat a run exactly")
    parser.add_argument("--exit", dest="exit_code", type=int, help="always end with this exit code")
    parser.add_argument("--output-lines", type=int, default=5, help="progress lines to print")
    args = parser.parse_args(argv)
    if args.duration < 0 or not 0 <= args.fail_rate <= 1 or not 0 <= args.jitter < 1 or args.output_lines < 0:
        parser.error("--duration and --output-lines must not be negative; --fail-rate in 0..1; --jitter in 0..<1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    duration = args.duration * (1 + rng.uniform(-args.jitter, args.jitter))
    lines = args.output_lines
    print(f"[{args.name}] starting: about {duration:.1f}s of work", flush=True)
    steps = max(lines, 1)
    for step in range(1, steps + 1):
        time.sleep(duration / steps)
        if step <= lines:
            print(f"[{args.name}] step {step}/{lines}: processed {rng.randint(1, 500)} records", flush=True)
    if args.exit_code is not None:
        code = args.exit_code
    else:
        code = 1 if rng.random() < args.fail_rate else 0
    if code:
        print(f"[{args.name}] failed with exit code {code}", file=sys.stderr, flush=True)
    else:
        print(f"[{args.name}] done", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
