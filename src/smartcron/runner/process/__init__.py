"""The life of one child process: its environment, launch, limits, output, supervision until it and
everything it started have ended, and what ``/proc`` says about it. Nothing here knows about the
database or schedules; :mod:`smartcron.runner.scheduling` decides what runs and records it."""
