"""This host's processes of a run, found through Linux ``/proc``: its driver, and every
process its steps started.

A step process is recognised by where it works, whatever the catalog says about its
step: its environment names the step's run context file (``DATAFERRY_RUN_CONTEXT``,
which every process a step starts inherits), or its working folder is inside the step's
``wd``. Where ``/proc`` is missing nothing is found, and a recorded pid that exists is
taken to be what it was recorded as.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.execution import run_layout

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

RUN_CONTEXT_ENV = "DATAFERRY_RUN_CONTEXT"
DRIVER_MODULE = "dataferry.execution.driver"
# what a process that changed a run's row sends its driver (which handles it, and
# wakes). Ignored by default: a driver still starting (its pid is recorded by submit)
# is not killed by it, and reads the row on its first check anyway.
NUDGE_SIGNAL = signal.SIGURG
_PROC = Path("/proc")


def pid_is_driver(pid: int, run_id: str) -> bool:
    """True while ``pid`` is the driver of ``run_id`` (a zombie or a reused pid is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return True  # no /proc to ask: the pid exists, assume it is the driver
    return _drives(cmdline, run_id)


def nudge_driver(run_id: str, host: str | None, pid: int | None) -> bool:
    """Wake the driver of ``run_id`` (``NUDGE_SIGNAL``) if it runs on this host, so it
    reads the run's row now rather than at its next check; True if it was signalled.

    A driver elsewhere, gone, or not ours to signal reads the row on its next check.
    """
    if pid is None or host != socket.gethostname() or not pid_is_driver(pid, run_id):
        return False
    try:
        os.kill(pid, NUDGE_SIGNAL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def find_driver(run_id: str) -> int | None:
    """The pid of a process on this host that drives ``run_id``, if there is one."""
    for pid in _pids():
        try:
            cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue  # gone, or not ours to look at
        if _drives(cmdline, run_id):
            return pid
    return None


def _drives(cmdline: bytes, run_id: str) -> bool:
    args = cmdline.split(b"\0")
    return DRIVER_MODULE.encode() in args and run_id.encode() in args


def step_processes(run_folder: Path) -> list[int]:
    """Processes working for a step of the run whose folder is ``run_folder``.

    The process asking, and the processes it descends from, never count (a user may
    resume from inside a step's folder).
    """
    folder = os.path.realpath(run_folder)
    spared = _ancestry(os.getpid())
    found = []
    for pid in _pids():
        if pid not in spared and _works_in(pid, folder):
            found.append(pid)
    return found


def _works_in(pid: int, run_folder: str) -> bool:
    """True if ``pid``'s environment or working folder places it in a step of the run."""
    try:
        environ = (_PROC / str(pid) / "environ").read_bytes()
        cwd = os.readlink(_PROC / str(pid) / "cwd")
    except OSError:
        return False  # gone, or not ours to look at
    prefix = RUN_CONTEXT_ENV.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            context = os.path.realpath(os.fsdecode(entry[len(prefix) :]))
            if run_layout.run_dir_of_context(context) == run_folder:
                return True
    # <run folder>/<step run>/wd is where a step is started
    parts = Path(cwd).parts[len(Path(run_folder).parts) :]
    return (
        cwd.startswith(run_folder + "/")
        and len(parts) >= 2
        and parts[1] == run_layout.WORK_DIR
    )


def stop_processes(pids: Iterable[int], *, wait_s: float) -> list[int]:
    """SIGKILL ``pids`` and their process groups; return those still running after ``wait_s``.

    A step runs in its own process group, so killing the group also reaches children
    that left the step's folder and cleared their environment.
    """
    own_group = os.getpgrp()
    groups = set()
    targets = set(pids)
    for pid in targets:
        try:
            group = os.getpgid(pid)
            if group != own_group:
                groups.add(group)
                os.killpg(group, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    # wait until they are gone: a process still writing would race what comes next
    deadline = time.monotonic() + wait_s
    while True:
        left = sorted(p for p in targets | _members(groups) if is_running(p))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie no longer writes)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp, ...)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _members(groups: set[int]) -> set[int]:
    if not groups:
        return set()
    members = set()
    for pid in _pids():
        fields = _stat(pid)
        if fields is not None and int(fields[2]) in groups:
            members.add(pid)
    return members


def _ancestry(pid: int) -> set[int]:
    """``pid`` and every process it descends from."""
    chain = set()
    while pid > 0 and pid not in chain:
        chain.add(pid)
        fields = _stat(pid)
        if fields is None:
            break
        pid = int(fields[1])
    return chain


def _pids() -> Iterator[int]:
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return
    own = os.getpid()
    for entry in entries:
        if entry.name.isdigit() and int(entry.name) != own:
            yield int(entry.name)
