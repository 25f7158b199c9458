"""Step log folders are kept relative to the workspace folder: a copy of the folder at
another path (standing in for a second machine) finds them; migration 0012 rewrites
the absolute ones an older dataferry stored."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, select
from test_catalog_migrations import _catalog_at

from dataferry import Experiment, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog import SqlCatalog
from dataferry.catalog.schema import datastores, experiments, runs, step_runs
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from servers.postgres import Postgres

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# runs a driver; the quick selection covers the same: test_shared_copies reads a run's
# step logs from another folder's workspace, and the 0012 test and test_run_cmds check
# that log folders are stored relative to the workspace
@pytest.mark.slow
def test_a_copied_workspace_finds_its_step_logs(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "hello.py").write_text("print('hello from the step')\n")
    step = PythonScriptStep("hello.py", name="hello", source_directory=str(source))
    run = Experiment(workspace, "e").submit(Pipeline(workspace, steps=[step]))
    assert run.wait_for_completion(raise_on_error=False) == "Finished"
    project = workspace.path.parent
    workspace.close()

    moved = shutil.copytree(project, tmp_path / "second_machine")
    shutil.rmtree(project)
    other = Workspace.from_config(moved)
    try:
        (hello,) = views.run_detail(other, run.id).steps
        assert hello.log_dir == other.path / "runs" / run.id / hello.id
        stdout = dict(hello.log_files())["stdout"]
        assert stdout.read_text() == "hello from the step\n"
        with SqlCatalog(other.catalog_url).read() as conn:
            stored = conn.execute(select(step_runs.c.log_dir)).scalars().all()
        assert stored == [f"runs/{run.id}/{hello.id}"]
    finally:
        other.close()


def test_migration_0012_makes_log_folders_under_the_workspace_relative(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    _catalog_at(url, "0008")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            datastores.insert().values(
                name="workspaceblobstore",
                kind="local",
                options={"path": "/old/ws/.dataferry/datastores/workspaceblobstore"},
                secret_keys=[],
                secret_env={},
                created_at=T0,
            )
        )
        conn.execute(experiments.insert().values(name="e", created_at=T0))
        conn.execute(
            runs.insert().values(
                id="r1",
                experiment="e",
                status="Finished",
                tags={},
                parameters={},
                options={},
                definition={},
                created_at=T0,
            )
        )
        for n, log_dir in enumerate(
            [
                "/old/ws/.dataferry/runs/r1/s0",
                "/elsewhere/runs/r1/s1",  # not under the workspace: kept
                "/old/ws/.dataferry_other/s2",  # a sibling folder, not inside it
                None,
            ]
        ):
            conn.execute(
                step_runs.insert().values(
                    id=f"s{n}",
                    run_id="r1",
                    step_name=f"s{n}",
                    node_id=f"n{n}",
                    status="Finished",
                    details={},
                    log_dir=log_dir,
                    created_at=T0,
                )
            )
    engine.dispose()

    SqlCatalog(url).close()  # migrates to head
    with SqlCatalog(url).read() as conn:
        found = conn.execute(
            select(step_runs.c.id, step_runs.c.log_dir).order_by(step_runs.c.id)
        ).all()
    assert [tuple(r) for r in found] == [
        ("s0", "runs/r1/s0"),
        ("s1", "/elsewhere/runs/r1/s1"),
        ("s2", "/old/ws/.dataferry_other/s2"),
        ("s3", None),
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables yet), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database()


def test_migration_0013_makes_paths_under_the_workspace_relative(
    empty_url: str,
) -> None:
    from dataferry.catalog.schema import datasets, settings

    url = empty_url
    _catalog_at(url, "0012")
    ws = "/old/p/.dataferry"
    engine = create_engine(url)
    with engine.begin() as conn:
        for name, path in [
            ("workspaceblobstore", f"{ws}/datastores/workspaceblobstore"),
            ("inside", f"{ws}/mine"),
            ("nfs", "/mnt/team"),  # outside the workspace: kept
        ]:
            conn.execute(
                datastores.insert().values(
                    name=name,
                    kind="local",
                    options={"path": path},
                    secret_keys=[],
                    secret_env={},
                    created_at=T0,
                )
            )
        conn.execute(experiments.insert().values(name="e", created_at=T0))
        plan = {
            "node_defaults": {"snapshot": f"{ws}/snapshots/aa"},
            "nodes": [
                {"snapshot": "/elsewhere/snap"},
                {
                    "inputs": [
                        {
                            "dataset": {
                                "definition": {
                                    "sources": [
                                        {"local": "/old/p/data/x.csv"},
                                        {"local": "/other/y.csv"},
                                        {"datastore": "nfs", "path": "/old/p/data"},
                                    ]
                                }
                            }
                        }
                    ]
                },
            ],
        }
        conn.execute(
            runs.insert().values(
                id="r1",
                experiment="e",
                status="Finished",
                tags={},
                parameters={},
                options={},
                definition=plan,
                created_at=T0,
            )
        )
        conn.execute(
            datasets.insert().values(
                id="d1",
                kind="file",
                definition={"sources": [{"local": "/old/p/data"}]},
                fingerprint="old",
                created_at=T0,
            )
        )
    engine.dispose()

    catalog = SqlCatalog(url)  # migrates to head
    try:
        with catalog.read() as conn:
            found = conn.execute(select(datastores.c.name, datastores.c.options))
            stores = {name: options for name, options in found}
            (definition,) = conn.execute(select(runs.c.definition)).scalars()
            (dataset,) = conn.execute(select(datasets)).all()
            home = conn.execute(
                select(settings.c.value).where(
                    settings.c.key == "local_datastores_home"
                )
            ).scalar()
        assert {n: o["path"] for n, o in stores.items()} == {
            "workspaceblobstore": "datastores/workspaceblobstore",
            "inside": "mine",
            "nfs": "/mnt/team",
        }
        assert definition["node_defaults"] == {"snapshot": "snapshots/aa"}
        assert definition["nodes"][0] == {"snapshot": "/elsewhere/snap"}
        sources = definition["nodes"][1]["inputs"][0]["dataset"]["definition"]
        assert sources["sources"] == [
            {"local": "../data/x.csv"},
            {"local": "/other/y.csv"},
            {"datastore": "nfs", "path": "/old/p/data"},
        ]
        assert dataset.definition == {"sources": [{"local": "../data"}]}
        # an equal save finds the migrated row, not a second copy
        assert catalog.save_dataset("file", dataset.definition).id == "d1"
        assert home["folder"] == ws
    finally:
        catalog.close()
