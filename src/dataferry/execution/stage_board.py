"""Which preparation stages to show: only those that last.

Most steps prepare in milliseconds; writing each of their stages to the catalog would
cost more than the stages themselves. A stage is shown once it has been a step's
current stage for ``shown_after_s``, so a user watching a slow preparation sees what it
does, and a fast one writes nothing but its status. Pure: the caller gives the times.
"""

from __future__ import annotations


class StageBoard:
    """The latest stage each preparing step reported, until it is due to be shown."""

    def __init__(self, shown_after_s: float) -> None:
        self.shown_after_s = shown_after_s
        self._pending: dict[str, tuple[str, float]] = {}

    def report(self, node_id: str, stage: str, at: float) -> None:
        """``node_id`` is doing ``stage`` since ``at`` (a monotonic time); it replaces
        the stage before, shown or not."""
        self._pending[node_id] = (stage, at)

    def forget(self, node_id: str) -> None:
        """The step is no longer preparing: none of its stages is to be shown."""
        self._pending.pop(node_id, None)

    def due(self, now: float) -> list[tuple[str, str]]:
        """``(node id, stage)`` for each stage current for ``shown_after_s`` by ``now``;
        each is returned once."""
        ready = [
            (node, stage)
            for node, (stage, at) in self._pending.items()
            if now - at >= self.shown_after_s
        ]
        for node, _ in ready:
            del self._pending[node]
        return ready

    def next_due(self) -> float | None:
        """When the next pending stage is due (a monotonic time); None if none is."""
        if not self._pending:
            return None
        return min(at for _, at in self._pending.values()) + self.shown_after_s
