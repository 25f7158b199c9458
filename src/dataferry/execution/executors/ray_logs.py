"""A step's logs from the node that runs it to the driver's log files, as it runs.

On the step-runner path the script writes its stdout and stderr in the step's folder
on its node, which the driver cannot read. The node's ``LogTail`` sends what the
files gained, every ``SEND_EVERY_S``, to the run's ``LogRelay`` (a Ray actor the
driver made, kept on the driver's node); the driver ``take``s the chunks and appends
them to the step's log files in its folder (the run's log store, that ``runs logs``
and the page read), every ``PULL_EVERY_S`` and once more when the task has ended.
The tail sends its last chunk and waits for it before the task returns, so the
driver's files are whole once the step has ended. Only log bytes travel as objects.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any

from dataferry._extras import import_extra

if TYPE_CHECKING:
    from collections.abc import Mapping

SEND_EVERY_S = 0.5
PULL_EVERY_S = 0.5
CHUNK_BYTES = 1 << 20  # one object per send at most this big: a chatty step streams
_FLUSH_WAIT_S = 10.0
_TAKE_WAIT_S = 10.0


class LogRelay:
    """Holds log chunks nodes sent until the driver takes them (a Ray actor's class).

    Keys are step run ids; a chunk is ``(stream, bytes)`` with stream ``stdout`` or
    ``stderr``, kept in the order sent.
    """

    def __init__(self) -> None:
        self._chunks: dict[str, list[tuple[str, bytes]]] = {}

    def put(self, key: str, stream: str, data: bytes) -> None:
        """Keep ``data`` of ``stream`` for the step ``key``."""
        self._chunks.setdefault(key, []).append((stream, data))

    def take(self, key: str) -> list[tuple[str, bytes]]:
        """The chunks of the step ``key`` sent since the last take, in order."""
        return self._chunks.pop(key, [])


class LogTail:
    """On the node: sends what the step's log files gain to the relay while it runs.

    Args:
        relay: the ``LogRelay`` actor handle the driver passed to the task.
        key: the step run id.
        paths: ``{"stdout": path, "stderr": path}``; only bytes written after the
            tail was made are sent (a retry on the same node sends only its own).
    """

    def __init__(self, relay: Any, key: str, paths: Mapping[str, str]) -> None:
        self._relay, self._key = relay, key
        self._offsets = {stream: _size(path) for stream, path in paths.items()}
        self._paths = dict(paths)
        self._stop = threading.Event()
        self._last: Any = None  # the ref of the last chunk sent
        self._thread = threading.Thread(target=self._loop, daemon=True, name="logs")

    def __enter__(self) -> LogTail:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Send what is left and wait until the relay has it (bounded)."""
        self._stop.set()
        self._thread.join()
        if self._last is not None:
            ray = import_extra("ray", "ray", "sending a step's logs to the driver")
            # the logs are a copy: the step's outcome does not depend on them, and a
            # relay that is gone (its driver ended) must not fail the step
            with contextlib.suppress(Exception):
                ray.get(self._last, timeout=_FLUSH_WAIT_S)

    def _loop(self) -> None:
        while not self._stop.wait(SEND_EVERY_S):
            self._send()
        self._send()

    def _send(self) -> None:
        for stream, path in self._paths.items():
            while data := _read(path, self._offsets[stream], CHUNK_BYTES):
                self._offsets[stream] += len(data)
                with contextlib.suppress(Exception):  # see __exit__: a copy
                    self._last = self._relay.put.remote(self._key, stream, data)


def append_taken(relay: Any, key: str, paths: Mapping[str, str]) -> None:
    """On the driver: append the chunks the relay holds for step ``key`` to its log
    files ``paths`` (``{"stdout": path, "stderr": path}``).

    A relay that cannot be reached is skipped: the node keeps the whole logs in its
    folder, and the step's outcome does not depend on this copy.
    """
    ray = import_extra("ray", "ray", "receiving a step's logs from its node")
    try:
        chunks = ray.get(relay.take.remote(key), timeout=_TAKE_WAIT_S)
    except (ray.exceptions.RayError, TimeoutError):
        return
    files: dict[str, Any] = {}
    try:
        for stream, data in chunks:
            if stream not in files:
                files[stream] = open(paths[stream], "ab")  # noqa: SIM115 closed below
            files[stream].write(data)
    finally:
        for fh in files.values():
            fh.close()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read(path: str, offset: int, limit: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(limit)
    except OSError:
        return b""
