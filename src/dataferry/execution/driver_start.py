"""Starting a run's driver: forked from the submitting process, or spawned.

Forking after the submitter's imports starts the driver in about a millisecond, where a
fresh interpreter spends half a second importing the catalog stack. It is done only
when it is safe: ``os.fork`` exists, this process runs no other thread (a fork copies
only the calling thread; a lock another thread held stays locked in the child), and no
SQLite connection to a catalog is left open once the idle ones are closed. Otherwise
the driver is spawned as ``python -m dataferry.execution.driver WS RUN``.

The fork is doubled: the middle process starts a new session, forks the driver and
exits at once, so the driver outlives the submitter, is nobody's zombie, and no
terminal signal reaches it. The driver sets itself up as a fresh interpreter would be
(standard streams on ``/dev/null`` and ``driver.out``, signal handlers, logging and
warnings reset), records itself in the run's ``driver.pid``, tells the submitter its
pid through a pipe, runs ``driver.main`` and ends with ``os._exit``: it never returns
into the user's script and never runs its ``atexit`` handlers.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.execution import run_layout

if TYPE_CHECKING:
    from dataferry.catalog.run_store import RunStore

_PROC_FD = Path("/proc/self/fd")
# what a fresh interpreter ignores; every other signal gets its default action
_IGNORED = {signal.SIGPIPE, signal.SIGXFSZ}
# what an exec'd process may have reset: an ignored signal stays ignored over exec
DEFAULT_ON_EXEC = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
# pids of drivers this process spawned, reaped when the next one starts
_DRIVERS: list[int] = []


def can_fork() -> bool:
    """True where the driver can be forked from this process (see the module text)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def fork_driver(workspace_dir: str, run_id: str) -> int | None:
    """Fork the driver of ``run_id``; its pid, or None when forking is not safe here
    (a catalog connection is still in use) or the forked driver could not set itself up.

    Raises:
        OSError: the system refused the fork or the pipe.
    """
    from dataferry.catalog.sql_catalog import prepare_fork

    if _any_open(prepare_fork()):
        return None
    for stream in (sys.stdout, sys.stderr):  # else the child would hold a copy
        with contextlib.suppress(Exception):
            stream.flush()
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        _middle(workspace_dir, run_id, read_end, write_end)
    os.close(write_end)
    # it exits as soon as it has forked: no zombie is left. A submitter that ignores
    # SIGCHLD has its children reaped by the kernel, and nothing is left to wait for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(middle, 0)
    with os.fdopen(read_end, "rb") as pipe:
        told = pipe.read()
    return int(told) if told else None


def _any_open(databases: list[str]) -> bool:
    """True if this process still has one of the SQLite ``databases`` open."""
    if not databases or not _PROC_FD.is_dir():
        return False
    watched = set()
    for database in databases:
        real = os.path.realpath(database)
        watched |= {real, f"{real}-wal", f"{real}-shm", f"{real}-journal"}
    for entry in _PROC_FD.iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(entry) in watched:
                return True
    return False


def _middle(workspace_dir: str, run_id: str, read_end: int, write_end: int) -> None:
    """The middle process: a new session, the driver forked in it, then gone."""
    code = 1
    try:
        os.close(read_end)
        os.setsid()
        if os.fork() == 0:
            _driver(workspace_dir, run_id, write_end)
        code = 0
    finally:
        os._exit(code)


def _driver(workspace_dir: str, run_id: str, tell: int) -> None:
    """The forked driver: set up as a fresh process, say its pid, drive, ``_exit``."""
    code = 1
    try:
        fresh_process(run_layout.driver_out(workspace_dir, run_id), keep={tell})
        from dataferry.catalog.sql_catalog import after_fork_in_child
        from dataferry.execution.processes import mark_driver

        after_fork_in_child()
        mark_driver(run_layout.run_dir(workspace_dir, run_id))
        os.write(tell, str(os.getpid()).encode())
        os.close(tell)
        from dataferry.execution.driver import main

        code = main([workspace_dir, run_id])
    except BaseException:  # whatever it is, nothing may return into the user's script
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def fresh_process(out: Path, *, keep: set[int]) -> None:
    """Make a forked process what a fresh interpreter would be: standard streams (stdin
    ``/dev/null``, stdout and stderr appended to ``out``), every inherited descriptor
    but ``keep`` on ``/dev/null``, default signal handlers, no logging handler or
    warning filter of the parent's."""
    _fresh_streams(out, keep=keep)
    _fresh_signals()
    _fresh_logging_and_warnings()


def redirect_output(out: Path) -> None:
    """stdout and stderr appended to ``out`` from now on (flushed first)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    written = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(written, 1)
    os.dup2(written, 2)
    os.close(written)


def _fresh_streams(out: Path, *, keep: set[int]) -> None:
    """stdin from ``/dev/null``, stdout and stderr to ``out``; every other inherited
    descriptor becomes ``/dev/null`` under the same number: no reader of a pipe or
    socket waits for this process to close it, no file the submitter opened (or locked
    with ``flock``, which the copy would hold) stays held for the run's length, and a
    number is never freed for reuse under an object of the user's that would close it
    later. Catalog connections were closed before the fork (``fork_driver``)."""
    null = os.open(os.devnull, os.O_RDWR)
    written = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(written, 1)
    os.dup2(written, 2)
    for fd in _inherited_fds(keep={0, 1, 2, null, written, *keep}):
        with contextlib.suppress(OSError):  # closed meanwhile (the listing's own fd)
            os.dup2(null, fd)
    os.close(null)
    os.close(written)
    # the user's may be replaced (a test runner's capture, say); ``sys.__stdout__``
    # was flushed before the fork and writes to fd 1, now ``out``
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    sys.stdout = _writer(1)
    sys.stderr = _writer(2)


def _writer(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False), line_buffering=True, errors="replace"
    )


def _inherited_fds(keep: set[int]) -> list[int]:
    if not _PROC_FD.is_dir():
        return []
    return [int(e.name) for e in _PROC_FD.iterdir() if int(e.name) not in keep]


def _fresh_signals() -> None:
    """Every handler as a fresh interpreter has it; no signal blocked, no wakeup fd."""
    signal.set_wakeup_fd(-1)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        if signum == signal.SIGINT:
            handler: signal.Handlers | signal._HANDLER = signal.default_int_handler
        elif signum in _IGNORED:
            handler = signal.SIG_IGN
        else:
            handler = signal.SIG_DFL
        with contextlib.suppress(OSError, ValueError):  # some cannot be set
            signal.signal(signum, handler)


def _fresh_logging_and_warnings() -> None:
    """No handler of the user's script (its log file, say) receives the driver's
    records, and its warning filters (``error``, say) do not apply."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        if isinstance(logger, logging.Logger):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
            logger.disabled = False
    logging.getLogger().setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)
    warnings.resetwarnings()
    for category in (
        DeprecationWarning,
        PendingDeprecationWarning,
        ImportWarning,
        ResourceWarning,
    ):
        warnings.simplefilter("ignore", category)


def start_driver(workspace_dir: os.PathLike[str] | str, run_id: str) -> int:
    """Start the detached process that drives a run; return its pid.

    Forked from this process where that is safe (see the module text): it starts in about a
    millisecond, records itself in the run's ``driver.pid`` before this returns, and its
    first write to the run's row names it. Otherwise spawned as ``python -m
    dataferry.execution.driver WS RUN`` (``posix_spawn``, a new session); the caller
    records that pid (``record_driver``), so that a driver that dies before it has
    written anything is recognised as gone at once. Either way it outlives the
    submitting script; finished spawned drivers are reaped here.

    Raises:
        OSError: the system could start no process.
    """
    _reap_drivers()
    folder = os.fspath(workspace_dir)
    out = run_layout.driver_out(folder, run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    if can_fork():
        pid = fork_driver(folder, run_id)
        if pid is not None:
            return pid
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "dataferry.execution.driver", folder, run_id],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                1,
                os.fspath(out),
                os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o644,
            ),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
        # as a fresh interpreter: a signal the submitter ignored (SIGCHLD, say, which
        # would hide its steps' exit codes) or blocked stays so over exec
        setsigdef=DEFAULT_ON_EXEC,
        setsigmask=(),
    )
    _DRIVERS.append(pid)
    return pid


def record_driver(
    store: RunStore, workspace_dir: os.PathLike[str] | str, run_id: str, pid: int
) -> None:
    """Put ``pid`` on the run's row unless the driver has recorded itself already (a
    forked one has, in ``driver.pid``): one transaction fewer on the common path."""
    from dataferry.execution.processes import marked_driver

    if marked_driver(run_layout.run_dir(workspace_dir, run_id)) != pid:
        store.update_run(run_id, driver_pid=pid)


def _reap_drivers() -> None:
    """Collect the exit status of drivers that ended, so none lingers as a zombie."""
    for pid in list(_DRIVERS):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _DRIVERS.remove(pid)
