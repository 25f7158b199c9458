"""Reading what a process writes to a pipe, line by line, while it runs."""

from __future__ import annotations

import queue
import re
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

CLOCK = re.compile(r"^\d\d:\d\d:\d\d \[")


def untimed(lines: list[str]) -> list[str]:
    """The timestamped lines without their time: ``'[step] text'``."""
    return [line[9:] for line in lines if CLOCK.match(line)]


class Lines:
    """The lines a process writes, read in a thread as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def to_end(self, timeout_s: float = 60.0) -> None:
        """Read the rest, up to the end of the stream."""
        while (line := self._queue.get(timeout=timeout_s)) is not None:
            self.seen.append(line)

    def until(self, wanted: str, timeout_s: float = 60.0) -> list[str]:
        """Read until a line without its time is ``wanted``; every line read so far."""
        deadline = time.monotonic() + timeout_s
        while True:
            line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.01))
            if line is None:
                raise AssertionError(f"ended before {wanted!r}: {self.seen}")
            self.seen.append(line)
            if CLOCK.match(line) and line[9:] == wanted:
                return self.seen
