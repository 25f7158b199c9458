"""How the run commands show runs: sizes, step counts and failure lines.

Durations are written by ``dataferry.execution.views.format_duration``, as everywhere.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dataferry.cli import render

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from dataferry.execution.views import StepView

_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_size(size_bytes: int | None) -> str:
    """``'512 B'``, ``'1.5 KB'`` (powers of 1024); ``''`` when unknown."""
    if size_bytes is None:
        return ""
    size = float(size_bytes)
    for unit in _SIZE_UNITS[:-1]:
        if size < 1024:
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {_SIZE_UNITS[-1]}"


def status_order() -> tuple[str, ...]:
    """The order statuses are counted in: as a run goes, then how it ended."""
    # imported here: the read model loads the catalog, which `dataferry --help` need not
    from dataferry.execution.views import RunStatus, StepStatus

    return (
        StepStatus.NOT_STARTED,
        StepStatus.PREPARING,
        StepStatus.RUNNING,
        RunStatus.CANCEL_REQUESTED,
        StepStatus.FINISHED,
        StepStatus.FAILED,
        StepStatus.CANCELED,
    )


def step_counts(statuses: Iterable[str]) -> str:
    """``'2 Finished, 1 Failed'``: how many steps are in each status."""
    counts = Counter(statuses)
    order = status_order()
    known = [s for s in order if s in counts]
    others = sorted(set(counts) - set(order))
    return ", ".join(f"{counts[s]} {s}" for s in known + others)


def status_text(rec: StepView) -> str:
    """A step's status, with what it is doing while it prepares:
    ``"Preparing: hashing input 'raw'"``."""
    return f"{rec.status}: {rec.stage}" if rec.stage else rec.status


def error_line(error: str | None) -> str:
    """An error's first line, and its last when the first only introduces the rest.

    ``"step 'x' failed (exit code 1):\\nTraceback ...\\nValueError: boom"`` becomes
    ``"step 'x' failed (exit code 1): ValueError: boom"``.
    """
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    if not lines:
        return ""
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0]


def step_note(rec: StepView) -> str:
    """Where a reused step's outputs came from, and why it was (not) reused."""
    parts = []
    if rec.reused_from:
        parts.append(f"reused from {rec.reused_from}")
    if rec.explanation:
        parts.append(rec.explanation)
    return "; ".join(parts)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str,
    whole: Sequence[str] = (),
) -> None:
    """``render.print_table`` with a title: the ``whole`` columns (ids) are never
    folded or cut, so they can be copied from a narrow terminal."""
    render.print_table(columns, rows, title=title, whole=whole)


def format_utc(stamp: datetime | None) -> str:
    """``'2026-11-23 15:08:13'`` in UTC (for a column headed so); ``''`` for None."""
    if stamp is None:
        return ""
    from datetime import UTC

    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")
