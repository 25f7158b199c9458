"""Statuses: the transition map, checked compare-and-set moves, and their events."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import pytest

from dataferry.catalog.status import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    TERMINAL,
    RunStatus,
    StepStatus,
)
from dataferry.errors import (
    RunStateError,
    StatusTransitionError,
    UnknownStatusError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from enum import StrEnum

    from dataferry.catalog.run_store import RunStore


@pytest.fixture
def store(
    run_with_steps: Callable[[Sequence[tuple[str, str, str]]], RunStore],
) -> RunStore:
    return run_with_steps([("s1", "n1", "prep")])


def path_to(
    target: StrEnum, transitions: Mapping[StrEnum, frozenset[StrEnum]]
) -> list[StrEnum]:
    """The statuses after NotStarted on a shortest way from NotStarted to ``target``."""
    start = next(iter(transitions))
    came: dict[StrEnum, StrEnum | None] = {start: None}
    todo = deque([start])
    while todo:
        at = todo.popleft()
        for nxt in sorted(transitions[at]):
            if nxt not in came:
                came[nxt] = at
                todo.append(nxt)
    way: list[StrEnum] = []
    at: StrEnum | None = target
    while at is not None and at != start:
        way.append(at)
        at = came[at]
    return way[::-1]


def pairs(
    transitions: Mapping[StrEnum, frozenset[StrEnum]], *, allowed: bool
) -> list[tuple[StrEnum, StrEnum]]:
    return [
        (a, b)
        for a in transitions
        for b in transitions
        if (b in transitions[a]) is allowed
    ]


def events(store: RunStore) -> list[tuple[str | None, str, dict[str, object]]]:
    return [(e.step_run_id, e.kind, dict(e.payload)) for e in store.events_since("r1")]


class TestMap:
    def test_terminal_statuses_go_nowhere(self) -> None:
        assert {"Finished", "Failed", "Canceled"} == TERMINAL
        for status in RunStatus:
            assert (RUN_TRANSITIONS[status] == frozenset()) is status.is_terminal
        for step_status in StepStatus:
            assert (
                STEP_TRANSITIONS[step_status] == frozenset()
            ) is step_status.is_terminal

    def test_values_are_the_sdk_strings_and_queued_is_gone(self) -> None:
        assert [str(s) for s in RunStatus] == [
            "NotStarted",
            "Running",
            "CancelRequested",
            "Finished",
            "Failed",
            "Canceled",
        ]
        assert [str(s) for s in StepStatus] == [
            "NotStarted",
            "Preparing",
            "Running",
            "Finished",
            "Failed",
            "Canceled",
        ]

    def test_preparing_sits_between_not_started_and_running(self) -> None:
        assert StepStatus.PREPARING in STEP_TRANSITIONS[StepStatus.NOT_STARTED]
        assert StepStatus.RUNNING in STEP_TRANSITIONS[StepStatus.PREPARING]


class TestRunMoves:
    @pytest.mark.parametrize(
        ("source", "target"), pairs(RUN_TRANSITIONS, allowed=True), ids=str
    )
    def test_every_allowed_move_is_made_with_its_event(
        self, store: RunStore, source: RunStatus, target: RunStatus
    ) -> None:
        for status in path_to(source, RUN_TRANSITIONS):
            store.move_run("r1", RunStatus(status))

        assert store.move_run("r1", target) is True

        assert store.run_status("r1") == target
        *_, last = events(store)
        assert last == (None, "run_status", {"from": source, "to": target})

    @pytest.mark.parametrize(
        ("source", "target"), pairs(RUN_TRANSITIONS, allowed=False), ids=str
    )
    def test_every_other_move_is_refused_and_changes_nothing(
        self, store: RunStore, source: RunStatus, target: RunStatus
    ) -> None:
        for status in path_to(source, RUN_TRANSITIONS):
            store.move_run("r1", RunStatus(status))
        before = events(store)

        with pytest.raises(
            StatusTransitionError,
            match=rf"^run r1 cannot go from {source} to {target}; from {source} it "
            r"may go to ",
        ):
            store.move_run("r1", target)

        assert store.move_run("r1", target, strict=False) is False
        assert store.run_status("r1") == source
        assert events(store) == before

    def test_the_refusal_names_where_it_may_go(self, store: RunStore) -> None:
        store.move_run("r1", RunStatus.RUNNING)
        store.move_run("r1", RunStatus.FINISHED)

        with pytest.raises(
            StatusTransitionError,
            match=r"^run r1 cannot go from Finished to CancelRequested; from Finished "
            r"it may go to nowhere: it has ended\. Read its status again",
        ) as caught:
            store.move_run("r1", RunStatus.CANCEL_REQUESTED)
        assert isinstance(caught.value, RunStateError)
        assert caught.value.exit_code == 2

    def test_a_status_is_not_a_plain_column(self, store: RunStore) -> None:
        with pytest.raises(TypeError, match=r"set with RunStore\.move_run"):
            store.update_run("r1", status="Finished")
        with pytest.raises(TypeError, match=r"set with RunStore\.move_step"):
            store.update_step_run("s1", status="Finished")
        assert store.run_status("r1") == "NotStarted"


def _damage(store: RunStore, table: str, row_id: str) -> None:
    """Give a row a status no dataferry writes (a damaged or foreign catalog)."""
    from sqlalchemy import text

    with store.catalog.write() as conn:
        conn.execute(
            text(f"UPDATE {table} SET status = 'Queued' WHERE id = :id"), {"id": row_id}
        )


class TestUnknownStatusInTheCatalog:
    def test_a_run_move_is_refused_with_what_to_do(self, store: RunStore) -> None:
        _damage(store, "runs", "r1")
        before = events(store)
        for strict in (True, False):
            with pytest.raises(
                UnknownStatusError,
                match=r"^run r1 has the status 'Queued', which this dataferry does not "
                r"know \(it knows NotStarted, Running, CancelRequested, Finished, "
                r"Failed, Canceled\); the catalog was changed by hand or by another "
                r"program: cancel the run's row by hand or delete the run\.$",
            ):
                store.move_run("r1", RunStatus.CANCEL_REQUESTED, strict=strict)
        assert events(store) == before

    def test_a_step_move_is_refused_with_what_to_do(self, store: RunStore) -> None:
        _damage(store, "step_runs", "s1")
        with pytest.raises(
            UnknownStatusError,
            match=r"^step run s1 has the status 'Queued', which this dataferry does "
            r"not know \(it knows NotStarted, Preparing, Running, ",
        ):
            store.move_step("s1", StepStatus.RUNNING)


class TestStepMoves:
    @pytest.mark.parametrize(
        ("source", "target"), pairs(STEP_TRANSITIONS, allowed=True), ids=str
    )
    def test_every_allowed_move_is_made_with_its_event(
        self, store: RunStore, source: StepStatus, target: StepStatus
    ) -> None:
        for status in path_to(source, STEP_TRANSITIONS):
            store.move_step("s1", StepStatus(status))

        store.move_step("s1", target, note={"doing": "x"})

        assert store.get_step_run("s1").status == target
        *_, last = events(store)
        assert last == (
            "s1",
            "step_status",
            {"from": source, "to": target, "doing": "x"},
        )

    @pytest.mark.parametrize(
        ("source", "target"), pairs(STEP_TRANSITIONS, allowed=False), ids=str
    )
    def test_every_other_move_is_refused_and_changes_nothing(
        self, store: RunStore, source: StepStatus, target: StepStatus
    ) -> None:
        for status in path_to(source, STEP_TRANSITIONS):
            store.move_step("s1", StepStatus(status))
        before = events(store)

        with pytest.raises(
            StatusTransitionError,
            match=rf"^step run s1 cannot go from {source} to {target}; ",
        ):
            store.move_step("s1", target, exit_code=5)

        record = store.get_step_run("s1")
        assert (record.status, record.exit_code) == (source, None)
        assert events(store) == before

    def test_events_are_read_after_an_id(self, store: RunStore) -> None:
        store.move_step("s1", StepStatus.PREPARING, note={"doing": "hashing"})
        store.move_step("s1", StepStatus.RUNNING)
        first, *rest = store.events_since("r1")
        assert first.payload == {"from": None, "to": "NotStarted", "steps": 1}

        later = store.events_since("r1", first.id)

        assert later == rest
        assert [(e.step_name, e.payload["to"]) for e in later] == [
            ("prep", "Preparing"),
            ("prep", "Running"),
        ]
        assert store.events_since("r1", later[-1].id) == []
        assert store.last_event_id("r1") == later[-1].id
