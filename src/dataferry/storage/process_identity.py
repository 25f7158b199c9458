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

import psutil

# two reads of one process's start time agree to this much (it is derived from ticks)
SAME_START_S = 0.05
# psutil's errors for a process that is gone, or not ours to look at
_UNREADABLE = (psutil.NoSuchProcess, psutil.AccessDenied)


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
    """When ``pid`` started (seconds since the epoch); None if it is gone (or not
    ours to look at)."""
    try:
        return float(psutil.Process(pid).create_time())
    except _UNREADABLE:
        return None


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie no longer writes)."""
    try:
        status = psutil.Process(pid).status()
    except _UNREADABLE:
        return False
    return status not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)


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
