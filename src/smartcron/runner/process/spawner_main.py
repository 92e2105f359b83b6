"""The spawner: a small process that starts task processes for the runner and reaps them.

Run by the runner as ``python -S -I spawner_main.py CONTROL_FD EVENTS_FD``: no site-packages, no
smartcron, only the standard library, so it stays a few megabytes and starts in milliseconds.
It does the process work and nothing else; every decision (what to start, timeouts, output caps,
kills) stays with the runner.

Two Unix sockets (``SOCK_SEQPACKET``, one message per packet) connect it to the runner:

* control (runner -> spawner, and the spawner's answer to each request): a JSON request
  ``{"seq", "argv", "env", "cwd"}`` with the write end of the run's output pipe passed along
  (``SCM_RIGHTS``); the answer ``{"seq", "pid"}`` or ``{"seq", "errno", "step"}`` (``step`` is
  ``chdir`` or ``exec``: what failed). The first packet the spawner sends is
  ``{"hello": {"pid", "hwm_kb"}}``: its own peak memory, the floor of every child's peak (at exec
  Linux keeps the larger of the old and the new address space's high-water mark).
* events (spawner -> runner): ``{"seq", "pid", "status", "utime", "stime", "maxrss"}`` when a
  child has exited and was reaped with ``wait4``. Events carry the spawn's sequence number, so a
  pid reused by a later spawn is never mistaken for an earlier one.

The child gets its own session (``setsid``), stdin from /dev/null, stdout and stderr on the pipe,
the given environment and working directory, and default dispositions for the signals Python
ignores (SIGPIPE, SIGXFSZ). When the runner goes away (the control socket closes) the spawner
exits and leaves the children running: a runner that restarts adopts them.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import sys
from typing import Any

RESTORED_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
MAX_REQUEST = 1 << 22


def high_water_mark_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def find_executable(program: str, env: dict[str, str]) -> str | None:
    """As execvp would: the program itself when it holds a slash, else the first executable file
    of that name on the child's PATH."""
    if "/" in program:
        return program
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def spawn(request: dict[str, Any], out_fd: int, home: str) -> dict[str, Any]:
    argv = request["argv"]
    env = request["env"]
    cwd = request.get("cwd")
    executable = find_executable(argv[0], env)
    if executable is None:
        return {"errno": errno.ENOENT, "step": "exec"}
    if cwd and cwd != home:
        try:
            os.chdir(cwd)
        except OSError as exc:
            return {"errno": exc.errno, "step": "chdir"}
    try:
        pid = os.posix_spawn(
            executable,
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_fd, 1),
                (os.POSIX_SPAWN_DUP2, out_fd, 2),
            ],
            setsid=True,
            setsigdef=RESTORED_SIGNALS,
            setsigmask=(),
        )
    except OSError as exc:
        return {"errno": exc.errno, "step": "exec"}
    finally:
        if cwd and cwd != home:
            os.chdir(home)
    return {"pid": pid}


def reap(events: socket.socket, children: dict[int, int]) -> None:
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        seq = children.pop(pid, None)
        event = {
            "seq": seq,
            "pid": pid,
            "status": status,
            "utime": usage.ru_utime,
            "stime": usage.ru_stime,
            "maxrss": usage.ru_maxrss,
        }
        events.send(json.dumps(event).encode())


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    events = socket.socket(fileno=int(sys.argv[2]))
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    os.set_blocking(wake_read, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    home = os.getcwd()
    children: dict[int, int] = {}
    control.send(json.dumps({"hello": {"pid": os.getpid(), "hwm_kb": high_water_mark_kb()}}).encode())
    while True:
        try:
            readable, _, _ = select.select([control.fileno(), wake_read], [], [])
        except InterruptedError:
            continue
        if wake_read in readable:
            try:
                while os.read(wake_read, 4096):
                    pass
            except BlockingIOError:
                pass
        reap(events, children)
        if control.fileno() not in readable:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, 1)
        except InterruptedError:
            continue
        if not message:
            return  # the runner is gone; its children stay for the next runner to adopt
        request = json.loads(message)
        out_fd = fds[0] if fds else None
        try:
            answer: dict[str, Any]
            if out_fd is None:
                answer = {"errno": errno.EBADF, "step": "exec"}
            else:
                os.set_inheritable(out_fd, False)
                answer = spawn(request, out_fd, home)
        finally:
            if out_fd is not None:
                os.close(out_fd)
        answer["seq"] = request["seq"]
        if "pid" in answer:
            children[int(answer["pid"])] = int(request["seq"])
        control.send(json.dumps(answer).encode())


if __name__ == "__main__":
    main()
