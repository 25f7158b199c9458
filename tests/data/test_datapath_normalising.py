"""Datastore paths entering the data layer: one spelling per place, never outside the root.

Also a datastore given by name, ``('store', 'path')``: looked up in the workspace, and an
unknown name is refused with the registered ones listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import DataPath, DataReference, Dataset, Datastore, Workspace
from dataferry.errors import DatastoreNotFoundError, DatastorePathError

if TYPE_CHECKING:
    from pathlib import Path

SPELLINGS = ["docs", "docs/", "./docs", "docs/.", "/docs//", "docs/sub/..", "docs\\"]
ESCAPES = ["../x", "a/../../x", "..", "/../x", "..\\x", "docs/../../x"]


@pytest.fixture
def docs(store_root: Path) -> Path:
    folder = store_root / "docs"
    folder.mkdir()
    (folder / "a.csv").write_text("id\n1\n")
    (folder / "b.csv").write_text("id\n2\n")
    return folder


@pytest.fixture
def in_workspace(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace, found from the current folder (``Workspace.from_config()``)."""
    monkeypatch.chdir(workspace.path.parent)
    return workspace


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current folder with no workspace above it."""
    folder = tmp_path / "nowhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def unknown_store(workspace: Workspace) -> str:
    return (
        rf"^no datastore named 'nope_store' in workspace 'test-ws' \({workspace.path}\)\. "
        r"Registered: workspaceblobstore, workspacefilestore\. Register it first, or use "
        r"one of those\.$"
    )


class TestDataPath:
    @pytest.mark.parametrize("given", SPELLINGS)
    def test_every_spelling_is_one_path(self, blobstore: Datastore, given: str) -> None:
        assert DataPath(blobstore, given).path_on_datastore == "docs"

    @pytest.mark.parametrize("given", [None, "", "/", ".", "./", "a/..", "//"])
    def test_the_root(self, blobstore: Datastore, given: str | None) -> None:
        assert DataPath(blobstore, given).path_on_datastore == "/"

    @pytest.mark.parametrize(
        ("given", "expected"),
        [("dir/**/*.csv", "dir/**/*.csv"), ("./dir//*.csv", "dir/*.csv")],
    )
    def test_a_glob_stays_a_glob(
        self, blobstore: Datastore, given: str, expected: str
    ) -> None:
        assert DataPath(blobstore, given).path_on_datastore == expected

    @pytest.mark.parametrize("given", ESCAPES)
    def test_a_path_outside_the_datastore_is_refused(
        self, blobstore: Datastore, given: str
    ) -> None:
        with pytest.raises(
            DatastorePathError,
            match=r"^path '.*' on datastore 'workspaceblobstore' leaves the datastore's "
            r"root: its '\.\.' climbs above it\. Give a path inside the datastore",
        ):
            DataPath(blobstore, given)

    def test_a_url_is_refused(self, blobstore: Datastore) -> None:
        with pytest.raises(
            DatastorePathError,
            match=r"^path 's3://b/x' on datastore 'workspaceblobstore' is a URL, not a "
            r"path on the datastore",
        ):
            DataPath(blobstore, "s3://b/x")

    def test_a_registered_name_is_looked_up(self, in_workspace: Workspace) -> None:
        path = DataPath("WorkspaceBlobStore", "./docs/")
        assert (path.datastore_name, path.path_on_datastore) == (
            "workspaceblobstore",
            "docs",
        )

    def test_an_unknown_name_lists_the_registered_ones(
        self, in_workspace: Workspace
    ) -> None:
        with pytest.raises(DatastoreNotFoundError, match=unknown_store(in_workspace)):
            DataPath("nope_store", "path")

    def test_a_close_name_is_suggested(self, in_workspace: Workspace) -> None:
        with pytest.raises(
            DatastoreNotFoundError,
            match=r"\. Did you mean 'workspaceblobstore'\? Registered: ",
        ):
            DataPath("workspaceblobstor", "path")

    def test_a_name_without_a_workspace_says_what_to_pass(
        self, workspace: Workspace, nowhere: Path
    ) -> None:
        with pytest.raises(
            DatastoreNotFoundError,
            match=rf"^datastore 'nope_store' is given by name, but no workspace was found "
            rf"from {nowhere} to look it up in; pass the Datastore instead: "
            r"Datastore\.get\(ws, 'nope_store'\)\.$",
        ):
            DataPath("nope_store", "path")

    def test_another_type_of_datastore_is_a_type_error(self) -> None:
        with pytest.raises(
            TypeError, match=r"^a datastore must be a Datastore or its name, not int$"
        ):
            DataPath(3, "path")  # type: ignore[arg-type]


class TestDataReference:
    def test_paths_are_normalised_and_joined(self, blobstore: Datastore) -> None:
        assert blobstore.path("a//b/./").path_on_datastore == "a/b"
        assert blobstore.path("a/").path("../c").path_on_datastore == "c"

    @pytest.mark.parametrize("given", ESCAPES)
    def test_a_path_outside_the_datastore_is_refused(
        self, blobstore: Datastore, given: str
    ) -> None:
        with pytest.raises(
            DatastorePathError,
            match=r"^path_on_datastore '.*' on datastore 'workspaceblobstore' leaves",
        ):
            blobstore.path(given)

    def test_a_datastore_name_is_looked_up(self, in_workspace: Workspace) -> None:
        # was AttributeError: 'str' object has no attribute 'name'
        ref = DataReference(datastore="WorkspaceBlobStore", path_on_datastore="./a/")
        assert (ref.datastore_name, ref.path_on_datastore) == (
            "workspaceblobstore",
            "a",
        )

    def test_an_unknown_datastore_name_lists_the_registered_ones(
        self, in_workspace: Workspace
    ) -> None:
        with pytest.raises(DatastoreNotFoundError, match=unknown_store(in_workspace)):
            DataReference(datastore="nope_store", path_on_datastore="path")

    def test_no_datastore_is_a_type_error(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"^a datastore must be a Datastore or its name, not NoneType$",
        ):
            DataReference(datastore=None, path_on_datastore="path")  # type: ignore[arg-type]


class TestDatasetSources:
    @pytest.mark.parametrize(
        "factory", [Dataset.Tabular.from_delimited_files, Dataset.File.from_files]
    )
    def test_an_unknown_datastore_name_lists_the_registered_ones(
        self, in_workspace: Workspace, factory: object
    ) -> None:
        with pytest.raises(DatastoreNotFoundError, match=unknown_store(in_workspace)):
            factory(("nope_store", "path"))  # type: ignore[operator]

    @pytest.mark.parametrize(
        "factory", [Dataset.Tabular.from_delimited_files, Dataset.File.from_files]
    )
    def test_a_name_is_looked_up_in_the_other_datastores_workspace(
        self, workspace: Workspace, blobstore: Datastore, nowhere: Path, factory: object
    ) -> None:
        with pytest.raises(DatastoreNotFoundError, match=unknown_store(workspace)):
            factory([(blobstore, "docs"), ("nope_store", "path")])  # type: ignore[operator]

    def test_a_name_without_a_workspace_says_what_to_pass(
        self, workspace: Workspace, nowhere: Path
    ) -> None:
        with pytest.raises(
            DatastoreNotFoundError,
            match=r"^datastore 'nope_store' is given by name, but no workspace was found",
        ):
            Dataset.File.from_files(("nope_store", "path"))

    def test_a_registered_name_reads_the_files(
        self, in_workspace: Workspace, docs: Path
    ) -> None:
        table = Dataset.Tabular.from_delimited_files(("workspaceblobstore", "docs"))
        assert table.to_pandas_dataframe()["id"].tolist() == [1, 2]

    @pytest.mark.parametrize("given", SPELLINGS)
    def test_every_spelling_is_one_definition(
        self, blobstore: Datastore, docs: Path, given: str
    ) -> None:
        canonical = Dataset.File.from_files((blobstore, "docs"))
        for path in ((blobstore, given), DataPath(blobstore, given)):
            files = Dataset.File.from_files(path)
            assert files.definition == canonical.definition
            assert files.to_path() == ["/a.csv", "/b.csv"]

    @pytest.mark.parametrize("given", ESCAPES)
    def test_a_path_outside_the_datastore_is_refused(
        self, blobstore: Datastore, given: str
    ) -> None:
        with pytest.raises(DatastorePathError, match=r"leaves the datastore's root"):
            Dataset.File.from_files((blobstore, given))

    def test_a_tuple_of_another_shape_is_a_type_error(
        self, blobstore: Datastore
    ) -> None:
        with pytest.raises(
            TypeError,
            match=r"^a tuple in `path` must be \(Datastore or datastore name, "
            r"'path/on/it'\), not a 3-tuple of \(LocalDatastore, str, str\)\.$",
        ):
            Dataset.File.from_files((blobstore, "a", "b"))


class TestUploadTargets:
    """An upload whose target leaves the datastore is refused before any file is copied."""

    @pytest.fixture
    def local_dir(self, tmp_path: Path) -> Path:
        folder = tmp_path / "local"
        folder.mkdir()
        (folder / "f.txt").write_text("f")
        return folder

    @pytest.mark.parametrize("target", ["../up", "a/../../up"])
    def test_upload(
        self, blobstore: Datastore, store_root: Path, local_dir: Path, target: str
    ) -> None:
        with pytest.raises(
            DatastorePathError,
            match=r"^target_path '.*' on datastore 'workspaceblobstore' leaves",
        ):
            blobstore.upload(str(local_dir), target, show_progress=False)
        assert not (store_root.parent / "up").exists()

    def test_upload_files(
        self, blobstore: Datastore, store_root: Path, local_dir: Path
    ) -> None:
        with pytest.raises(DatastorePathError, match=r"^target_path '\.\./up'"):
            blobstore.upload_files(
                [str(local_dir / "f.txt")], target_path="../up", show_progress=False
            )
        assert not (store_root.parent / "up").exists()

    def test_upload_directory(
        self, blobstore: Datastore, store_root: Path, local_dir: Path
    ) -> None:
        with pytest.raises(DatastorePathError, match=r"^target '\.\./up'"):
            Dataset.File.upload_directory(
                str(local_dir), (blobstore, "../up"), show_progress=False
            )
        assert not (store_root.parent / "up").exists()

    def test_a_normalised_target_is_written_once(
        self, blobstore: Datastore, store_root: Path, local_dir: Path
    ) -> None:
        ref = blobstore.upload(str(local_dir), "./up//here/", show_progress=False)
        assert ref.path_on_datastore == "up/here"
        assert (store_root / "up" / "here" / "f.txt").read_text() == "f"
