"""Naming one process for good: host, pid and start time, and whether it still runs.

A pid alone names a process only until it exits: the system then gives the number to
a later one. Together with the process's start time and its host it names that one
process only, so a record a process leaves (a driver's ``driver.pid``, a submit's
hold on a shared snapshot) can be checked against what runs now. In the storage layer,
below every layer that records processes, so the catalog can check too.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

# two reads of one process's start time agree to this much (it is derived from ticks)
SAME_START_S = 0.05
_PROC = Path("/proc")
_boot: list[float] = []  # /proc/stat's btime, read once


@dataclass(frozen=True)
class ProcessIdentity:
    """One process: the host it runs on, its pid, its start time (epoch seconds)."""

    host: str
    pid: int
    started: float


def this_process() -> ProcessIdentity:
    """The identity of the calling process."""
    pid = os.getpid()
    return ProcessIdentity(socket.gethostname(), pid, started_at(pid) or 0.0)


def started_at(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch); None if it is gone, only its
    zombie is left, or it is not ours to look at.

    Read from ``/proc`` where there is one (Linux), as psutil computes it (boot time
    plus the start in clock ticks): a process that only checks whether a step's
    driver lives then does not import psutil (tens of ms); psutil elsewhere.
    """
    if _PROC.joinpath("self", "stat").is_file():
        return _from_proc(pid)
    return _from_psutil(pid)


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie no longer writes)."""
    return started_at(pid) is not None


def _from_proc(pid: int) -> float | None:
    try:
        stat = _PROC.joinpath(str(pid), "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name is in parentheses and may hold anything: fields follow the last
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # exited, not yet reaped
        return None
    ticks = int(fields[19])  # field 22 of stat(5): start time in clock ticks
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def _boot_time() -> float:
    if not _boot:
        for line in _PROC.joinpath("stat").read_text().splitlines():
            if line.startswith("btime "):
                _boot.append(float(line.split()[1]))
                break
    return _boot[0]


def _from_psutil(pid: int) -> float | None:
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        return float(process.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_alive(pid: int, started: float) -> bool:
    """True while the process ``pid`` that started at ``started`` runs on this host:
    a later process given the same pid (another start time) is not it."""
    now_started = started_at(pid)
    if now_started is None or abs(now_started - started) > SAME_START_S:
        return False
    return is_running(pid)


def is_gone(identity: ProcessIdentity) -> bool:
    """True when ``identity`` is known to have exited: it ran on this host and no
    process with its pid and start time runs here now. A process of another host
    cannot be checked from here: never gone."""
    if identity.host != socket.gethostname():
        return False
    return not is_alive(identity.pid, identity.started)
