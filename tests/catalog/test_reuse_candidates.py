"""Reuse candidates: the step runs that wrote the outputs of every successful step run
of a fingerprint, each once, newest use first, with their outputs, in one read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import event

from dataferry.catalog import SqlCatalog
from dataferry.catalog.run_store import RunStore, committed_outputs
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


def test_reuse_lookup_reads_the_latest_finished_step_only_without_candidates(
    store: RunStore,
) -> None:
    _ran(store, "old", 0, ["x"])
    _ran(store, "new", 10, ["x"])
    store.update_step_run("old", fingerprint="0" * 64)
    store.update_step_run("new", fingerprint="1" * 64)
    _ran(store, "same", 5, ["y"])
    begins = []
    event.listen(store.catalog.engine, "begin", lambda _c: begins.append(1))

    found, latest = store.reuse_lookup(FP, "prep")
    assert [(r.id, [o.name for o in outs]) for r, outs in found] == [("same", ["y"])]
    assert latest is None  # a candidate: nothing to explain, nothing read for it

    found, latest = store.reuse_lookup("2" * 64, "prep")
    assert found == []
    assert latest is not None
    assert (latest.id, latest.fingerprint) == ("new", "1" * 64)

    found, latest = store.reuse_lookup("2" * 64, "never-ran")
    assert (found, latest) == ([], None)
    assert len(begins) == 3  # one read each


def test_committed_outputs_are_the_rows_outputs_of_reads_back(
    store: RunStore,
) -> None:
    _step(store, "a")
    store.move_step("a", StepStatus.RUNNING)
    rows = [
        {
            "name": "x",
            "datastore": "ds",
            "path": "a/x",
            "mode": "mount",
            "size_bytes": 12,
            "file_count": 2,
            "signatures": {"f.txt": [6, 1_700_000_000_000_000_000, 42, None]},
        },
        {"name": "y", "datastore": "ds", "path": "a/y", "mode": "upload"},
    ]
    commit = StepCommit("a", "run-a", exit_code=0, outputs=rows, committed_at=T0)
    store.commit_step(commit)

    assert committed_outputs(commit) == store.outputs_of("a")
    assert [o.committed_at for o in committed_outputs(commit)] == [T0, T0]
