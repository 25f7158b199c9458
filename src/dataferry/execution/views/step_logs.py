"""A step's log read by byte range: what a page shows of a log that may be huge
(``/api/runs/{id}/steps/{step}/log?offset=&length=``), one page at a time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataferry.errors import LogOffsetError, LogStreamError, StepNotFoundError
from dataferry.execution.views.logs import read_log_chunk
from dataferry.execution.views.runs import run_detail

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.data.workspace import Workspace

STREAMS = ("stdout", "stderr")
# a page of a log: big enough for a screenful, small enough to never stall a browser
MAX_RANGE = 4 << 20


@dataclass(frozen=True, slots=True)
class LogRange:
    """Bytes ``offset``..``end`` of a step's ``stream`` log as text, of ``size`` bytes
    in all. ``more`` says bytes follow ``end``; ``restarted`` that the log was written
    anew (a resumed step) and shorter than ``offset``, so the range starts at 0."""

    stream: str
    offset: int
    end: int
    size: int
    text: str
    more: bool
    restarted: bool
    final: bool


def step_log_file(
    workspace: Workspace, run_id: str, step_name: str, stream: str
) -> tuple[Path | None, bool]:
    """The log file of ``stream`` of the run's step ``step_name`` (its last attempt)
    and whether the step has ended; the path is None before the step has a folder.

    Raises:
        RunNotFoundError: no run has that id.
        StepNotFoundError: the run has no step of that name.
        LogStreamError: ``stream`` is neither ``stdout`` nor ``stderr``.
    """
    if stream not in STREAMS:
        raise LogStreamError(
            f"log stream {stream!r} of step '{step_name}' does not exist; pass "
            "stream=stdout or stream=stderr."
        )
    steps = [s for s in run_detail(workspace, run_id).steps if s.name == step_name]
    if not steps:
        names = sorted({s.name for s in run_detail(workspace, run_id).steps})
        raise StepNotFoundError(
            f"run '{run_id}' has no step '{step_name}'; its steps are "
            f"{', '.join(names) or 'none'}."
        )
    step = steps[-1]
    files = dict(step.log_files())
    return files.get(stream), step.is_terminal


def read_log_range(
    workspace: Workspace,
    run_id: str,
    step_name: str,
    *,
    stream: str = "stdout",
    offset: int = 0,
    length: int = 65536,
) -> LogRange:
    """At most ``length`` bytes of a step's log from byte ``offset``, cut at whole
    lines (a line longer than ``length`` at a whole character). A log not written
    yet is an empty range of size 0.

    Raises:
        RunNotFoundError, StepNotFoundError, LogStreamError: as ``step_log_file``.
        LogOffsetError: ``offset`` is negative, or ``length`` is not in 4..4 MiB.
    """
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise LogOffsetError(
            f"log range of step '{step_name}': offset {offset!r} is not a byte "
            "position; pass 0 or the `end` of the range read before."
        )
    if isinstance(length, bool) or not isinstance(length, int):
        raise LogOffsetError(f"log length {length!r} is not a number of bytes.")
    if not 4 <= length <= MAX_RANGE:
        raise LogOffsetError(
            f"log range of step '{step_name}': length {length} is out of range; "
            f"pass 4 to {MAX_RANGE} bytes and read on from the returned `end`."
        )
    path, final = step_log_file(workspace, run_id, step_name, stream)
    if path is None:
        return LogRange(stream, offset, offset, 0, "", False, False, final)
    chunk = read_log_chunk(path, offset, final=final, max_bytes=length)
    size = os.path.getsize(path) if path.exists() else 0
    return LogRange(
        stream,
        chunk.offset,
        chunk.end,
        size,
        chunk.text,
        chunk.more,
        chunk.restarted,
        final,
    )
