"""Nothing the catalog keeps is tied to one machine: built-in datastore folders, local
dataset sources and snapshot folders are stored relative to the workspace folder, and a
shared workspace refuses to use one folder's local datastore from another folder."""

from __future__ import annotations

import shutil
import socket
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from dataferry import Dataset, Datastore, Workspace
from dataferry.catalog import SqlCatalog
from dataferry.catalog.schema import datasets, datastores
from dataferry.data.abstract_dataset import build_dataset
from dataferry.data.machine_paths import HOME_SETTING, stored_local
from dataferry.errors import (
    DatasetValidationError,
    MachineBoundDatastoreError,
    SnapshotMissingError,
)
from dataferry.execution.snapshot import snapshot_folder

if TYPE_CHECKING:
    from pathlib import Path


def _stored_datastores(ws: Workspace) -> dict[str, str]:
    with SqlCatalog(ws.catalog_url).read() as conn:
        rows = conn.execute(select(datastores.c.name, datastores.c.options)).all()
    return {name: options["path"] for name, options in rows}


def test_builtin_datastores_are_stored_relative_and_resolved_here(
    tmp_path: Path,
) -> None:
    # made here, not by the fixture: its catalog is a copy of a template's
    workspace = Workspace.create("here-ws", tmp_path / "project", show_output=False)
    assert _stored_datastores(workspace) == {
        "workspaceblobstore": "datastores/workspaceblobstore",
        "workspacefilestore": "datastores/workspacefilestore",
    }
    store = Datastore.get(workspace, "workspaceblobstore")
    folder = workspace.path / "datastores" / "workspaceblobstore"
    assert store._describe()["path"] == str(folder)
    assert store.location.root == str(folder)
    home = workspace.catalog.get_setting(HOME_SETTING)
    assert home == {"host": socket.gethostname(), "folder": str(workspace.path)}
    workspace.close()


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("data/iris.csv", "../data/iris.csv"),  # in the project, beside the folder
        (".dataferry/in/x.csv", "in/x.csv"),  # inside the workspace folder
        ("data", "../data"),  # a folder
    ],
)
def test_local_paths_in_the_project_are_stored_relative(
    tmp_path: Path, given: str, stored: str
) -> None:
    folder = tmp_path / "p" / ".dataferry"
    assert stored_local(folder, tmp_path / "p" / given) == stored


def test_local_paths_outside_the_project_stay_absolute(tmp_path: Path) -> None:
    folder = tmp_path / "p" / ".dataferry"
    assert stored_local(folder, tmp_path / "p2" / "x.csv") == str(tmp_path / "p2/x.csv")
    assert stored_local(folder, "/etc/hosts") == "/etc/hosts"


def test_a_moved_project_reads_its_registered_local_dataset(
    workspace: Workspace, tmp_path: Path
) -> None:
    project = workspace.path.parent
    (project / "data").mkdir()
    (project / "data" / "iris.csv").write_text("a,b\n1,2\n3,4\n")
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("a,b\n5,6\n")
    Dataset.Tabular.from_delimited_files(str(project / "data" / "iris.csv")).register(
        workspace, "iris"
    )
    Dataset.Tabular.from_delimited_files(str(outside)).register(workspace, "far")
    workspace.close()

    moved = shutil.copytree(project, tmp_path / "second_machine")
    shutil.rmtree(project)
    other = Workspace.from_config(moved)
    try:
        with SqlCatalog(other.catalog_url).read() as conn:
            sources = [
                d["sources"] for d in conn.scalars(select(datasets.c.definition))
            ]
        assert sorted(sources, key=str) == sorted(
            [[{"local": "../data/iris.csv"}], [{"local": str(outside)}]], key=str
        )
        iris = Dataset.get_by_name(other, "iris").to_pandas_dataframe()
        assert iris.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
        far = Dataset.get_by_name(other, "far").to_pandas_dataframe()
        assert far.to_dict("list") == {"a": [5], "b": [6]}
    finally:
        other.close()


def test_a_relative_local_source_without_a_workspace_is_refused() -> None:
    # a definition as the catalog keeps it, without the workspace it is relative to
    orphan = build_dataset("file", {"sources": [{"local": "../data/x"}]}, None)
    with pytest.raises(DatasetValidationError, match=r"'\.\./data/x' .* has none"):
        orphan.to_path()


def _shared_pair(tmp_path: Path) -> tuple[Workspace, Workspace]:
    """Two workspace folders on one SQLite catalog outside both: a shared workspace."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = Workspace.create("team", tmp_path / "a", catalog_url=url, show_output=False)
    second = Workspace.create(
        "team", tmp_path / "b", catalog_url=url, show_output=False
    )
    return first, second


def test_a_shared_workspace_refuses_another_folders_local_datastore(
    tmp_path: Path,
) -> None:
    first, second = _shared_pair(tmp_path)
    try:
        assert Datastore.get(first, "workspaceblobstore").location.root == str(
            first.path / "datastores" / "workspaceblobstore"
        )
        store = Datastore.get(second, "workspacefilestore")
        with pytest.raises(
            MachineBoundDatastoreError,
            match=(
                rf"datastore 'workspacefilestore' is the folder "
                rf"{first.path / 'datastores' / 'workspacefilestore'} on "
                rf"{socket.gethostname()}, in the workspace folder that made it; this "
                rf"workspace folder \({second.path} on .*\) shares the catalog but "
                r"not that folder\. Register a shared datastore"
            ),
        ):
            store.location  # noqa: B018
        assert MachineBoundDatastoreError.exit_code == 2
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("name", ["workspaceblobstore", "workspacefilestore"])
def test_another_folders_local_datastore_is_shown_where_it_is(
    tmp_path: Path, name: str
) -> None:
    """`datastore show|list` from the second folder name the first folder's datastore
    folder (they named a folder of the second, which holds none of its files)."""
    first, second = _shared_pair(tmp_path)
    try:
        there = str(first.path / "datastores" / name)
        assert Datastore.get(first, name)._describe()["path"] == there
        assert Datastore.get(second, name)._describe()["path"] == there
        assert second.datastores[name]._describe()["path"] == there
    finally:
        first.close()
        second.close()


def test_a_moved_unshared_workspace_shows_its_own_datastore_folder(
    tmp_path: Path,
) -> None:
    ws = Workspace.create("solo", tmp_path / "a", show_output=False)
    try:
        assert Datastore.get(ws, "workspaceblobstore")._describe()["path"] == str(
            ws.path / "datastores" / "workspaceblobstore"
        )
    finally:
        ws.close()


def test_a_shared_workspace_reads_another_folders_dataset_on_a_shared_store(
    tmp_path: Path,
) -> None:
    first, second = _shared_pair(tmp_path)
    shared = tmp_path / "nfs"
    try:
        Datastore.register_local(first, "team_store", shared)
        (shared / "t.csv").write_text("x\n7\n")
        store = Datastore.get(first, "team_store")
        Dataset.Tabular.from_delimited_files((store, "t.csv")).register(first, "t")
        found = Dataset.get_by_name(second, "t").to_pandas_dataframe()
        assert found.to_dict("list") == {"x": [7]}
    finally:
        first.close()
        second.close()


def test_a_snapshot_absent_from_this_folder_is_a_typed_error(tmp_path: Path) -> None:
    (tmp_path / "snapshots" / "abc").mkdir(parents=True)
    assert snapshot_folder(tmp_path, "snapshots/abc", "s") == tmp_path / "snapshots/abc"
    with pytest.raises(
        SnapshotMissingError,
        match=(
            r"step 'train': its source snapshot 'snapshots/def' is not in this "
            r"workspace folder .*; the run was submitted from another folder"
        ),
    ):
        snapshot_folder(tmp_path, "snapshots/def", "train")
