"""Log chunks since a byte offset: the one way step logs and the driver log are tailed.

A log file only grows while its process writes it; a resumed step writes its log anew.
A chunk never ends inside a UTF-8 character, and, unless the read is final, never
inside a line: what is cut off is read again, whole, by the next call.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import LogOffsetError
from dataferry.execution.views.model import LogChunk

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

    from dataferry.execution.views.model import StepView

# a chunk's upper bound: a tail of a large log prints it in pieces of this size
CHUNK_BYTES = 1 << 20


def read_log_chunk(
    path: str | os.PathLike[str],
    offset: int = 0,
    *,
    final: bool = False,
    max_bytes: int = CHUNK_BYTES,
) -> LogChunk:
    """The text of ``path`` from byte ``offset``: whole lines, at most ``max_bytes``.

    With ``final`` (the writer has ended) a last line without a line break is
    included, and bytes that are not UTF-8 are shown as U+FFFD. A file that does not
    exist yet gives an empty chunk at ``offset``.

    Raises:
        LogOffsetError: ``offset`` is negative or ``max_bytes`` is below 4 (the longest
            UTF-8 character must fit).
    """
    _check(path, offset, max_bytes)
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            restarted = size < offset
            start = 0 if restarted else offset
            fh.seek(start)
            data = fh.read(max_bytes)
    except FileNotFoundError:  # its process has not written anything yet
        return LogChunk(Path(path), offset, offset, "", False, False)
    more = start + len(data) < size
    keep = _keep(data, final=final and not more, more=more)
    text = data[:keep].decode("utf-8", errors="replace")
    return LogChunk(Path(path), start, start + keep, text, restarted, more)


def _check(path: str | os.PathLike[str], offset: int, max_bytes: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise LogOffsetError(
            f"log {path}: offset {offset!r} is not a byte position; pass 0 or the "
            "`end` of the chunk read before."
        )
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 4:
        raise LogOffsetError(
            f"log {path}: max_bytes {max_bytes!r} is too small; pass at least 4, so "
            "that any UTF-8 character fits."
        )


def _keep(data: bytes, *, final: bool, more: bool) -> int:
    """How many bytes of ``data`` make the chunk: all when final, else whole lines;
    a line longer than a whole chunk is cut after its last whole character."""
    if final:
        return len(data)
    line_end = data.rfind(b"\n") + 1
    if line_end:
        return line_end
    return _whole_characters(data) if more else 0


def _whole_characters(data: bytes) -> int:
    """The length of ``data`` without a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing after it is a started character
            return len(data)
        if byte >= 0xC0:  # a lead byte: its character needs this many bytes
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if back < needed else len(data)
    return len(data)  # continuation bytes only: not UTF-8, shown as U+FFFD


class LogTail:
    """Follows log files: each call returns the lines written since the last one.

    A line still being written is held back until it is complete, or until ``final``.
    """

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}

    def lines(self, path: str | os.PathLike[str], *, final: bool) -> list[str]:
        """The new lines of one file (every piece of a file that grew a lot)."""
        key = Path(path)
        lines: list[str] = []
        while True:
            chunk = read_log_chunk(key, self._offsets.get(key, 0), final=final)
            self._offsets[key] = chunk.end
            lines += chunk.lines
            if not chunk.more:
                return lines

    def step_lines(self, step: StepView, *, final: bool) -> Iterator[tuple[str, str]]:
        """``(stream, line)`` for the new lines of a step's stdout, then its stderr."""
        for stream, path in step.log_files():
            for line in self.lines(path, final=final):
                yield stream, line


def read_whole_log(path: str | os.PathLike[str]) -> str:
    """A log file's whole text (``''`` if it does not exist)."""
    chunks = []
    offset = 0
    while True:
        chunk = read_log_chunk(path, offset, final=True)
        chunks.append(chunk.text)
        offset = chunk.end
        if not chunk.more:
            return "".join(chunks)
