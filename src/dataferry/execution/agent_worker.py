"""What a child the local agent forks does: one submission's conversation, then the
run's driver (``agent_client`` describes the conversation).

The child first becomes what a fresh interpreter started by the submitting script would
be: its own session, the script's environment variables, working folder and umask,
standard streams on the agent's log (then on the run's ``driver.out``), default signal
handlers. Then it reads the workspace facts, records the run, marks itself as the run's
driver (``driver.pid``) and drives it, and finally sends the run's status to the script
if it is still listening. A run whose every step is reused is recorded whole, Finished,
in one transaction instead (``reused_run``): the child never becomes its driver.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import RunStatus
from dataferry.data.workspace import Workspace
from dataferry.execution import agent_protocol as protocol
from dataferry.execution import run_layout, views
from dataferry.execution.driver import drive_run
from dataferry.execution.driver_profile import profiled
from dataferry.execution.driver_start import fresh_process, redirect_output
from dataferry.execution.processes import mark_driver
from dataferry.execution.reused_run import record_if_reused
from dataferry.execution.submission import RunRequest, read_facts, record_run
from dataferry.pipeline.gc_pause import gc_paused

if TYPE_CHECKING:
    import socket


def serve_submission(conn: socket.socket, hello: dict[str, Any], log: Path) -> int:
    """Hold the conversation on ``conn`` and drive the run it records; the exit
    status (0: no run was asked for, or the run finished)."""
    os.setsid()
    fresh_process(log, keep={conn.fileno()})
    _take_on(hello)
    return profiled(lambda: _serve(conn, Workspace(path=Path(hello["workspace"]))))


def _serve(conn: socket.socket, workspace: Workspace) -> int:
    """The conversation, then the run's driver (``serve_submission``)."""
    try:
        facts = read_facts(workspace)
    except Exception as exc:
        _reply_error(conn, exc)
        return 1
    protocol.send(conn, {"facts": facts.to_json()})
    # the collector paused: decoding a 10,000-step plan makes ~100,000 objects that
    # all stay alive, and each collection they set off walks them all and frees
    # nothing (up to a quarter of a second before the run was recorded)
    with gc_paused():
        request = _recorded(conn, workspace)
    if not isinstance(request, RunRequest):
        return request
    folder = run_layout.run_dir(workspace, request.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    redirect_output(run_layout.driver_out(workspace, request.run_id))
    mark_driver(folder)
    _tell(conn, {"recorded": os.getpid()})
    code = drive_run(workspace, request.run_id)
    _tell(conn, {"ended": str(views.run_status(workspace, request.run_id))})
    return code


def _recorded(conn: socket.socket, workspace: Workspace) -> RunRequest | int:
    """Receive the run and record it; the request, or the child's exit status if
    it is not to drive a run (0: recorded whole as reused, or the script ended the
    conversation; 1: refused, the error told to the script)."""
    try:
        message = protocol.receive(conn)
    except OSError:  # the script found problems and ended the conversation
        return 0
    try:
        request = RunRequest.from_json(message.get("run"))
        if record_if_reused(workspace, request):
            # every step reused: recorded whole, Finished; no driver is started
            _tell(conn, {"recorded": os.getpid()})
            _tell(conn, {"ended": str(RunStatus.FINISHED)})
            return 0
        record_run(workspace, request)
    except Exception as exc:
        _reply_error(conn, exc)
        return 1
    return request


def _take_on(hello: dict[str, Any]) -> None:
    """The submitting script's environment variables, working folder and umask."""
    os.environ.clear()
    os.environ.update(hello["env"])  # checked by the agent: str to str
    os.umask(hello["umask"])
    try:
        os.chdir(hello["cwd"] or "/")
    except OSError:  # removed since (or never there): every path given is absolute
        os.chdir("/")


def _reply_error(conn: socket.socket, exc: BaseException) -> None:
    kind = type(exc)
    _tell(
        conn,
        {
            "error": {
                "type": kind.__name__,
                "module": kind.__module__,
                "message": str(exc),
                # the CLI's wording of it, if it has one (DataferryError.cli_message)
                "cli_message": getattr(exc, "cli_message", None),
            }
        },
    )


def _tell(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the script went away: the run goes on
        protocol.send(conn, message)
