"""A step that began preparing before its row says so: the move that ends its
preparation records both moves, each with its event, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import event

from dataferry.catalog.status import StepStatus
from dataferry.errors import StatusTransitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.catalog.run_store import RunStore

BEGAN = datetime(2024, 5, 1, 12, 0, 0, 125_000, tzinfo=UTC)
NOTE = {"doing": "fingerprinting"}


@pytest.fixture
def store(
    run_with_steps: Callable[[Sequence[tuple[str, str, str]]], RunStore],
) -> RunStore:
    return run_with_steps([("s1", "n1", "one"), ("s2", "n2", "two")])


def _history(store: RunStore, step_run_id: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (e.kind, dict(e.payload))
        for e in store.events_since("r1")
        if e.step_run_id == step_run_id
    ]


@pytest.mark.parametrize(
    "to", [StepStatus.RUNNING, StepStatus.FINISHED, StepStatus.FAILED]
)
def test_both_moves_in_one_transaction(store: RunStore, to: StepStatus) -> None:
    begins = []
    engine = store.catalog.engine

    def count(_conn: object) -> None:
        begins.append(1)

    event.listen(engine, "begin", count)
    try:
        store.move_step(
            "s1",
            to,
            preparing_since=BEGAN,
            preparing_note=NOTE,
            reuse={"reuse": False},
            explanation="why",
        )
    finally:
        event.remove(engine, "begin", count)
    assert len(begins) == 1
    assert _history(store, "s1") == [
        ("step_status", {"from": "NotStarted", "to": "Preparing", **NOTE}),
        ("reuse", {"reuse": False}),
        ("step_status", {"from": "Preparing", "to": str(to)}),
    ]
    began = next(e for e in store.events_since("r1") if e.step_run_id == "s1")
    assert began.time == BEGAN
    record = store.get_step_run("s1")
    assert (record.status, record.started_at, record.explanation) == (
        str(to),
        BEGAN,
        "why",
    )


def test_a_refused_move_writes_neither(store: RunStore) -> None:
    store.move_step("s2", StepStatus.PREPARING)
    with pytest.raises(
        StatusTransitionError,
        match=r"^step run s2 cannot go from Preparing to Preparing; from Preparing",
    ):
        store.move_step("s2", StepStatus.RUNNING, preparing_since=BEGAN)
    assert store.get_step_run("s2").status == "Preparing"
    assert [p["to"] for _, p in _history(store, "s2")] == ["Preparing"]


def test_a_move_shown_late_keeps_its_time(store: RunStore) -> None:
    store.move_step("s1", StepStatus.PREPARING, note=NOTE, at=BEGAN, started_at=BEGAN)
    (began,) = [e for e in store.events_since("r1") if e.step_run_id == "s1"]
    assert began.time == BEGAN
    assert store.get_step_run("s1").started_at == BEGAN
