"""Progress of one transfer (upload or download): bytes and files done of the total,
rate and time left, counted as the bytes move (inside a large file too).

A ``TransferProgress`` is fed by the copies themselves: a local copy reports each chunk
it writes, an fsspec transfer reports through ``ByteCallback`` (fsspec's callback of
``put``/``get``, branched per file). It tells ``report`` (a preparation's stage) as it
goes, and, when shown, draws a bar on a terminal (rich, on stderr) or writes a plain
line every ``PLAIN_EVERY_S`` off it; ``close`` gives the one-line summary.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from dataferry._record import record

if TYPE_CHECKING:
    from collections.abc import Callable

PLAIN_EVERY_S = 5.0  # off a terminal, a progress line this often
_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_bytes(size: float) -> str:
    """``'512 B'``, ``'1.5 MB'`` (powers of 1024)."""
    for unit in _UNITS[:-1]:
        if size < 1024:
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {_UNITS[-1]}"


def _seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"


@record(frozen=True, slots=True)
class TransferSnapshot:
    """Where a transfer is: ``bytes_done`` of ``total_bytes``, ``files_done`` of
    ``total_files``, after ``elapsed_s`` seconds."""

    bytes_done: int
    total_bytes: int
    files_done: int
    total_files: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Bytes per second so far (0 before any time has passed)."""
        return self.bytes_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def left_s(self) -> float | None:
        """Seconds left at the rate so far; None before any byte has moved."""
        if not self.rate:
            return None
        return max(self.total_bytes - self.bytes_done, 0) / self.rate

    def describe(self) -> str:
        """``'12.0 MB of 40.0 MB, 1 of 3 files, 6.0 MB/s, 4.7s left'``."""
        text = (
            f"{format_bytes(self.bytes_done)} of {format_bytes(self.total_bytes)}, "
            f"{self.files_done} of {self.total_files} files, "
            f"{format_bytes(self.rate)}/s"
        )
        left = self.left_s
        return text if left is None else f"{text}, {_seconds(left)} left"


class TransferProgress:
    """Counts one transfer's bytes and files (from any thread) and shows them.

    ``label`` says what moves where (``'uploading to datastore 'raw''``); ``done_label``
    how the summary starts (``'uploaded'``). ``show`` prints the summary on stderr
    (when anything was moved or skipped), and, with ``live``, the progress meanwhile;
    ``report`` is called with each new snapshot (at most every ``report_every_s``).
    """

    def __init__(
        self,
        label: str,
        done_label: str,
        *,
        total_bytes: int,
        total_files: int,
        show: bool,
        live: bool = True,
        report: Callable[[TransferSnapshot], None] | None = None,
        report_every_s: float = 0.0,
    ) -> None:
        self.label, self.done_label = label, done_label
        self.total_bytes, self.total_files = total_bytes, total_files
        self._bytes = self._files = 0
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._report, self._report_every_s = report, report_every_s
        self._next_report = self._start
        self._next_line = self._start + PLAIN_EVERY_S
        self._bar: Any = None
        self._show = show
        self._live = show and live
        if self._live and sys.stderr.isatty():
            self._bar = _bar(label, total_bytes)
        elif self._live:
            self._line(f"{label}: {self.snapshot().describe()}")

    def snapshot(self) -> TransferSnapshot:
        """Where the transfer is now."""
        return TransferSnapshot(
            self._bytes,
            self.total_bytes,
            self._files,
            self.total_files,
            time.monotonic() - self._start,
        )

    def advance(self, n_bytes: int) -> None:
        """``n_bytes`` more have moved."""
        if n_bytes <= 0:  # fsspec calls back when it learns a size, too
            return
        with self._lock:
            self._bytes += n_bytes
        self._tell()

    def file_done(self) -> None:
        """One more file has moved whole."""
        with self._lock:
            self._files += 1
        self._tell(force=True)

    def _tell(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._report is not None and (force or now >= self._next_report):
            self._next_report = now + self._report_every_s
            self._report(self.snapshot())
        if self._bar is not None:
            self._bar.update(self._bar.task_ids[0], completed=self._bytes)
        elif self._live and now >= self._next_line:
            self._next_line = now + PLAIN_EVERY_S
            self._line(f"{self.label}: {self.snapshot().describe()}")

    def close(self, *, skipped: int = 0) -> str:
        """Stop showing; return the summary line (printed when shown): ``'uploaded 3
        files (40.0 MB) to datastore 'raw' in 2.1s (19.0 MB/s); 2 files skipped:
        already there (pass overwrite=True to replace)'``."""
        if self._bar is not None:
            self._bar.stop()
        snap = self.snapshot()
        where = self.label.split(" ", 1)[1] if " " in self.label else ""
        text = (
            f"{self.done_label} {_files(snap.files_done)} "
            f"({format_bytes(snap.bytes_done)}) {where} in {_seconds(snap.elapsed_s)} "
            f"({format_bytes(snap.rate)}/s)"
        )
        if skipped:
            text += (
                f"; {_files(skipped)} skipped: already there "
                "(pass overwrite=True to replace)"
            )
        if self._show and (self.total_files or skipped):
            self._line(text)
        return text

    @staticmethod
    def _line(text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        sys.stderr.write(f"{stamp} {text}\n")
        sys.stderr.flush()


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _bar(label: str, total: int) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    bar.add_task(label, total=total)
    bar.start()
    return bar


def byte_callback(progress: TransferProgress) -> Any:
    """An fsspec ``Callback`` for a bulk ``put``/``get``: each file's bytes go to
    ``progress`` as they move, and each finished file counts once."""
    from fsspec.callbacks import Callback

    class _File(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._seen = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            progress.advance(self.value - self._seen)
            self._seen = self.value

        def close(self) -> None:
            progress.file_done()

    class _Bulk(Callback):  # type: ignore[misc]
        def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
            return _File()

    return _Bulk()
