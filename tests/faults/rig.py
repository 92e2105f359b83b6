"""One fault test's world: a database of its own, a proxy per node in front of it, real daemons.

Every process a rig starts runs in a session of its own (so ``kill -9`` of its process group
reaches the daemon, its spawner and nothing of the test's) and carries ``SMARTCRON_FAULT_RUN=<id>``
in its environment, which task processes inherit. :meth:`FaultRig.leftovers` finds what is still
alive with that marker; :meth:`FaultRig.close` ends only those processes, by pid, and drops the
database.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy.engine import make_url

from smartcron.domain.enums import ExecutionStatus
from smartcron.domain.execution import Execution
from smartcron.domain.task import Task, TaskSpec
from smartcron.store import Store
from smartcron.store.engine import create_store_engine
from tests.conftest import drop_server_database, make_database_url
from tests.faults.proxy import TcpProxy

MARKER = "SMARTCRON_FAULT_RUN"
CHILD_PATH = "/usr/local/bin:/usr/bin:/bin"
HEARTBEAT = 1.0
LEASE = 5.0
BOUND = 90.0  # a bound only a hang reaches; never a performance assertion


@dataclass
class Node:
    """One ``smartcron run`` daemon (or any smartcron command) of the rig, under its own name."""

    name: str
    home: Path
    env: dict[str, str]
    proxy: TcpProxy | None
    process: subprocess.Popen[bytes] | None = None
    started: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.process is not None, f"node {self.name} was never started"
        return self.process.pid

    @property
    def master_log(self) -> str:
        path = self.home / "logs" / "master.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def output(self) -> str:
        path = self.home / "daemon.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """``kill -9`` of the daemon's process group (the daemon and its spawner; tasks have groups of their own)."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM, and the exit status once it ended."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=BOUND)

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)


class FaultRig:
    def __init__(self, backend: str, tmp_path: Path) -> None:
        self.backend = backend
        self.tmp_path = tmp_path
        self.run_id = uuid.uuid4().hex[:12]
        self.url = make_database_url(backend, tmp_path, suffix=f"_fault_{self.run_id}")
        self.store = Store(create_store_engine(self.url))
        self.store.upgrade()
        self.nodes: dict[str, Node] = {}
        self._proxies: list[TcpProxy] = []

    # -- nodes -------------------------------------------------------------------------------

    def node(self, name: str, *, proxied: bool = True, **settings: Any) -> Node:
        """A node's home, environment and (``proxied``) its own proxy to the database; not started."""
        home = self.tmp_path / name
        home.mkdir(parents=True, exist_ok=True)
        proxy = None
        url = self.url
        if proxied and self.backend != "sqlite":
            proxy = TcpProxy(*self._server_address()).__enter__()
            self._proxies.append(proxy)
            url = make_url(self.url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        values: dict[str, Any] = {
            "database_url": url,
            "node": name,
            "timezone": "UTC",
            "runner_heartbeat_interval": HEARTBEAT,
            "runner_lease_seconds": LEASE,
            "runner_shutdown_grace": 2,
        }
        values.update(settings)
        env = {"PATH": CHILD_PATH, "LANG": "C.UTF-8", "SMARTCRON_HOME": str(home), MARKER: self.run_id}
        env.update({f"SMARTCRON_{key.upper()}": _setting(value) for key, value in values.items()})
        node = Node(name, home, env, proxy)
        self.nodes[name] = node
        return node

    def start(self, node: Node, *args: str, file_size_limit: int | None = None) -> Node:
        """Start ``smartcron ARGS`` (default ``run -q``) as ``node``, in a session of its own;
        ``file_size_limit``: no file it writes grows past this many bytes (a full disk)."""

        def limit() -> None:
            if file_size_limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))

        with open(node.home / "daemon.out", "ab") as sink:
            node.process = subprocess.Popen(
                [sys.executable, "-m", "smartcron", *(args or ("run", "-q"))],
                env=node.env,
                cwd=node.home,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=limit if file_size_limit is not None else None,
            )
        node.started.append(node.process.pid)
        return node

    def daemon(self, name: str, **settings: Any) -> Node:
        return self.start(self.node(name, **settings))

    def wait_up(self, node: Node) -> Node:
        """Until the daemon's heartbeat names its current pid: it is past start-up and recovery."""
        wait_for(
            lambda: any(beat.name == node.name and beat.pid == node.pid for beat in self.store.nodes.all()),
            f"node {node.name} up",
        )
        return node

    def _server_address(self) -> tuple[str, int]:
        parsed = make_url(self.url)
        return parsed.host or "127.0.0.1", int(parsed.port or (5432 if self.backend == "postgresql" else 3306))

    # -- tasks and rows ----------------------------------------------------------------------

    def add_task(self, name: str, command: tuple[str, ...], *, schedule: str, **spec: Any) -> Task:
        now = datetime.now(UTC)
        return self.store.tasks.add(
            TaskSpec(name=name, command=command, schedule=schedule, **spec), now=now, next_run_at=now
        )

    def rows(self, task: Task) -> list[Execution]:
        """The task's rows, oldest slot first."""
        found = self.store.executions.list(task_id=task.id, limit=100_000)
        return sorted(found, key=lambda e: (e.scheduled_for, e.attempt, e.id))

    def all_rows(self) -> list[Execution]:
        return sorted(self.store.executions.list(limit=100_000), key=lambda e: e.id)

    def duplicate_successes(self) -> list[tuple[str, datetime]]:
        """Slots with more than one successful run: always a defect (DESIGN 3.1)."""
        ok = Counter((r.task_name, r.scheduled_for) for r in self.all_rows() if r.status is ExecutionStatus.SUCCESS)
        return [slot for slot, count in ok.items() if count > 1]

    def live_rows(self) -> list[Execution]:
        return [r for r in self.all_rows() if r.status in (ExecutionStatus.RUNNING, ExecutionStatus.SCHEDULED)]

    # -- processes ---------------------------------------------------------------------------

    def leftovers(self) -> list[str]:
        """Processes still alive that this rig started (directly or through a daemon), as ``pid name``."""
        needle = f"{MARKER}={self.run_id}".encode()
        found = []
        for process in psutil.process_iter(["pid", "name"]):
            with contextlib.suppress(psutil.Error, OSError):
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                if needle in Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0"):
                    found.append(f"{process.pid} {process.info['name']}")
        return found

    def wait_no_leftovers(self, bound: float = 15.0) -> list[str]:
        """What is left once ``bound`` seconds passed with something still alive (the usual answer: [])."""
        deadline = time.monotonic() + bound
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def close(self) -> None:
        for node in self.nodes.values():
            if node.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, signal.SIGCONT)
                    os.killpg(node.pid, signal.SIGKILL)
                assert node.process is not None
                node.process.wait(timeout=30)
        # Whatever the daemons left (a failed test's tasks), by pid, only ours.
        for entry in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.split()[0]), signal.SIGKILL)
        for proxy in self._proxies:
            proxy.__exit__(None, None, None)
        self.store.engine.dispose()
        if self.backend != "sqlite":
            drop_server_database(self.backend, make_url(self.url).database or "")


def _setting(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def wait_for(condition: Callable[[], Any], what: str, bound: float = BOUND) -> Any:
    """Poll ``condition`` until it is truthy; its value. ``bound`` is reached only by a hang."""
    deadline = time.monotonic() + bound
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {bound:.0f} s waiting for {what}")
        time.sleep(0.05)
    return value
