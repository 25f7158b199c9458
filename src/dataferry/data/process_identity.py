"""A process told apart from a later one with the same pid: its start time.

Read from ``/proc`` where there is one (Linux), as psutil computes it (boot time plus
the start in clock ticks), so that a process using the catalog does not import psutil
(tens of ms) to learn whether a step's driver still lives; psutil elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_boot: list[float] = []  # /proc/stat's btime, read once


def start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch); None if there is no
    such process, or only its zombie (it has exited).

    Raises:
        PermissionError: the process belongs to another user and the system does
            not say (not on Linux: /proc is readable by all).
    """
    if _PROC.joinpath("self", "stat").is_file():
        return _from_proc(pid)
    return _from_psutil(pid)


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
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(process.create_time())
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied as exc:
        raise PermissionError(f"process {pid} belongs to another user") from exc
