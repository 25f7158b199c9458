"""What runs inside the Ray worker for one step: its command as a child process.

Imports only the standard library and is shipped to the workers by value, so a node
runs a step without dataferry installed. The child runs in its own session (cancel
reaches its whole process group), with the prepared folder and environment, its
stdout and stderr appended to the step's log files as it writes them. The task polls
the child rather than blocking in ``wait``: Ray's soft cancel interrupts the task's
Python code, which then stops the child's group and every process below the child,
found in ``/proc`` (TERM, then KILL after a grace).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from typing import Any

GRACE_S = 5.0
_POLL_S = 0.25
_PR_SET_PDEATHSIG = 1


def run_step(spec: dict[str, Any]) -> int:
    """Run ``spec["argv"]`` in ``spec["cwd"]`` with ``spec["env"]``; return its exit
    code (negative: killed by that signal).

    Raises:
        OSError: the process could not be started (its reason is in the stderr log).
        KeyboardInterrupt: the task was cancelled; the child's group is stopped first.
    """
    with (
        open(spec["stdout_path"], "ab") as out,
        open(spec["stderr_path"], "ab") as err,
    ):
        try:
            child = subprocess.Popen(
                list(spec["argv"]),
                cwd=spec["cwd"],
                env=dict(spec["env"]),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own group: cancel reaches its children
                # safe here: the task forks from a worker that runs one task at a time
                preexec_fn=_die_with_worker,
            )
        except OSError as exc:
            err.write(f"dataferry: the step could not start on Ray: {exc}\n".encode())
            raise
    try:
        while True:
            # wait() with a timeout polls from 0.5 ms up, so a short step's end is seen
            # at once, and a cancel (KeyboardInterrupt) still interrupts it
            with contextlib.suppress(subprocess.TimeoutExpired):
                return child.wait(timeout=_POLL_S)
    except BaseException:  # cancelled (KeyboardInterrupt) or the worker is exiting
        _stop_group(child)
        raise


def _die_with_worker() -> None:
    """In the child: be killed if the worker that started it dies (a forced cancel or
    a lost worker), so no step outlives its task."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """TERM the child's process group and every process below it (one that left the
    group with ``setsid`` too), KILL them if still there after the grace."""
    # taken before any signal: a descendant whose parent dies is reparented and
    # could no longer be found from the child
    tree = _descendants(child.pid)
    _signal(child.pid, tree, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=GRACE_S)
    tree |= _descendants(child.pid)
    _signal(child.pid, tree, signal.SIGKILL)  # children may outlive it: all go
    child.wait()


def _signal(pgid: int, tree: set[int], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _descendants(root: int) -> set[int]:
    """The pids below ``root`` (from ``/proc``; empty where there is none)."""
    parents: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                parent = _parent_of(entry)
                if parent is not None:
                    parents.setdefault(parent, []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for pid in parents.get(todo.pop(), ()):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return found


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:  # it ended meanwhile
        return None
    # the name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None
