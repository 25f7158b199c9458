"""A step's log searched for a text, a bounded slice at a time: the page's log search
(``/api/runs/{id}/steps/{step}/log/search?q=&after=``). A 1 GB log is never read in
one request: each reads at most ``SCAN_BYTES`` and says where to go on (``next``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from dataferry.errors import LogOffsetError, LogSearchError
from dataferry.execution.views.step_logs import step_log_file

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

SCAN_BYTES = 64 << 20  # bytes one search reads at most: a fraction of a second
BLOCK = 1 << 20
MAX_LINE = 1 << 20  # a longer line is searched in pieces of this size
MAX_QUERY = 200  # characters
MAX_MATCHES = 1000
SHOWN = 400  # characters of a matching line returned


@dataclass(frozen=True, slots=True)
class LogMatch:
    """A matching line: bytes ``offset``..``end`` of the log (``end`` after its
    newline), its text cut to ``SHOWN`` characters."""

    offset: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class LogSearch:
    """The lines of a step's ``stream`` log from byte ``after`` on that contain
    ``query`` (ASCII letters in any case). ``next`` is where to search on (None: the
    search reached the log's end); ``size`` the log's size when searched."""

    stream: str
    query: str
    after: int
    matches: tuple[LogMatch, ...]
    next: int | None
    size: int


def search_log(
    workspace: Workspace,
    run_id: str,
    step_name: str,
    query: str,
    *,
    stream: str = "stdout",
    after: int = 0,
    limit: int = 100,
) -> LogSearch:
    """Up to ``limit`` lines containing ``query``, from byte ``after`` (0, or a
    ``next`` returned before), reading at most ``SCAN_BYTES`` of the log. A running
    step's last line, still being written, is left for a later search.

    Raises:
        RunNotFoundError, StepNotFoundError, LogStreamError: as ``step_log_file``.
        LogSearchError: ``query`` is empty, holds a line break or is longer than
            ``MAX_QUERY`` characters; ``limit`` is not 1..``MAX_MATCHES``.
        LogOffsetError: ``after`` is negative.
    """
    needle = _needle(step_name, query)
    if not 1 <= limit <= MAX_MATCHES:
        raise LogSearchError(
            f"log search of step '{step_name}': limit {limit} is out of range; "
            f"pass 1 to {MAX_MATCHES} and search on from the returned `next`."
        )
    if after < 0:
        raise LogOffsetError(
            f"log search of step '{step_name}': after={after} is not a byte "
            "position; pass 0 or the `next` of the search before."
        )
    path, final = step_log_file(workspace, run_id, step_name, stream)
    if path is None or not path.exists():
        return LogSearch(stream, query, after, (), None, 0)
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        fh.seek(min(after, size))
        matches, stop = _scan(fh, min(after, size), needle, limit, final=final)
    return LogSearch(stream, query, after, tuple(matches), stop, size)


def _needle(step_name: str, query: str) -> bytes:
    if not query or not query.strip():
        raise LogSearchError(
            f"log search of step '{step_name}': the text to find is empty; pass q=<text>."
        )
    if "\n" in query or "\r" in query or len(query) > MAX_QUERY:
        raise LogSearchError(
            f"log search of step '{step_name}': the text to find must be one line of "
            f"at most {MAX_QUERY} characters (got {len(query)} characters)."
        )
    return query.encode("utf-8").lower()


def _scan(
    fh: BinaryIO, start: int, needle: bytes, limit: int, *, final: bool
) -> tuple[list[LogMatch], int | None]:
    """The matches from ``start`` (a line's start) and where to go on (None: the
    end). Whole lines only: a block's last, unfinished line is carried over."""
    matches: list[LogMatch] = []
    at, carry = start, b""  # ``at``: the file offset of ``carry``'s first byte
    while at - start < SCAN_BYTES and len(matches) < limit:
        block = fh.read(BLOCK)
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if not block:  # the end: a running step's last line may still grow
            cut = len(data) if final else cut
        elif cut == 0 and len(data) >= MAX_LINE:
            cut = len(data)  # one huge line: searched in pieces
        room = limit - len(matches)
        found, done = _lines(data[:cut], at, needle, room)
        matches += found
        if done is not None:  # the limit was reached inside this block
            return matches, done
        if not block:
            return matches, None
        at, carry = at + cut, data[cut:]
    return matches, at


def _lines(
    data: bytes, base: int, needle: bytes, room: int
) -> tuple[list[LogMatch], int | None]:
    """The lines of ``data`` (whole lines at file offset ``base``) holding
    ``needle``; if ``room`` of them were found, also the offset after the last."""
    found: list[LogMatch] = []
    low, pos = data.lower(), 0
    while (hit := low.find(needle, pos)) >= 0:
        begin = data.rfind(b"\n", 0, hit) + 1
        end = data.find(b"\n", hit) + 1 or len(data)
        text = data[begin:end].decode("utf-8", "replace").rstrip("\r\n")
        found.append(LogMatch(base + begin, base + end, text[:SHOWN]))
        pos = end
        if len(found) == room:
            return found, base + end
    return found, None
