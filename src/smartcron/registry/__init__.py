"""The task registry: task files applied, tasks added, edited, paused; crontabs imported."""
