"""The runner's side of the spawner process (:mod:`.spawner_main`).

Starting a process from the runner itself costs it dearly: ``posix_spawn`` holds the interpreter
lock through vfork and exec, the supervisor and recorder threads wait meanwhile, and every child
starts with the runner's own peak memory as its peak (at exec Linux keeps the larger high-water
mark), so a small task's peak cannot be known. So a small helper process, started once, does the
spawning and the reaping; this class talks to it over two Unix sockets:

* :meth:`Spawner.stream` (the runner's loop) sends one request per run as each is prepared, with
  the write end of the run's output pipe, and reads the answers (``spawn_many`` for a list);
* :meth:`Spawner.read_events` (the supervisor's thread, whose selector watches ``events_fd``)
  reads the exits the spawner reaped: status, CPU times, peak memory.

If the spawner dies, ``read_events`` says so (None); the supervisor ends every run it had started
(they are not ours to reap, and nobody reports on them any more) and the next spawn starts a new
spawner.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SPAWNER_MAIN = Path(__file__).with_name("spawner_main.py")
PIPELINE = 32
"""Requests in flight at once: enough to keep the spawner busy, too few to fill a socket buffer
(the spawner would block answering while the runner blocks sending)."""
MAX_PACKET = 1 << 22


class SpawnerGoneError(Exception):
    """The spawner process is not there (it died, or was never started)."""


@dataclass(frozen=True, slots=True)
class SpawnRequest:
    seq: int
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: str | None
    out_fd: int
    """The write end of the run's output pipe (the spawner gets a copy; the caller keeps its own)."""


@dataclass(frozen=True, slots=True)
class SpawnAnswer:
    seq: int
    pid: int | None
    errno: int | None = None
    step: str | None = None
    """``exec`` or ``chdir``: what failed when ``pid`` is None."""


@dataclass(frozen=True, slots=True)
class ExitEvent:
    seq: int
    pid: int
    status: int
    utime: float
    stime: float
    maxrss_kb: int


class Spawner:
    def __init__(self) -> None:
        self._control: socket.socket | None = None
        self._events: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # spawns come from one thread at a time
        self.hwm_kb = 0
        """The spawner's own peak memory (KiB): the floor of every child's reported peak."""
        self.pid = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def events_fd(self) -> int:
        if self._events is None:
            raise SpawnerGoneError("the spawner is not running")
        return self._events.fileno()

    def start(self) -> None:
        """Start the spawner process and wait for its hello."""
        control, control_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        events, events_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-S",
                    "-I",
                    str(SPAWNER_MAIN),
                    str(control_child.fileno()),
                    str(events_child.fileno()),
                ],
                pass_fds=(control_child.fileno(), events_child.fileno()),
                stdin=subprocess.DEVNULL,
                cwd=os.getcwd(),
                env={"PATH": os.environ.get("PATH", os.defpath)},
            )
        finally:
            control_child.close()
            events_child.close()
        hello = json.loads(control.recv(MAX_PACKET) or b"{}").get("hello")
        if not hello:
            control.close()
            events.close()
            raise SpawnerGoneError("the spawner did not start")
        events.setblocking(False)
        self._control, self._events = control, events
        self.hwm_kb = int(hello["hwm_kb"])
        self.pid = int(hello["pid"])

    def spawn_many(self, requests: Sequence[SpawnRequest]) -> list[SpawnAnswer]:
        """Start these runs; one answer per request, in order. Raises SpawnerGoneError when the
        spawner died (the caller treats every request not answered as not started)."""
        stream = self.stream()
        for request in requests:
            stream.send(request)
        answers = stream.finish()
        if stream.gone is not None:
            raise stream.gone
        return answers

    def stream(self) -> SpawnStream:
        """Requests sent one by one as the caller prepares them (the spawner starts the first
        while the next is prepared), answers read as the window fills and at ``finish``. Spawns
        come from one stream at a time: the next waits until this one is finished."""
        self._lock.acquire()
        return SpawnStream(self)

    def _send(self, request: SpawnRequest) -> None:
        control = self._control
        if control is None:
            raise SpawnerGoneError("the spawner is not running")
        message = {"seq": request.seq, "argv": list(request.argv), "env": dict(request.env), "cwd": request.cwd}
        try:
            socket.send_fds(control, [json.dumps(message).encode()], [request.out_fd])
        except OSError as exc:
            raise SpawnerGoneError(f"the spawner is gone: {exc}") from exc

    def _receive(self) -> SpawnAnswer:
        control = self._control
        if control is None:
            raise SpawnerGoneError("the spawner is not running")
        try:
            packet = control.recv(MAX_PACKET)
        except OSError as exc:
            raise SpawnerGoneError(f"the spawner is gone: {exc}") from exc
        if not packet:
            raise SpawnerGoneError("the spawner closed its socket")
        answer = json.loads(packet)
        return SpawnAnswer(int(answer["seq"]), answer.get("pid"), answer.get("errno"), answer.get("step"))

    def read_events(self) -> list[ExitEvent] | None:
        """The exits reaped since the last call; None when the spawner has gone away."""
        events = self._events
        if events is None:
            return None
        found: list[ExitEvent] = []
        while True:
            try:
                packet = events.recv(MAX_PACKET)
            except BlockingIOError:
                return found
            except OSError:
                return found or None
            if not packet:
                return found or None
            event = json.loads(packet)
            found.append(
                ExitEvent(
                    int(event["seq"]) if event.get("seq") is not None else -1,
                    int(event["pid"]),
                    int(event["status"]),
                    float(event["utime"]),
                    float(event["stime"]),
                    int(event["maxrss"]),
                )
            )

    def close(self, timeout: float = 10.0) -> None:
        """End the spawner (its children are left alone) and close the sockets."""
        for sock in (self._control, self._events):
            if sock is not None:
                sock.close()
        self._control = self._events = None
        if self._process is not None:
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                self._process.wait()
            self._process = None

    def forget(self) -> None:
        """After the spawner died: close what is left, so the next ``start`` begins afresh."""
        self.close(timeout=5.0)


class SpawnStream:
    """One batch of requests on its way to the spawner (:meth:`Spawner.stream`). At most
    ``PIPELINE`` wait for their answer at a time: the spawner always has the next request, and
    never blocks answering while the runner blocks sending."""

    def __init__(self, spawner: Spawner, *, gone: SpawnerGoneError | None = None) -> None:
        self._spawner = spawner
        self._sent = 0
        self._open = gone is None  # holds the spawner's lock (a stream born gone never took it)
        self.answers: list[SpawnAnswer] = []
        self.gone = gone
        """Set when the spawner went away: requests sent and not answered did not start."""

    def send(self, request: SpawnRequest) -> None:
        if self.gone is not None:
            return
        try:
            while self._sent - len(self.answers) >= PIPELINE:
                self.answers.append(self._spawner._receive())
            self._spawner._send(request)
            self._sent += 1
        except SpawnerGoneError as exc:
            self.gone = exc

    def finish(self) -> list[SpawnAnswer]:
        """Every answer (read the rest); lets the next stream go."""
        try:
            while self.gone is None and len(self.answers) < self._sent:
                self.answers.append(self._spawner._receive())
        except SpawnerGoneError as exc:
            self.gone = exc
        finally:
            if self._open:
                self._open = False
                self._spawner._lock.release()
        return self.answers
