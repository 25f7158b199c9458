"""Moving many step runs at once: the rows and events of one move per step, in one
transaction, and nothing written when any move is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from dataferry.catalog.status import StepStatus
from dataferry.errors import RunNotFoundError, StatusTransitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.catalog.run_store import RunStore

STEPS = 1_203  # more than two chunks of ids


@pytest.fixture
def store(
    run_with_steps: Callable[[Sequence[tuple[str, str, str]]], RunStore],
) -> RunStore:
    return run_with_steps([(f"s{i}", f"n{i}", f"step{i}") for i in range(STEPS)])


def step_events(store: RunStore) -> list[tuple[str | None, dict[str, Any]]]:
    return [
        (e.step_run_id, dict(e.payload))
        for e in store.events_since("r1", limit=100_000)
        if e.kind == "step_status"
    ]


WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class TestMoveSteps:
    def test_each_step_moves_with_its_values_and_one_event_in_order(
        self, store: RunStore
    ) -> None:
        store.move_step("s7", StepStatus.PREPARING)
        order = [f"s{i}" for i in reversed(range(STEPS))]  # not the insertion order
        moves = [
            (i, {"ended_at": WHEN, "details": {"error": f"why {i}"}}) for i in order
        ]
        before = step_events(store)

        store.move_steps(StepStatus.CANCELED, moves)

        records = {r.id: r for r in store.step_runs("r1")}
        assert {r.status for r in records.values()} == {StepStatus.CANCELED}
        assert records["s5"].details == {"error": "why s5"}
        assert records["s5"].ended_at is not None
        added = step_events(store)[len(before) :]
        assert added == [
            (i, {"from": "Preparing" if i == "s7" else "NotStarted", "to": "Canceled"})
            for i in order
        ]

    def test_steps_with_other_columns_move_together(self, store: RunStore) -> None:
        store.move_steps(
            StepStatus.CANCELED,
            [("s1", {"details": {"error": "a"}}), ("s2", {"exit_code": 3})],
        )

        one, two = store.get_step_run("s1"), store.get_step_run("s2")
        assert (one.status, one.details, one.exit_code) == (
            "Canceled",
            {"error": "a"},
            None,
        )
        assert (two.status, two.details, two.exit_code) == ("Canceled", {}, 3)

    def test_a_refused_move_writes_nothing(self, store: RunStore) -> None:
        store.move_step("s3", StepStatus.PREPARING)
        store.move_step("s3", StepStatus.RUNNING)
        store.move_step("s3", StepStatus.FINISHED)
        before = step_events(store)

        with pytest.raises(
            StatusTransitionError,
            match=r"^step run s3 cannot go from Finished to Canceled; ",
        ):
            store.move_steps(
                StepStatus.CANCELED,
                [(f"s{i}", {"details": {"error": "x"}}) for i in range(STEPS)],
            )

        assert store.get_step_run("s0").status == "NotStarted"
        assert store.get_step_run("s3").status == "Finished"
        assert step_events(store) == before

    def test_an_unknown_step_run_writes_nothing(self, store: RunStore) -> None:
        before = step_events(store)

        with pytest.raises(
            RunNotFoundError,
            match=r"^no step run with id 'nope' in this workspace$",
        ):
            store.move_steps(
                StepStatus.CANCELED, [("s0", {}), ("nope", {}), ("s1", {})]
            )

        assert store.get_step_run("s0").status == "NotStarted"
        assert step_events(store) == before

    def test_no_moves_write_nothing(self, store: RunStore) -> None:
        before = step_events(store)

        store.move_steps(StepStatus.CANCELED, [])

        assert step_events(store) == before
