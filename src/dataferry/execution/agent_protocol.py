"""Where the local agent listens and how its messages are framed.

The agent (``execution/agent.py``) is a resident process with dataferry's whole stack
imported; a submitting script talks to it over a Unix socket instead of importing
SQLAlchemy and starting a driver itself. One agent serves one user, one interpreter and
one version of dataferry's code: its *key* hashes the interpreter, where dataferry is
imported from, ``PYTHONPATH`` and the newest modification time of dataferry's modules,
so an edited or upgraded dataferry gets a new agent and the old one idles out.

Settings (environment variables):

* ``DATAFERRY_AGENT``: ``0``, ``off``, ``no`` or ``false`` to submit in-process.
* ``DATAFERRY_RUNTIME_DIR``: where sockets, locks and logs live; default
  ``$XDG_RUNTIME_DIR/dataferry``, else ``$TMPDIR/dataferry-<uid>`` (``/tmp``). It must be the user's
  own, mode 0700: anyone who can reach the socket can run code as the user.
* ``DATAFERRY_AGENT_IDLE_S``: seconds without a connection or a running driver after
  which the agent exits (default 600).

A message is a 4-byte big-endian length and that many bytes of UTF-8 JSON. Only the
standard library is imported here: this module is on the submitting script's path.
"""

from __future__ import annotations

import _socket  # the C module: ``socket`` builds enums that take 10 ms to import
import functools
import hashlib
import json
import os
import stat
import struct
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

_HEADER = struct.Struct(">I")
_MAX_MESSAGE = 1 << 31  # bytes; a 100,000-step plan is well under this
# the first message of a connection, read by the agent itself: a submission's
# environment is at most a few MB (the kernel's limit for exec), a status request bytes
MAX_FIRST_MESSAGE = 64 << 20
DEFAULT_IDLE_S = 600.0
_OFF = {"0", "off", "no", "false"}


class ProtocolError(OSError):
    """The other end closed the connection or sent something that is not a message."""


def enabled() -> bool:
    """True unless ``DATAFERRY_AGENT`` turns the agent off, or this system has no
    ``fork`` or Unix sockets."""
    if os.environ.get("DATAFERRY_AGENT", "").strip().lower() in _OFF:
        return False
    return hasattr(os, "fork") and hasattr(_socket, "AF_UNIX")


def idle_seconds() -> float:
    """``DATAFERRY_AGENT_IDLE_S`` as seconds (default 600); a bad value is the default."""
    try:
        value = float(os.environ.get("DATAFERRY_AGENT_IDLE_S", DEFAULT_IDLE_S))
    except ValueError:
        return DEFAULT_IDLE_S
    return value if value > 0 else DEFAULT_IDLE_S


def runtime_dir() -> Path:
    """The folder of the user's agents (see the module text); not created here."""
    given = os.environ.get("DATAFERRY_RUNTIME_DIR")
    if given:
        return Path(given)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "dataferry"
    # checked before use: this user's own, mode 0700 (private_runtime_dir)
    tmp = os.environ.get("TMPDIR") or "/tmp"  # noqa: S108
    return Path(tmp) / f"dataferry-{os.getuid()}"


def private_runtime_dir() -> Path | None:
    """The runtime folder, created if needed; None if it is not this user's alone
    (another owner, or readable or writable by others), where no agent may listen."""
    folder = runtime_dir()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return None
    if info.st_mode & 0o077:
        return None
    return folder


def code_key() -> str:
    """16 hex digits naming the agent this interpreter and this dataferry code need."""
    package, newest, count = _code_stamp()
    parts = (sys.executable, package, os.environ.get("PYTHONPATH", ""), newest, count)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


@functools.cache
def _code_stamp() -> tuple[str, str, str]:
    """The package folder, its newest ``.py`` mtime and its ``.py`` count, walked once a
    process: the code this process runs is what it imported, so a later edit does not
    change which agent it needs, and a submit that finds no agent does not walk twice."""
    package = Path(__file__).resolve().parent.parent
    newest = 0
    count = 0
    pending = [os.fspath(package)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    newest = max(newest, entry.stat().st_mtime_ns)
                    count += 1
    return os.fspath(package), str(newest), str(count)


def socket_path(folder: Path, key: str) -> Path:
    return folder / f"agent-{key}.sock"


def lock_path(folder: Path, key: str) -> Path:
    return folder / f"agent-{key}.lock"


def pid_path(folder: Path, key: str) -> Path:
    return folder / f"agent-{key}.pid"


def log_path(folder: Path, key: str) -> Path:
    return folder / f"agent-{key}.log"


def socket_call(path: Path, call: Callable[[str], None]) -> None:
    """``call(address)`` (a socket's ``bind`` or ``connect``) for the socket file
    ``path``, however long: a Unix socket address holds at most 107 bytes, so a longer
    path is reached through a descriptor of its folder (``/proc/self/fd/N/NAME``).

    Raises:
        OSError: as ``call`` does.
    """
    address = os.fspath(path)
    if len(os.fsencode(address)) < 100 or not hasattr(os, "O_PATH"):
        call(address)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        call(f"/proc/self/fd/{folder}/{path.name}")
    finally:
        os.close(folder)


def send(sock: _socket.socket, message: dict[str, Any]) -> None:
    """Send one message.

    Raises:
        OSError: the connection is gone (``BrokenPipeError`` and its kin).
    """
    body = json.dumps(message, separators=(",", ":")).encode()
    sock.sendall(_HEADER.pack(len(body)) + body)


def receive(sock: _socket.socket) -> dict[str, Any]:
    """Receive one message (blocking, within the socket's timeout).

    Raises:
        ProtocolError: the connection closed first, or the bytes are not a message.
        TimeoutError: the socket's timeout passed first.
    """
    (size,) = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
    _check_size(size, _MAX_MESSAGE)
    return _decode(_read_exactly(sock, size))


class FrameReader:
    """One message put together from bytes as they arrive, for a reader that serves
    many connections at once and must not wait on any one of them."""

    def __init__(self, limit: int = MAX_FIRST_MESSAGE) -> None:
        self._limit = limit
        self._header = b""
        self._size: int | None = None
        self._body: list[bytes] = []
        self._have = 0

    def wanted(self) -> int:
        """How many bytes to read next: never past the message's end, so what follows
        it stays on the connection for whoever reads on."""
        if self._size is None:
            return _HEADER.size - len(self._header)
        return min(self._size - self._have, 1 << 20)

    def feed(self, data: bytes) -> dict[str, Any] | None:
        """Take ``data`` (at most ``wanted()`` bytes); the message once it is whole.

        Raises:
            ProtocolError: the length is over the limit, or the bytes are not a message.
        """
        if self._size is None:
            self._header += data
            if len(self._header) < _HEADER.size:
                return None
            (self._size,) = _HEADER.unpack(self._header)
            _check_size(self._size, self._limit)
        else:
            self._body.append(data)
            self._have += len(data)
        if self._have < self._size:
            return None
        return _decode(b"".join(self._body))


def hello_problem(message: dict[str, Any]) -> str | None:
    """What is wrong with a ``submit`` message (see ``agent_client``), or None."""
    for field, kind in (("workspace", str), ("env", dict), ("umask", int)):
        value = message.get(field)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"field {field!r} must be a {kind.__name__}, not {_kind(value)}"
    cwd = message.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        return f"field 'cwd' must be a str or null, not {_kind(cwd)}"
    for name, value in message["env"].items():
        if (
            not isinstance(value, str)
            or not name
            or "=" in name
            or "\0" in name + value
        ):
            return (
                f"field 'env': variable {name[:40]!r} must have a name without '=' and "
                "a str value, neither holding a NUL byte"
            )
    if not 0 <= message["umask"] <= 0o777:
        return f"field 'umask' must be between 0 and 0o777, not {message['umask']}"
    if not os.path.isabs(message["workspace"]):
        return (
            f"field 'workspace' must be an absolute path, not {message['workspace']!r}"
        )
    return None


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__


def _check_size(size: int, limit: int) -> None:
    if size > limit:
        raise ProtocolError(f"a message of {size} bytes is over the limit of {limit}")


def _decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"not a message: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("not a message: not a JSON object")
    return message


def _read_exactly(sock: _socket.socket, size: int) -> bytes:
    chunks = []
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("the connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
