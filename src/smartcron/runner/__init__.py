"""The runner: plans due slots, claims them, runs each task in its own process and records the run."""
