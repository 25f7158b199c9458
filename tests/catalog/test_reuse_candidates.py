"""Reuse candidates: the step runs that wrote the outputs of every successful step run
of a fingerprint, each once, newest use first, with their outputs, in one read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import event

from dataferry.catalog import SqlCatalog
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import StepStatus
from dataferry.catalog.step_commit import StepCommit

if TYPE_CHECKING:
    from collections.abc import Iterator

FP = "f" * 64
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(catalog_url: str) -> Iterator[RunStore]:
    catalog = SqlCatalog(catalog_url)
    run_store = RunStore(catalog)
    yield run_store
    catalog.close()


def _step(store: RunStore, name: str, *, fingerprint: str = FP) -> str:
    store.create_run(
        f"run-{name}",
        "exp",
        {},
        parameters={},
        options={},
        tags=None,
        description=None,
        steps=[(name, "n", "prep")],
    )
    store.move_step(name, StepStatus.PREPARING, fingerprint=fingerprint)
    return name


def _ran(store: RunStore, name: str, minutes: int, outputs: list[str]) -> None:
    _step(store, name)
    store.move_step(name, StepStatus.RUNNING)
    rows = [
        {"name": o, "datastore": "ds", "path": f"{name}/{o}", "mode": "upload"}
        for o in outputs
    ]
    store.commit_step(StepCommit(name, f"run-{name}", exit_code=0, outputs=rows))
    store.update_step_run(name, ended_at=T0 + timedelta(minutes=minutes))


def _reused(store: RunStore, name: str, minutes: int, source: str) -> None:
    _step(store, name)
    when = T0 + timedelta(minutes=minutes)
    store.move_step(
        name, StepStatus.FINISHED, reused_from=source, started_at=when, ended_at=when
    )


def test_originals_once_newest_use_first_with_their_outputs(store: RunStore) -> None:
    _ran(store, "a", 0, ["x", "y"])
    _ran(store, "d", 10, ["x"])
    _reused(store, "b", 20, "a")  # a's newest use is after d's
    _reused(store, "c", 5, "a")
    _step(store, "failed")
    store.move_step("failed", StepStatus.FAILED)
    _ran(store, "other", 30, ["x"])
    store.update_step_run("other", fingerprint="0" * 64)
    begins = []
    event.listen(store.catalog.engine, "begin", lambda _c: begins.append(1))

    found = store.reuse_candidates(FP)

    assert len(begins) == 1
    assert [(r.id, [o.name for o in outs]) for r, outs in found] == [
        ("a", ["x", "y"]),
        ("d", ["x"]),
    ]
    assert [o.path for o in found[0][1]] == ["a/x", "a/y"]
    assert store.reuse_candidates("1" * 64) == []


def test_a_reuse_of_a_step_run_that_is_gone_offers_nothing(store: RunStore) -> None:
    _reused(store, "b", 0, "vanished")
    assert store.reuse_candidates(FP) == []
