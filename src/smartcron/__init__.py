"""smartcron: the scheduler for businesses that run on cron jobs."""

__version__ = "0.1.0"
