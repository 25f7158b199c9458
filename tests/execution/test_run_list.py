"""The run listing: a current SQLite catalog is read without SQLAlchemy, with the
same rows as through the ``SqlCatalog``; any other catalog through the ``SqlCatalog``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from dataferry.catalog import SqlCatalog, migrate, now, run_summaries
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.errors import CatalogError, ExperimentNotFoundError
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _fill(ws: Workspace) -> None:
    """Four runs of two experiments: r0 ended, r1 failed on its second step, r2 is a
    script run still going, r3 has not started; created in that order."""
    store = RunStore(ws.catalog)
    for i, experiment in enumerate(["a", "b", "a", "b"]):
        steps = [(f"r{i}-s{k}", f"n{k}", f"step{k}") for k in range(2)]
        options = {"run_type": "azureml.scriptrun"} if i == 2 else {}
        store.create_run(
            f"r{i}",
            experiment,
            {},
            parameters={},
            options=options,
            tags=None,
            description=None,
            steps=steps,
        )
    store.move_run("r0", RunStatus.RUNNING, started_at=T0)
    store.move_run("r0", RunStatus.FINISHED, ended_at=T0.replace(minute=2))
    store.move_step("r1-s1", StepStatus.RUNNING, started_at=now())
    store.move_step("r1-s1", StepStatus.FAILED, exit_code=1, ended_at=now())
    store.move_run("r1", RunStatus.FAILED, error="step1 failed")
    store.move_run("r2", RunStatus.RUNNING, started_at=now())


@pytest.fixture
def filled(workspace: Workspace) -> Workspace:
    _fill(workspace)
    return workspace


def _plain(rows: list[views.RunSummary]) -> list[tuple[object, ...]]:
    return [
        (r.id, r.experiment, r.status, r.run_type, r.step_statuses, r.error)
        for r in rows
    ]


def test_the_file_is_read_newest_first_with_each_runs_step_statuses(
    filled: Workspace,
) -> None:
    path = run_summaries.current_sqlite_file(filled.catalog_url)
    assert path is not None
    rows = run_summaries.newest_runs_in_file(path, experiment=None, limit=10)
    assert rows is not None
    assert [(r.id, r.run_type, r.step_statuses) for r in rows] == [
        ("r3", "azureml.PipelineRun", ("NotStarted", "NotStarted")),
        ("r2", "azureml.scriptrun", ("NotStarted", "NotStarted")),
        ("r1", "azureml.PipelineRun", ("NotStarted", "Failed")),
        ("r0", "azureml.PipelineRun", ("NotStarted", "NotStarted")),
    ]
    r0 = rows[-1]
    assert (r0.started_at, r0.ended_at) == (T0, T0.replace(minute=2))
    assert r0.created_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("experiment", "limit", "ids"),
    [
        (None, 50, ["r3", "r2", "r1", "r0"]),
        (None, 2, ["r3", "r2"]),
        ("a", 50, ["r2", "r0"]),
        ("b", 1, ["r3"]),
        ("none", 50, []),
    ],
)
def test_the_file_and_the_sql_catalog_give_the_same_rows(
    filled: Workspace, experiment: str | None, limit: int, ids: list[str]
) -> None:
    path = run_summaries.current_sqlite_file(filled.catalog_url)
    assert path is not None
    fast = run_summaries.newest_runs_in_file(path, experiment=experiment, limit=limit)
    slow = run_summaries.newest_runs(filled.catalog, experiment=experiment, limit=limit)
    assert fast == slow
    assert [r.id for r in slow] == ids


def test_every_database_gives_the_same_rows(catalog_url: str) -> None:
    catalog = SqlCatalog(catalog_url)
    store = RunStore(catalog)
    for i in range(3):
        steps = [(f"q{i}-s{k}", f"n{k}", f"step{k}") for k in range(3)]
        store.create_run(
            f"q{i}",
            "e",
            {},
            parameters={},
            options={},
            tags=None,
            description=None,
            steps=steps,
        )
    store.move_step("q1-s2", StepStatus.PREPARING, started_at=T0)
    store.move_run("q1", RunStatus.RUNNING, started_at=T0)
    try:
        rows = run_summaries.newest_runs(catalog, experiment="e", limit=2)
        assert [(r.id, r.status, r.started_at, r.step_statuses) for r in rows] == [
            ("q2", "NotStarted", None, ("NotStarted",) * 3),
            ("q1", "Running", T0, ("NotStarted", "NotStarted", "Preparing")),
        ]
        path = run_summaries.current_sqlite_file(catalog_url)
        if catalog_url.startswith("sqlite"):
            assert path is not None
            assert (
                run_summaries.newest_runs_in_file(path, experiment="e", limit=2) == rows
            )
        else:
            assert path is None
    finally:
        catalog.close()


def test_the_view_counts_durations_and_keeps_what_the_catalog_says(
    filled: Workspace,
) -> None:
    rows = views.list_runs(filled, experiment="a")
    assert _plain(rows) == [
        ("r2", "a", "Running", "azureml.scriptrun", ("NotStarted",) * 2, None),
        ("r0", "a", "Finished", "azureml.PipelineRun", ("NotStarted",) * 2, None),
    ]
    assert rows[1].duration_s == 120.0
    assert rows[0].duration_s is not None  # still going: counted to now
    failed = views.list_runs(filled, experiment="b", limit=5)[1]
    assert (failed.id, failed.error, failed.duration_s) == ("r1", "step1 failed", None)


def test_experiment_names_and_the_check_read_the_file(filled: Workspace) -> None:
    path = run_summaries.current_sqlite_file(filled.catalog_url)
    assert path is not None
    assert run_summaries.experiment_names_in_file(path) == ["a", "b"]
    views.check_experiment(filled, "a")
    with pytest.raises(
        ExperimentNotFoundError,
        match=r"^no runs of experiment 'bb' in this workspace; its experiments are "
        r"a, b\. Did you mean 'b'\?",
    ):
        views.check_experiment(filled, "bb")


def test_the_head_revision_is_the_one_migrate_upgrades_to() -> None:
    assert run_summaries.head_revision() == migrate.HEAD_REVISION


def test_only_a_sqlite_file_at_head_is_read_directly(
    tmp_path: Path, filled: Workspace
) -> None:
    assert run_summaries.current_sqlite_file("postgresql://h/db") is None
    assert run_summaries.current_sqlite_file(f"sqlite:///{tmp_path / 'no.db'}") is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert run_summaries.current_sqlite_file(f"sqlite:///{empty}") is None
    conn = sqlite3.connect(filled.path / "catalog.db")
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '0008'")
    conn.close()
    assert run_summaries.current_sqlite_file(filled.catalog_url) is None


def test_a_file_sqlite3_cannot_read_goes_through_the_sql_catalog(
    tmp_path: Path, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "damaged.db"
    path.write_bytes(b"not a database" * 100)
    assert run_summaries.newest_runs_in_file(path, experiment=None, limit=5) is None
    assert run_summaries.experiment_names_in_file(path) is None
    workspace.close()
    monkeypatch.setenv("DATAFERRY_CATALOG_URL", f"sqlite:///{path}")
    with pytest.raises(CatalogError, match=r"^cannot open the catalog"):
        views.list_runs(workspace)


def test_the_cli_listing_loads_no_sqlalchemy(filled: Workspace) -> None:
    script = (
        "import sys\n"
        "from dataferry.cli.main import app\n"
        "try:\n"
        f"    app(['-w', {str(filled.path.parent)!r}, 'runs', 'list', '-e', 'a', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = {n.split('.')[0] for n in sys.modules}\n"
        "print(sorted(loaded & {'sqlalchemy', 'alembic'}), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=120,
    )
    assert [r["id"] for r in json.loads(done.stdout)] == ["r2", "r0"]
    assert done.stderr == "[]\n"
