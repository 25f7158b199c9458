"""The local agent: a resident process, with dataferry's catalog and driver imported,
that records submitted runs and forks their drivers.

Starting a Python process that imports SQLAlchemy and the driver costs about half a
second here; forking one that already has costs a millisecond. So a submitting script
asks the agent (``agent_client``), which forks a child per submission: the child takes
on the script's environment, folder and umask, reads the workspace facts, records the
run and then drives it, telling the script when the run has ended. The agent itself
never opens a catalog and runs one thread, so every fork is safe; each child opens the
catalog afresh.

It is one per user, interpreter and dataferry version (``agent_protocol.code_key``), is
started by the first submission that finds none (``python -P -m
dataferry.execution.agent RUNTIME_DIR KEY``) and exits once no connection or driver of
its own has been active for ``DATAFERRY_AGENT_IDLE_S`` seconds, when asked (``dataferry
agent stop``, SIGTERM), or when its socket file is removed or taken over. Drivers it
forked outlive it. A second agent for the same key exits at once (an ``flock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import importlib
import os
import selectors
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from dataferry.execution import agent_protocol as protocol

# what every child needs, imported once here rather than in each child
_PRELOAD = (
    "dataferry.execution.driver",
    "dataferry.execution.agent_worker",
    "dataferry.execution.submission",
    "dataferry.execution.views.runs",
    "dataferry.execution.views.events",
    "dataferry.execution.views.logs",
    "dataferry.execution.preparation",
    "dataferry.execution.materialise",
    "dataferry.execution.commit",
    "dataferry.execution.reuse",
    "dataferry.execution.registration",
    "dataferry.catalog.run_store",
    "dataferry.catalog.step_commit",
    "dataferry.catalog.migrate",
    "dataferry.storage.backends",
    "dataferry.storage.hashing",
    "fsspec.implementations.local",
    "sqlalchemy.dialects.sqlite",
)
_FIRST_MESSAGE_S = 5.0  # a client sends its first message right after connecting


class _Stop(Exception):
    """Asked to stop (SIGTERM or a ``stop`` request)."""


class Agent:
    """The accept loop: one forked child per submission, status and stop answered here."""

    def __init__(self, listener: socket.socket, folder: Path, key: str) -> None:
        self.listener = listener
        self.folder = folder
        self.key = key
        self.path = protocol.socket_path(folder, key)
        self.inode = self.path.stat().st_ino
        self.idle_s = protocol.idle_seconds()
        self.started = time.time()
        self.last_active = time.monotonic()
        self.children: set[int] = set()
        self.served = 0

    def serve(self) -> None:
        """Accept connections until idle, asked to stop, or the socket is not ours."""
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        try:
            while True:
                for _ in selector.select(timeout=1.0):
                    with contextlib.suppress(BlockingIOError, InterruptedError):
                        conn, _ = self.listener.accept()
                        self.last_active = time.monotonic()
                        self._handle(conn)
                self._reap()
                if self.children:
                    self.last_active = time.monotonic()
                if not self._owns_socket():
                    return
                if time.monotonic() - self.last_active > self.idle_s:
                    return
        except _Stop:
            return
        finally:
            selector.close()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.setblocking(True)
            conn.settimeout(_FIRST_MESSAGE_S)
            try:
                message = protocol.receive(conn)
            except OSError:
                return
            op = message.get("op")
            if op == "submit":
                self._fork(conn, message)
                return
            if op == "status":
                _reply(conn, self.status())
            elif op == "stop":
                _reply(conn, {"stopping": True})
                raise _Stop
            else:
                _reply(
                    conn, {"error": {"type": "AgentError", "message": f"no op {op!r}"}}
                )

    def status(self) -> dict[str, Any]:
        """``pid``, ``key``, ``started`` (Unix time), ``served`` (submissions),
        ``drivers`` (running), ``idle_s`` (the limit), ``executable``, ``package``."""
        return {
            "pid": os.getpid(),
            "key": self.key,
            "started": self.started,
            "served": self.served,
            "drivers": len(self.children),
            "idle_s": self.idle_s,
            "executable": sys.executable,
            "package": str(Path(protocol.__file__).resolve().parent.parent),
        }

    def _fork(self, conn: socket.socket, hello: dict[str, Any]) -> None:
        self.served += 1
        try:
            pid = os.fork()
        except OSError as exc:
            _reply(conn, {"error": {"type": "AgentError", "message": f"fork: {exc}"}})
            return
        if pid == 0:
            code = 1
            try:
                from dataferry.execution.agent_worker import serve_submission

                self.listener.close()
                conn.settimeout(None)
                code = serve_submission(
                    conn, hello, protocol.log_path(self.folder, self.key)
                )
            except BaseException:  # nothing may return into the agent's loop
                with contextlib.suppress(Exception):
                    import traceback

                    traceback.print_exc()
            finally:
                os._exit(code)
        self.children.add(pid)

    def _reap(self) -> None:
        for pid in list(self.children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.discard(pid)

    def _owns_socket(self) -> bool:
        try:
            return self.path.stat().st_ino == self.inode
        except OSError:
            return False


def _reply(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        protocol.send(conn, message)


def _preload() -> None:
    """Import what the children need, with the collector paused, then freeze it all:
    the children share these pages with the agent until they write to them."""
    from dataferry import catalog

    catalog.load()
    collecting = gc.isenabled()
    gc.disable()
    try:
        for module in _PRELOAD:
            importlib.import_module(module)
    finally:
        if collecting:
            gc.enable()
    gc.freeze()


def _listen(path: Path) -> socket.socket:
    """A listening socket at ``path``, bound under a temporary name and renamed over
    it: a client never connects to a half-made agent, and a dead agent's socket file
    is replaced in one step."""
    draft = path.with_name(f"{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        draft.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    protocol.socket_call(draft, listener.bind)
    os.chmod(draft, 0o600)
    listener.listen(64)
    listener.setblocking(False)
    os.replace(draft, path)
    return listener


def _on_term(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    """``python -P -m dataferry.execution.agent RUNTIME_DIR KEY``: take the key's lock,
    fork the agent (this process then exits 0, or 0 at once if an agent for the key
    already runs), preload, listen and serve."""
    args = sys.argv[1:] if argv is None else argv
    folder, key = Path(args[0]), args[1]
    lock = os.open(protocol.lock_path(folder, key), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another agent for this key runs (or is starting)
    pid_file = protocol.pid_path(folder, key)
    child = os.fork()
    if child:  # the spawner waits for this; the agent is nobody's child
        pid_file.write_text(str(child))
        os._exit(0)
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _preload()
    listener = _listen(protocol.socket_path(folder, key))
    agent = Agent(listener, folder, key)
    print(
        f"{time.strftime('%Y-%m-%dT%H:%M:%S')} agent {os.getpid()} listening",
        flush=True,
    )
    try:
        agent.serve()
    finally:
        if agent._owns_socket():
            with contextlib.suppress(OSError):
                agent.path.unlink()
        with contextlib.suppress(OSError):
            if pid_file.read_text() == str(os.getpid()):
                pid_file.unlink()
        listener.close()
        print(
            f"{time.strftime('%Y-%m-%dT%H:%M:%S')} agent {os.getpid()} stopped "
            f"after {agent.served} submissions",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
