"""How the driver's loop sleeps: until a step's process ends, another thread has news,
or a timeout passes (for the checks nothing signals, such as a cancel in the catalog).

Another thread wakes the loop by writing one byte to a pipe the loop also waits on
(the self-pipe trick), so a finished preparation is seen at once, not on the next poll.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class Wakeup:
    """A sleep that ends early on readable file descriptors or ``wake()``."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._on_signals = False

    def wake_on_signals(self) -> None:
        """Let any signal this process handles end a ``wait`` too (main thread only)."""
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._on_signals = True

    def wake(self) -> None:
        """End the current (or the next) ``wait`` at once; safe from any thread."""
        # a full pipe already holds a wake-up for the loop
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"\0")

    def wait(self, fds: Iterable[int], timeout_s: float) -> None:
        """Sleep until one of ``fds`` is readable, ``wake()`` is called, or
        ``timeout_s`` passes."""
        poller = select.poll()
        poller.register(self._read, select.POLLIN)
        for fd in fds:
            poller.register(fd, select.POLLIN)
        poller.poll(max(timeout_s, 0.0) * 1000)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 4096):
                pass

    def close(self) -> None:
        """Close the pipe."""
        os.close(self._read)
        os.close(self._write)
