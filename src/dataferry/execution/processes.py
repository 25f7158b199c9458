"""This host's processes of a run, found through psutil (Linux, macOS): its driver, and
every process its steps started.

A step process is recognised by where it works, whatever the catalog says about its
step: its environment names the step's run context file (``DATAFERRY_RUN_CONTEXT``,
which every process a step starts inherits), or its working folder is inside the step's
``wd``. A driver is the process its run's ``driver.pid`` names (pid and start time), or
one whose command line is ``python -m dataferry.execution.driver WS RUN``. A process
this user may not inspect is never taken for one of the run's.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from dataferry.execution import run_layout
from dataferry.storage import process_identity

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

RUN_CONTEXT_ENV = "DATAFERRY_RUN_CONTEXT"
DRIVER_MODULE = "dataferry.execution.driver"
# what a process that changed a run's row sends its driver (which handles it, and
# wakes). Ignored by default: a driver still starting (its pid is already known)
# is not killed by it, and reads the row on its first check anyway.
NUDGE_SIGNAL = signal.SIGURG
# psutil's errors for a process that is gone, or not ours to look at
_UNREADABLE = (psutil.NoSuchProcess, psutil.AccessDenied)


def mark_driver(run_folder: Path) -> None:
    """Record this process as the driver of the run in ``run_folder``: its pid and start
    time (seconds since the epoch), written whole (a temporary file renamed over ``driver.pid``).

    A forked driver has its submitter's command line, so the command line cannot tell
    it; pid and start time together name one process, never a later one with that pid.
    """
    pid = os.getpid()
    mark = run_layout.driver_mark(run_folder)
    mark.parent.mkdir(parents=True, exist_ok=True)
    draft = mark.with_name(f"{mark.name}.{pid}")
    draft.write_text(f"{pid} {process_identity.started_at(pid) or 0.0:.3f}\n")
    os.replace(draft, mark)


def marked_pid(run_folder: Path) -> int | None:
    """The pid ``driver.pid`` names, running or not; None if there is none."""
    mark = _read_mark(run_folder)
    return mark[0] if mark is not None else None


def marked_driver(run_folder: Path) -> int | None:
    """The pid ``driver.pid`` names if that process still runs (same start time)."""
    mark = _read_mark(run_folder)
    if mark is None:
        return None
    pid, started = mark
    return pid if process_identity.is_alive(pid, started) else None


def _read_mark(run_folder: Path) -> tuple[int, float] | None:
    """(pid, start time) from ``driver.pid``; None if there is none (or not ours to read)."""
    try:
        pid_text, started_text = run_layout.driver_mark(run_folder).read_text().split()
        return int(pid_text), float(started_text)
    except (OSError, ValueError):
        return None


def forget_driver(run_folder: Path) -> None:
    """Remove the run's ``driver.pid`` (a run being resumed: its driver is gone)."""
    run_layout.driver_mark(run_folder).unlink(missing_ok=True)


def pid_is_driver(pid: int, run_id: str, run_folder: Path) -> bool:
    """True while ``pid`` is the driver of ``run_id`` (a zombie or a reused pid is not).

    The run's ``driver.pid`` decides when it names ``pid``; else the command line
    (``python -m dataferry.execution.driver WS RUN``, a driver started by spawning). A
    process with no command line yet is in the middle of ``exec``: the spawned driver
    whose pid was just recorded, so it counts.
    """
    if not _exists(pid):
        return False
    if marked_driver(run_folder) == pid:
        return True
    cmdline = _cmdline(pid)
    if cmdline is None:
        return False
    if not cmdline:
        return is_running(pid)
    return _drives(cmdline, run_id)


def holds_driver_log(pid: int, run_id: str) -> bool:
    """True while ``pid`` keeps the ``driver.log`` or ``driver.out`` of a folder of
    ``run_id`` open: the driver of that run, started from another folder of a shared
    workspace on this host (a forked driver's command line is its submitter's, and its
    ``driver.pid`` lies in that other folder). False if it is gone or not ours to read.
    """
    logs = {run_layout.DRIVER_LOG, run_layout.DRIVER_OUT}
    try:
        held = [Path(f.path) for f in psutil.Process(pid).open_files()]
    except (*_UNREADABLE, psutil.ZombieProcess):
        return False
    return any(
        p.name in logs
        and p.parent.name == run_id
        and p.parent.parent.name == run_layout.RUNS_DIR
        for p in held
    )


def nudge_driver(
    run_id: str, host: str | None, pid: int | None, run_folder: Path
) -> bool:
    """Wake the driver of ``run_id`` (``NUDGE_SIGNAL``) if it runs on this host, so it
    reads the run's row now rather than at its next check; True if it was signalled.

    A driver not yet on the run's row is found through its ``driver.pid``; one started
    from another folder of the workspace on this host by the log it holds. A driver
    elsewhere, gone, or not ours to signal reads the row on its next check.
    """
    if host != socket.gethostname():
        return False
    if pid is None:
        pid = marked_driver(run_folder)
    if pid is None or not (
        pid_is_driver(pid, run_id, run_folder) or holds_driver_log(pid, run_id)
    ):
        return False
    try:
        os.kill(pid, NUDGE_SIGNAL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def find_driver(run_id: str, run_folder: Path) -> int | None:
    """The pid of a process on this host that drives ``run_id``, if there is one: the
    one ``driver.pid`` names, else one whose command line says so."""
    marked = marked_driver(run_folder)
    if marked is not None:
        return marked
    for pid in _pids():
        cmdline = _cmdline(pid)
        if cmdline and _drives(cmdline, run_id):
            return pid
    return None


def _drives(cmdline: list[str], run_id: str) -> bool:
    return DRIVER_MODULE in cmdline and run_id in cmdline


def _cmdline(pid: int) -> list[str] | None:
    """``pid``'s arguments ([] in the middle of ``exec``); None if gone or not ours."""
    try:
        return list(psutil.Process(pid).cmdline())
    except (*_UNREADABLE, psutil.ZombieProcess):
        return None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        process = psutil.Process(pid)
        environ = process.environ()
        cwd = process.cwd()
    except (*_UNREADABLE, psutil.ZombieProcess):
        return False  # gone, or not ours to look at
    context = environ.get(RUN_CONTEXT_ENV)
    if (
        context
        and run_layout.run_dir_of_context(os.path.realpath(context)) == run_folder
    ):
        return True
    # <run folder>/<step run>/wd is where a step is started
    cwd = os.path.realpath(cwd)
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


is_running = process_identity.is_running  # also named here: its callers are here


def _members(groups: set[int]) -> set[int]:
    if not groups:
        return set()
    members = set()
    for pid in _pids():
        try:
            if os.getpgid(pid) in groups:
                members.add(pid)
        except (ProcessLookupError, PermissionError):
            continue
    return members


def _ancestry(pid: int) -> set[int]:
    """``pid`` and every process it descends from."""
    chain = set()
    while pid > 0 and pid not in chain:
        chain.add(pid)
        try:
            pid = psutil.Process(pid).ppid()
        except _UNREADABLE:
            break
    return chain


def _pids() -> Iterator[int]:
    own = os.getpid()
    for pid in psutil.pids():
        if pid != own:
            yield pid
