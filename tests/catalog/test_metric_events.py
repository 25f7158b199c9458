"""Logging metrics announces them with coalesced ``metrics`` events (a page follows
them): the first value of a burst at once, then at most one per ``COALESCE_S`` per
process, on a real SQLite catalog."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dataferry.catalog import metric_events
from dataferry.catalog.status import EventKind

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import pytest

    from dataferry.catalog.run_store import RunStore

    Make = Callable[[Sequence[tuple[str, str, str]]], RunStore]


def announced(store: RunStore) -> list[tuple[str | None, dict[str, object]]]:
    events = store.events_since("r1", 0)
    return [(e.step_run_id, e.payload) for e in events if e.kind == EventKind.METRICS]


def test_a_burst_of_values_is_one_event(run_with_steps: Make) -> None:
    store = run_with_steps([("r1-a", "n0", "a")])
    began = time.monotonic()
    for i in range(500):
        store.log_metric("r1-a", "loss" if i < 250 else "acc", "scalar", i)
    windows = (time.monotonic() - began) / metric_events.COALESCE_S
    events = announced(store)
    assert events[0] == ("r1-a", {"metric": "loss"})
    # leading edge of each window the burst spanned, never one per value
    assert 1 <= len(events) <= int(windows) + 1
    assert len(store.metrics_of(["r1-a"])) == 500


def test_each_window_and_each_owner_is_announced(
    run_with_steps: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metric_events, "COALESCE_S", 0.2)
    store = run_with_steps([("r1-x", "n0", "x"), ("r1-y", "n1", "y")])
    store.log_metric("r1-x", "first", "scalar", 1)
    store.log_metric("r1-x", "soon", "scalar", 2)  # in the window: no event
    store.log_metric("r1-y", "other", "scalar", 3)  # another step run: its own
    store.log_metric("r1", "whole", "scalar", 4)  # the pipeline run itself
    time.sleep(0.3)
    store.log_metric("r1-x", "later", "scalar", 5)  # a new window
    assert announced(store) == [
        ("r1-x", {"metric": "first"}),
        ("r1-y", {"metric": "other"}),
        (None, {"metric": "whole"}),
        ("r1-x", {"metric": "later"}),
    ]
