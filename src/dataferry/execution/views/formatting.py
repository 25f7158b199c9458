"""How a duration is written, wherever a run or step is shown."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """``'0.6s'``, ``'2.5m'``, ``'1.2h'``; ``''`` for a run or step not started."""
    if seconds is None:
        return ""
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"
