"""The submitting script's side of the local agent: reach it (starting it if need be),
have it record a run, and hear from the run's driver when the run has ended.

A conversation, on one connection (``agent_protocol`` frames the messages):

1. this process sends ``{"op": "submit", "workspace", "env", "cwd", "umask"}``; the agent
   forks a child, which takes on this environment, folder and umask, opens the
   workspace's catalog and answers ``{"facts": WorkspaceFacts}`` (or ``{"error"}``);
2. this process checks and compiles the pipeline, sends ``{"run": RunRequest}``; the
   child records it, becomes the run's driver and answers ``{"recorded": pid}``;
3. when the run has ended the driver sends ``{"ended": status}``.

If the agent cannot be reached or started, ``AgentRecorder.open`` returns None and the
caller records the run itself (``submission.LocalRecorder``). Only the standard library
is imported here.
"""

from __future__ import annotations

import _socket  # the C module: ``socket`` builds enums that take 10 ms to import
import contextlib
import os
import sys
import time
import weakref
from typing import TYPE_CHECKING, Any

from dataferry.errors import AgentError
from dataferry.execution import agent_protocol as protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dataferry.data.workspace import Workspace
    from dataferry.execution.submission import RunRequest, WorkspaceFacts

START_TIMEOUT_S = 60.0  # a first start imports the catalog stack on a loaded machine
HELLO_TIMEOUT_S = 600.0  # the child may be migrating a large catalog
_GRACE_S = 2.0


class AgentLink:
    """The connection to a run's driver, which sends the run's final status."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock: _socket.socket | None = sock
        self._close = weakref.finalize(self, sock.close)

    def wait(self, timeout_s: float | None) -> str | None:
        """The run's final status once it has ended, waiting at most ``timeout_s``
        seconds (None: as long as it takes). None if the time passed first, or if the
        link broke (the driver died): then the catalog has the answer."""
        if self._sock is None:
            return None
        self._sock.settimeout(timeout_s)
        try:
            message = protocol.receive(self._sock)
        except TimeoutError:
            return None
        except OSError:
            self.close()
            return None
        self.close()
        status = message.get("ended")
        return status if isinstance(status, str) else None

    def close(self) -> None:
        self._sock = None
        self._close()


class AgentRecorder:
    """A conversation with the local agent about one run (see the module text)."""

    def __init__(self, sock: _socket.socket, facts: WorkspaceFacts) -> None:
        self._sock: _socket.socket | None = sock
        self.facts = facts

    @classmethod
    def open(cls, workspace: Workspace) -> AgentRecorder | None:
        """Start the conversation; None if the agent is off or cannot be reached.

        Raises:
            DataferryError: the agent could not open the workspace's catalog (the error
                the catalog raised, e.g. ``CatalogError``).
        """
        greeting = AgentGreeting.send(workspace, start=True)
        return None if greeting is None else greeting.answer()

    def __enter__(self) -> AgentRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def record(
        self, request: RunRequest, while_waiting: Callable[[], object] | None = None
    ) -> AgentLink:
        """Have the run recorded and its driver started; the link to that driver.

        ``while_waiting`` is called once the request is sent, before the answer is read:
        this process's own work then overlaps the agent's recording.

        Raises:
            AgentError: the agent went away before it said the run was recorded.
            DataferryError: the catalog refused the run (the error it raised).
        """
        sock = self._sock
        if sock is None:
            raise AgentError("this conversation with the local agent has ended")
        try:
            protocol.send(sock, {"run": request.to_json()})
            if while_waiting is not None:
                while_waiting()
            reply = protocol.receive(sock)
        except OSError as exc:
            raise AgentError(
                f"the local agent went away while recording run {request.run_id} ({exc}); "
                f"`dataferry runs show {request.run_id}` tells whether it was recorded"
            ) from exc
        if "error" in reply:
            raise error_from(reply["error"])
        self._sock = None
        return AgentLink(sock)


class AgentGreeting:
    """A conversation's first message, sent but not yet answered: the agent's child
    reads the workspace facts while this process goes on with its own checks."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock: _socket.socket | None = sock

    @classmethod
    def send(cls, workspace: Workspace, *, start: bool) -> AgentGreeting | None:
        """Greet the agent for this code (starting it first if none listens and
        ``start``); None if the agent is off, none listens (and ``start`` is False) or
        it cannot be reached."""
        if not protocol.enabled():
            return None
        folder = protocol.private_runtime_dir()
        if folder is None:
            return None
        key = protocol.code_key()
        if start:
            sock = connect_or_start(folder, key)
        else:
            sock = _connect(protocol.socket_path(folder, key))
        if sock is None:
            return None
        try:
            protocol.send(sock, _hello(workspace))
        except OSError:  # the agent went away at that moment: record here instead
            sock.close()
            return None
        return cls(sock)

    def answer(self) -> AgentRecorder | None:
        """The recorder, once the agent has read the workspace facts; None if the agent
        went away meanwhile (the caller then records the run itself).

        Raises:
            AgentError: the greeting was already answered or closed.
            DataferryError: the agent could not open the workspace's catalog (the error
                the catalog raised, e.g. ``CatalogError``).
        """
        from dataferry.execution.submission import WorkspaceFacts

        sock, self._sock = self._sock, None
        if sock is None:
            raise AgentError("this greeting of the local agent was already answered")
        try:
            sock.settimeout(HELLO_TIMEOUT_S)
            reply = protocol.receive(sock)
            sock.settimeout(None)
        except OSError:
            sock.close()
            return None
        if "error" in reply:
            sock.close()
            raise error_from(reply["error"])
        return AgentRecorder(sock, WorkspaceFacts.from_json(reply["facts"]))

    def close(self) -> None:
        """End the conversation unanswered (the checks failed): the agent's child
        records nothing."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _hello(workspace: Workspace) -> dict[str, Any]:
    mask = os.umask(0o022)
    os.umask(mask)
    return {
        "op": "submit",
        "workspace": os.fspath(workspace.path),
        "env": dict(os.environ),
        "cwd": _cwd(),
        "umask": mask,
    }


def _cwd() -> str | None:
    """This process's working folder; None if it was removed (the driver then works
    in ``/``: every path a submission holds is absolute)."""
    try:
        return os.getcwd()
    except FileNotFoundError:
        return None


def error_from(data: Any) -> Exception:
    """The exception an agent reported (``{"type", "module", "message"}``, and
    ``cli_message`` if it has one): the same dataferry error class where it can be
    made from its message, else ``AgentError``."""
    from dataferry import errors

    kind = data.get("type") if isinstance(data, dict) else None
    message = str(data.get("message", "")) if isinstance(data, dict) else str(data)
    cls = getattr(errors, kind, None) if isinstance(kind, str) else None
    if (
        isinstance(cls, type)
        and issubclass(cls, errors.DataferryError)
        # made from a message alone: no class of ours on the way up takes other
        # arguments (the root's only other one is the optional cli_message)
        and not any(
            "__init__" in vars(k)
            for k in cls.__mro__
            if k.__module__ == errors.__name__ and k is not errors.DataferryError
        )
    ):
        cli = data.get("cli_message") if isinstance(data, dict) else None
        return cls(message, cli_message=str(cli) if cli else None)
    return AgentError(f"{kind}: {message}" if kind else message)


def connect_or_start(folder: Path, key: str) -> _socket.socket | None:
    """A connection to the agent for ``key``, started if none listens; None if it does
    not start (its log, ``agent-<key>.log``, says why)."""
    path = protocol.socket_path(folder, key)
    sock = _connect(path)
    if sock is not None:
        return sock
    spawned = _spawn(folder, key)
    started = time.monotonic()
    pause = 0.002
    while spawned is not None and time.monotonic() - started < START_TIMEOUT_S:
        time.sleep(pause)
        pause = min(pause * 1.5, 0.05)
        sock = _connect(path)
        if sock is not None:
            return sock
        # an agent that lost the race for the lock wrote no pid file: give the winner
        # a moment to write its own before concluding that none is starting
        if time.monotonic() - started > _GRACE_S and not _starting(folder, key):
            break
    print(
        f"dataferry: the local agent did not start (see {protocol.log_path(folder, key)}); "
        "submitting from this process",
        file=sys.stderr,
    )
    return None


def _connect(path: Path) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        protocol.socket_call(path, sock.connect)
    except OSError:  # none yet, or a dead agent's socket file
        sock.close()
        return None
    return sock


def _spawn(folder: Path, key: str) -> int | None:
    """Start an agent for ``key`` in a new session; None if no process could start.

    The started process takes the agent's lock, forks the agent, writes its pid file
    and exits at once (waited for here), so the agent is nobody's child.
    """
    log = os.fspath(protocol.log_path(folder, key))
    argv = [sys.executable, "-P", "-m", "dataferry.execution.agent", str(folder), key]
    try:
        pid = os.posix_spawn(
            sys.executable,
            argv,
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (
                    os.POSIX_SPAWN_OPEN,
                    1,
                    log,
                    os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                    0o600,
                ),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
    except OSError:
        return None
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return pid


def _starting(folder: Path, key: str) -> bool:
    """True while the agent for ``key`` named in its pid file is alive."""
    try:
        os.kill(int(protocol.pid_path(folder, key).read_text()), 0)
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False
    return True


def request(op: str, folder: Path, key: str) -> dict[str, Any] | None:
    """Send ``{"op": op}`` (``status``, ``stop``) to the running agent for ``key``; its
    answer, or None if none runs."""
    sock = _connect(protocol.socket_path(folder, key))
    if sock is None:
        return None
    try:
        sock.settimeout(10.0)
        protocol.send(sock, {"op": op})
        return protocol.receive(sock)
    except OSError:
        return None
    finally:
        sock.close()


def running_agents() -> list[dict[str, Any]]:
    """The status of each agent listening in the runtime folder (see
    ``Agent.status`` for the keys), oldest first; a dead agent's files are skipped."""
    folder = protocol.runtime_dir()
    found = []
    for sock_file in sorted(folder.glob("agent-*.sock")):
        key = sock_file.name.removeprefix("agent-").removesuffix(".sock")
        answer = request("status", folder, key)
        if answer is not None and "pid" in answer:
            found.append(answer)
    return sorted(found, key=lambda a: a.get("started", 0))


def stop_agents() -> list[int]:
    """Ask every agent in the runtime folder to stop; the pids of those that said they
    would. Runs they drive go on: their drivers are processes of their own."""
    folder = protocol.runtime_dir()
    stopped = []
    for status in running_agents():
        answer = request("stop", folder, str(status["key"]))
        if answer is not None and answer.get("stopping"):
            stopped.append(int(status["pid"]))
    return stopped
