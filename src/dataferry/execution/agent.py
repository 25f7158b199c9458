"""The local agent: a resident process, with dataferry's catalog and driver imported,
that records submitted runs and forks their drivers.

Starting a Python process that imports SQLAlchemy and the driver costs about half a
second here; forking one that already has costs a millisecond. So a submitting script
asks the agent (``agent_client``), which forks a child per submission: the child takes
on the script's environment, folder and umask, reads the workspace facts, records the
run and then drives it, telling the script when the run has ended. The agent itself
never opens a catalog and runs one thread, so every fork is safe; each child opens the
catalog afresh. The child is usually forked ahead, while the agent is idle, and warmed
(``agent_spare``): the submission is handed to it.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataferry.execution import agent_protocol as protocol
from dataferry.execution.agent_spare import Spare

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
    "dataferry.execution.reused_run",
    "dataferry.execution.registration",
    "dataferry.catalog.run_store",
    "dataferry.catalog.step_commit",
    "dataferry.catalog.migrate",
    "dataferry.storage.backends",
    "dataferry.storage.hashing",
    "dataferry.storage.staging_local",  # judging reuse checks the outputs' staging
    "blake3",  # a fingerprint's hashes: a C extension, loaded at its first use
    "fsspec.implementations.local",
    "sqlalchemy.dialects.sqlite",
)
_FIRST_MESSAGE_S = 5.0  # a client sends its first message right after connecting
SPARE_AFTER_S = 0.1  # after a submission, before the next spare: leave it the CPU
LOG_LIMIT = 1 << 20  # bytes of agent log kept before it is rotated (_rotate_log)
_MAX_PENDING = 256  # connections whose first message is still on its way


@dataclass
class _Pending:
    """A connection whose first message is being read."""

    reader: protocol.FrameReader
    deadline: float  # time.monotonic()


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
        self.spare: Spare | None = None  # forked ahead of the next submission
        self.spare_due = time.monotonic()  # when to fork the next one

    def serve(self) -> None:
        """Accept connections until idle, asked to stop, or the socket is not ours.

        Every connection's first message is read as its bytes arrive, beside the
        others': a slow or silent client is dropped after ``_FIRST_MESSAGE_S`` and
        delays no one meanwhile."""
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        try:
            while True:
                for found, _ in selector.select(timeout=self._next_wait(selector)):
                    if found.data is None:
                        self._accept(selector)
                    else:
                        self._read(selector, found.fileobj, found.data)  # type: ignore[arg-type]
                self._expire(selector)
                self._reap()
                self._refill()
                if self.children:
                    self.last_active = time.monotonic()
                if not self._owns_socket():
                    return
                if time.monotonic() - self.last_active > self.idle_s:
                    return
        except _Stop:
            return
        finally:
            if self.spare is not None:
                self.spare.close()  # it exits on its own
            for found in list(selector.get_map().values()):
                if found.data is not None:
                    found.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            self.last_active = time.monotonic()
            if len(selector.get_map()) > _MAX_PENDING:
                _drop_oldest(selector)  # a flood of idle connections: keep the newest
            conn.setblocking(False)
            pending = _Pending(
                protocol.FrameReader(), time.monotonic() + _FIRST_MESSAGE_S
            )
            selector.register(conn, selectors.EVENT_READ, pending)

    def _read(
        self, selector: selectors.BaseSelector, conn: socket.socket, pending: _Pending
    ) -> None:
        try:
            data = conn.recv(pending.reader.wanted())
            if not data:
                raise protocol.ProtocolError("the connection closed")
            message = pending.reader.feed(data)
        except (BlockingIOError, InterruptedError):
            return
        except protocol.ProtocolError as exc:
            selector.unregister(conn)
            _refuse(conn, str(exc))
            conn.close()
            return
        except OSError:
            selector.unregister(conn)
            conn.close()
            return
        if message is not None:
            selector.unregister(conn)
            self._handle(conn, message)

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for found in list(selector.get_map().values()):
            if found.data is not None and found.data.deadline < now:
                selector.unregister(found.fileobj)
                found.fileobj.close()  # type: ignore[union-attr]

    def _next_wait(self, selector: selectors.BaseSelector) -> float:
        deadlines: list[float] = [
            f.data.deadline for f in selector.get_map().values() if f.data
        ]
        if self.spare is None:
            deadlines.append(self.spare_due)
        if not deadlines:
            return 1.0
        return max(0.0, min(1.0, min(deadlines) - time.monotonic()))

    def _handle(self, conn: socket.socket, message: dict[str, Any]) -> None:
        with conn:
            conn.setblocking(True)
            conn.settimeout(_FIRST_MESSAGE_S)
            op = message.get("op")
            if op == "submit":
                problem = protocol.hello_problem(message)
                if problem is None:
                    self._fork(conn, message)
                else:
                    _refuse(conn, f"submit: {problem}")
                return
            if op == "status":
                _reply(conn, self.status())
            elif op == "stop":
                _reply(conn, {"stopping": True})
                raise _Stop
            else:
                _refuse(conn, f"no op {op!r}: the ops are 'submit', 'status', 'stop'")

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
        spare, self.spare = self.spare, None
        self.spare_due = time.monotonic() + SPARE_AFTER_S
        if spare is not None and spare.hand_over(conn, hello):
            self.children.add(spare.pid)
            return
        if spare is not None:  # gone: reaped as a child
            self.children.add(spare.pid)
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

    def _refill(self) -> None:
        """Fork the next spare once it is due and none is waiting."""
        if self.spare is None and time.monotonic() >= self.spare_due:
            self.spare = Spare.fork(
                self.listener, protocol.log_path(self.folder, self.key)
            )
            self.spare_due = time.monotonic() + SPARE_AFTER_S  # if the fork failed

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


def _drop_oldest(selector: selectors.BaseSelector) -> None:
    pending = [f for f in selector.get_map().values() if f.data is not None]
    oldest = min(pending, key=lambda f: f.data.deadline)
    selector.unregister(oldest.fileobj)
    oldest.fileobj.close()  # type: ignore[union-attr]


def _reply(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        protocol.send(conn, message)


def _refuse(conn: socket.socket, problem: str) -> None:
    """Answer a message the agent does not take, as ``AgentRequestError``."""
    text = (
        f"the local agent refused a message: {problem}; the submitting script and "
        "the agent must be the same dataferry version (or set DATAFERRY_AGENT=0)"
    )
    with contextlib.suppress(OSError):
        conn.setblocking(True)
        conn.settimeout(1.0)
        protocol.send(conn, {"error": {"type": "AgentRequestError", "message": text}})


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
        # read once here, not by every child judging a submission's reuse
        from dataferry.execution.environment_digest import installed

        installed(sys.path)
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


def _rotate_log(log: Path) -> None:
    """Keep the log under ``LOG_LIMIT`` bytes: when this agent starts with a longer one
    as its output, that becomes ``.log.1`` (replacing the one before) and the agent
    writes a new one. Each agent appends a line or two, and a child a traceback when it
    fails, so a long-lived user's log would otherwise grow forever."""
    try:
        info = log.stat()
        mine = os.fstat(1)
    except OSError:
        return
    if (info.st_dev, info.st_ino) != (
        mine.st_dev,
        mine.st_ino,
    ) or info.st_size < LOG_LIMIT:
        return  # output elsewhere (a test's pipe), or short enough
    with contextlib.suppress(OSError):
        os.replace(log, log.with_name(f"{log.name}.1"))
        fresh = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fresh, 1)
        os.dup2(fresh, 2)
        os.close(fresh)


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
    os.chdir("/")  # hold no user's folder busy for the agent's lifetime
    _rotate_log(protocol.log_path(folder, key))
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
