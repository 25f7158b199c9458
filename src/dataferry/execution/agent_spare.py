"""The local agent's spare child: forked ahead of the next submission, and warmed.

A child forked at a submission starts the run's work at once, and pays on its critical
path for the fork and for copying every page of the agent's memory it writes to (some
4,500 for a run whose steps are all reused, a third of the child's CPU time here). The
spare is forked while the agent is idle: it scrubs its inherited descriptors (it keeps
no lock or listener of the agent's), runs the catalog's code once
(``catalog.warm_up``), then waits on its own socket pair with the agent. At a
submission the agent passes it the client's connection (``SCM_RIGHTS``) and the
greeting, and the spare serves it as a freshly forked child would
(``agent_worker.serve_submission``). When the agent closes its end (it stops, or dies),
the spare exits.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import TYPE_CHECKING, Any

from dataferry.execution import agent_protocol as protocol

if TYPE_CHECKING:
    from pathlib import Path

_HANDOVER = b"c"  # the byte the client's connection travels with


class Spare:
    """The agent's handle on its spare child: its pid and the agent's end of the pair."""

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.sock = sock

    @classmethod
    def fork(cls, listener: socket.socket, log: Path) -> Spare | None:
        """Fork a spare (it closes ``listener`` and writes to ``log``); None if the
        system refuses a fork (the agent then forks at each submission)."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except OSError:
            mine.close()
            theirs.close()
            return None
        if pid == 0:
            code = 1
            try:
                mine.close()
                listener.close()
                code = _wait_and_serve(theirs, log)
            except BaseException:  # nothing may return into the agent's loop
                with contextlib.suppress(Exception):
                    import traceback

                    traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        return cls(pid, mine)

    def hand_over(self, conn: socket.socket, hello: dict[str, Any]) -> bool:
        """Pass ``conn`` and its greeting to the spare; False if the spare is gone (the
        caller then forks a child for it). The agent's copy of ``conn`` is its own to
        close."""
        try:
            socket.send_fds(self.sock, [_HANDOVER], [conn.fileno()])
            protocol.send(self.sock, hello)
        except OSError:
            return False
        finally:
            self.close()
        return True

    def close(self) -> None:
        """Close the agent's end: an idle spare then exits."""
        self.sock.close()


def _wait_and_serve(sock: socket.socket, log: Path) -> int:
    """The spare's life: scrub, warm up, wait for a submission and serve it; its exit
    status (0 when the agent went away without one)."""
    from dataferry.execution.driver_start import fresh_process

    fresh_process(log, keep={sock.fileno()})  # no lock or listener of the agent's
    with contextlib.suppress(Exception):  # a cold child is slower, never wrong
        from dataferry.catalog.warm_up import warm_up

        warm_up()
    try:
        _, fds, _, _ = socket.recv_fds(sock, len(_HANDOVER), 1)
        if not fds:
            return 0  # the agent closed its end
        conn = socket.socket(fileno=fds[0])
        conn.setblocking(True)  # the agent's read set its (shared) flags
        hello = protocol.receive(sock)
    except (OSError, protocol.ProtocolError):
        return 0
    finally:
        sock.close()
    from dataferry.execution.agent_worker import serve_submission

    return serve_submission(conn, hello, log)
