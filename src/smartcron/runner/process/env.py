"""What a task process gets: its environment, working directory, log file and header line.

The environment is the runner's own, plus the task's ``env``, plus four variables smartcron sets
(they win over inherited ones, so a runner started from inside a task cannot pass its parent's id
on): ``SMARTCRON_EXECUTION_ID`` (recovery finds a run's processes by it), ``SMARTCRON_TASK``,
``SMARTCRON_SCHEDULED_FOR`` (the slot, ISO 8601 UTC), ``SMARTCRON_ATTEMPT`` and
``SMARTCRON_INSTALLATION`` (which database the run belongs to).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from smartcron.config import Settings
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task, TaskSpec
from smartcron.logs import task_log_path
from smartcron.runner.process.procinfo import EXECUTION_ID_VARIABLE, TASK_NAME_VARIABLE
from smartcron.runner.process.supervisor import ProcessSpec

SCHEDULED_FOR_VARIABLE = "SMARTCRON_SCHEDULED_FOR"
ATTEMPT_VARIABLE = "SMARTCRON_ATTEMPT"
INSTALLATION_VARIABLE = "SMARTCRON_INSTALLATION"
"""Names the database a run belongs to, so recovery never takes another installation's process
(another smartcron on this machine numbers its runs from 1 too) for one of its own."""


@functools.lru_cache(maxsize=8)
def installation_id(database_url: str) -> str:
    """A short stable name of the installation: a hash of its database URL without the password
    (kept: every spawn asks, and parsing the URL each time cost a tenth of a millisecond)."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is refused at start; here any stable text will do
        shown = database_url
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


def task_environment(
    base: Mapping[str, str], spec: TaskSpec, execution: Execution, *, installation: str | None = None
) -> dict[str, str]:
    env = dict(base)
    env.update(spec.env)
    if installation is not None:
        env[INSTALLATION_VARIABLE] = installation
    env[EXECUTION_ID_VARIABLE] = str(execution.id)
    env[TASK_NAME_VARIABLE] = spec.name
    env[SCHEDULED_FOR_VARIABLE] = execution.scheduled_for.isoformat()
    env[ATTEMPT_VARIABLE] = str(execution.attempt)
    return env


def log_header(spec: TaskSpec, execution: Execution, started_at: datetime, zone: ZoneInfo) -> str:
    """``=== 2026-11-27T10:00:00+13:00 sync_vend_inventory execution 123 attempt 0 (schedule) ===``.

    The start time is local to the task's zone; ``smartcron logs`` finds a run by this line.
    """
    when = started_at.astimezone(zone).isoformat(timespec="seconds")
    return f"=== {when} {spec.name} execution {execution.id} attempt {execution.attempt} ({execution.trigger}) ==="


def task_zone(spec: TaskSpec, settings: Settings) -> ZoneInfo:
    return ZoneInfo(spec.timezone or settings.timezone)


def process_spec(
    settings: Settings,
    task: Task,
    execution: Execution,
    *,
    base_env: Mapping[str, str],
    default_cwd: str,
    now: datetime,
) -> ProcessSpec:
    """The process to start for ``execution`` of ``task``."""
    spec = task.spec
    return ProcessSpec(
        execution_id=execution.id,
        task_name=spec.name,
        argv=spec.command,
        shell=spec.shell,
        cwd=spec.working_dir or default_cwd,
        env=task_environment(base_env, spec, execution, installation=installation_id(settings.database_url)),
        timeout=float(spec.timeout) if spec.timeout > 0 else None,
        kill_grace=float(spec.kill_grace),
        max_memory_mb=spec.max_memory_mb,
        max_cpu_seconds=spec.max_cpu_seconds,
        nice=spec.nice,
        log_path=task_log_path(settings.log_dir, spec.category, spec.name),
        header=log_header(spec, execution, now, task_zone(spec, settings)),
        preview_bytes=settings.runner_output_preview_kb * 1024,
        max_output_bytes=spec.max_output_kb * 1024,
    )
