"""A temporary file that a parallel download fills while a reader reads it in order.

A CSV read from blob used to wait for the whole file before parsing. Here the SDK's
parallel download (``download_blob(max_concurrency=...).readinto``) writes its blocks
into a temporary file at their offsets, in any order; readers read from the start and
wait only for the bytes they reach (the contiguous part written so far). The SDK
sends every block after the first on condition of the first one's etag, so a blob
overwritten meanwhile fails the download rather than mixing versions.

The file is unlinked as soon as it is made: it goes with its descriptor, which is
closed when both the download and the reading side are done.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import ReadableBuffer, WriteableBuffer


class DownloadCancelled(Exception):
    """The reading side left: the download's remaining blocks are not written."""


class GrowingFile:
    """``size`` bytes arriving in any order through ``writer()``, read in order through
    ``reader()`` (any number of readers, each from the start; thread-safe)."""

    def __init__(self, size: int) -> None:
        handle, path = tempfile.mkstemp(prefix="dataferry-read-")
        os.unlink(path)
        self.size = size
        self._fd = handle
        self._cond = threading.Condition()
        self._ready = 0  # bytes [0, _ready) are written
        self._pieces: dict[int, int] = {}  # written ranges beyond: start -> end
        self._error: BaseException | None = None
        self._writing = True
        self._reading = True

    def writer(self) -> _Writer:
        """The seekable sink the download writes into (one writer at a time)."""
        return _Writer(self)

    def reader(self) -> _Reader:
        """A new reader from the start of the file."""
        return _Reader(self)

    def run(self, download: Callable[[_Writer], object]) -> threading.Thread:
        """Run ``download(writer)`` in a thread of its own; its failure goes to the
        readers (raised where they read); a short download is reported as one."""

        def fill() -> None:
            try:
                download(self.writer())
                with self._cond:
                    if self._ready < self.size:
                        raise ConnectionError(
                            f"the download ended after {self._ready} of {self.size} "
                            "bytes"
                        )
            except BaseException as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
            finally:
                self._ended(writing=True)

        thread = threading.Thread(target=fill, name="dataferry-read", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """The reading side is done: the download stops writing, the file goes."""
        self._ended(writing=False)

    def _ended(self, *, writing: bool) -> None:
        with self._cond:
            if writing:
                self._writing = False
            else:
                self._reading = False
            last = not self._writing and not self._reading and self._fd >= 0
            if last:
                os.close(self._fd)
                self._fd = -1

    def _written(self, start: int, end: int) -> None:
        with self._cond:
            if not self._reading:
                raise DownloadCancelled("the reader has left")
            self._pieces[start] = end
            while self._ready in self._pieces:
                self._ready = self._pieces.pop(self._ready)
            self._cond.notify_all()

    def _available(self, pos: int) -> int:
        """Bytes readable from ``pos`` without waiting, once some are (0: the end).

        Raises:
            The download's error, once it failed before reaching ``pos``.
        """
        with self._cond:
            while self._ready <= pos < self.size:
                if self._error is not None:
                    raise self._error
                self._cond.wait()
            return max(self._ready - pos, 0) if pos < self.size else 0


class _Writer(io.RawIOBase):
    """What the SDK writes the blob into: seek to a block's offset, then write it."""

    def __init__(self, target: GrowingFile) -> None:
        super().__init__()
        self._target, self._pos = target, 0

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos}.get(whence)
        if base is None:  # SEEK_END: the SDK never asks it
            raise io.UnsupportedOperation("seek from the end")
        self._pos = base + offset
        return self._pos

    def write(self, data: ReadableBuffer) -> int:
        view = memoryview(data).cast("B")
        start, done = self._pos, 0
        while done < len(view):
            done += os.pwrite(self._target._fd, view[done:], start + done)
        self._pos += done
        self._target._written(start, self._pos)
        return done


class _Reader(io.RawIOBase):
    """Reads the file in order, waiting for bytes not yet written."""

    def __init__(self, target: GrowingFile) -> None:
        super().__init__()
        self._target, self._pos = target, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        n = min(len(view), self._target._available(self._pos))
        if n == 0:
            return 0
        data = os.pread(self._target._fd, n, self._pos)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)
