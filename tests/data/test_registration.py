"""Registering datasets: versions, lookups, concurrent writers, pickling and JSON."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dataferry import (
    AbstractDataset,
    DataPath,
    Dataset,
    Datastore,
    FileDataset,
    TabularDataset,
    Workspace,
)
from dataferry.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    InvalidNameError,
    InvalidVersionError,
)


@pytest.fixture
def files(blobstore: Datastore, store_root: Path) -> FileDataset:
    """A file dataset of three text files."""
    for name in ["a", "b", "c"]:
        (store_root / "docs" / f"{name}.txt").parent.mkdir(parents=True, exist_ok=True)
        (store_root / "docs" / f"{name}.txt").write_text(name)
    return Dataset.File.from_files(DataPath(blobstore, "docs"))


@pytest.fixture
def table(blobstore: Datastore, store_root: Path) -> TabularDataset:
    """A tabular dataset of four rows."""
    (store_root / "t.csv").write_text("id,label\n1,a\n2,b\n3,c\n4,d\n")
    return Dataset.Tabular.from_delimited_files(DataPath(blobstore, "t.csv"))


class TestRegister:
    def test_returns_a_new_registered_object(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        registered = files.register(workspace, "docs", description="d", tags={"k": "v"})

        assert registered is not files
        assert isinstance(registered, FileDataset)
        assert (registered.name, registered.version) == ("docs", 1)
        assert (registered.description, registered.tags) == ("d", {"k": "v"})
        assert (files.name, files.version, files.description, files.tags) == (
            None,
            None,
            None,
            None,
        )
        assert registered.to_path() == files.to_path()

    def test_versions_count_up(self, files: FileDataset, workspace: Workspace) -> None:
        versions = [
            files.take(i).register(workspace, "docs", create_new_version=True).version
            for i in range(3)
        ]

        assert versions == [1, 2, 3]

    def test_taken_name_without_create_new_version(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        files.register(workspace, "docs")

        with pytest.raises(
            DatasetExistsError,
            match=r'There is already a dataset registered under name "docs"\. '
            r"Specify create_new_version=True",
        ):
            files.take(1).register(workspace, "docs")

        assert Dataset.get_by_name(workspace, "docs").version == 1

    def test_tabular_keeps_its_kind(
        self, table: TabularDataset, workspace: Workspace
    ) -> None:
        table.register(workspace, "table")

        got = Dataset.get_by_name(workspace, "table")

        assert isinstance(got, TabularDataset)
        assert got.to_pandas_dataframe()["label"].tolist() == ["a", "b", "c", "d"]

    @pytest.mark.parametrize("name", ["", " lead", "-x", "x" * 256, "a/b", 3])
    def test_bad_name(
        self, files: FileDataset, workspace: Workspace, name: object
    ) -> None:
        with pytest.raises(InvalidNameError, match="invalid dataset name"):
            files.register(workspace, name)  # type: ignore[arg-type]

        assert workspace.datasets == {}

    @pytest.mark.parametrize("name", ["docs", "Docs v2.1", "my_data-set", "9lives"])
    def test_good_names(
        self, files: FileDataset, workspace: Workspace, name: str
    ) -> None:
        assert files.register(workspace, name).name == name

    def test_tags_must_be_a_mapping(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        with pytest.raises(TypeError, match="tags must be a dict"):
            files.register(workspace, "docs", tags=["k"])  # type: ignore[arg-type]

    def test_registered_transforms_are_kept(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        files.skip(1).register(workspace, "tail")

        assert Dataset.get_by_name(workspace, "tail").to_path() == ["/b.txt", "/c.txt"]


class TestLookup:
    @pytest.fixture
    def three(self, files: FileDataset, workspace: Workspace) -> list[FileDataset]:
        return [
            files.take(n).register(workspace, "docs", create_new_version=True)
            for n in (1, 2, 3)
        ]

    @pytest.mark.parametrize(
        ("version", "expected"), [("latest", 3), (1, 1), ("2", 2), (3, 3), (" 2 ", 2)]
    )
    def test_get_by_name(
        self,
        three: list[FileDataset],
        workspace: Workspace,
        version: object,
        expected: int,
    ) -> None:
        got = Dataset.get_by_name(workspace, "docs", version=version)  # type: ignore[arg-type]

        assert got.version == expected
        assert len(got.to_path()) == expected
        assert got.id == three[expected - 1].id

    def test_default_is_latest(
        self, three: list[FileDataset], workspace: Workspace
    ) -> None:
        assert Dataset.get_by_name(workspace, "docs").version == 3
        assert AbstractDataset.get_by_name(workspace, name="docs").version == 3

    @pytest.mark.parametrize("version", [0, -1, "newest", "0", 1.5, True, "", "v2"])
    def test_invalid_version(
        self, three: list[FileDataset], workspace: Workspace, version: object
    ) -> None:
        with pytest.raises(
            InvalidVersionError, match='Version value must be number or "latest"'
        ):
            Dataset.get_by_name(workspace, "docs", version=version)  # type: ignore[arg-type]

    def test_missing_version_names_the_latest(
        self, three: list[FileDataset], workspace: Workspace
    ) -> None:
        with pytest.raises(
            DatasetNotFoundError,
            match=r'name "docs" \(version: 7\).*'
            r"The latest version is 3; pass version=3",
        ):
            Dataset.get_by_name(workspace, "docs", version=7)

    def test_missing_name(self, three: list[FileDataset], workspace: Workspace) -> None:
        with pytest.raises(
            DatasetNotFoundError,
            match=r'Cannot find dataset registered with name "doc" .*'
            r"Did you mean 'docs'",
        ):
            Dataset.get_by_name(workspace, "doc")

    def test_unknown_keyword(self, workspace: Workspace) -> None:
        with pytest.raises(TypeError, match="unexpected keyword arguments"):
            Dataset.get_by_name(workspace, "docs", stream=True)

    def test_get_by_id(self, three: list[FileDataset], workspace: Workspace) -> None:
        got = Dataset.get_by_id(workspace, three[1].id)

        assert (got.name, got.version, got.id) == ("docs", 2, three[1].id)
        assert len(got.to_path()) == 2

    def test_get_by_id_of_an_unregistered_dataset(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        saved_id = files.take(1).id

        got = Dataset.get_by_id(workspace, saved_id)

        assert (got.name, got.version, got.id) == (None, None, saved_id)

    def test_get_by_unknown_id(self, workspace: Workspace) -> None:
        with pytest.raises(
            DatasetNotFoundError, match='Cannot find dataset with id "nope"'
        ):
            Dataset.get_by_id(workspace, "nope")

    def test_id_of_a_dataset_without_workspace(self, tmp_path: Path) -> None:
        (tmp_path / "f.txt").write_text("x")

        assert Dataset.File.from_files(str(tmp_path / "f.txt")).id is None

    def test_reading_id_saves_the_definition_once(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        first = files.id

        assert first is not None
        assert files.id == first
        assert (
            Dataset.File.from_files(DataPath(Datastore(workspace), "docs")).id == first
        )

    def test_get_all_and_ws_datasets(
        self, three: list[FileDataset], files: FileDataset, workspace: Workspace
    ) -> None:
        files.register(workspace, "other")

        everything = Dataset.get_all(workspace)

        assert sorted(everything) == ["docs", "other"]
        assert everything["docs"].version == 3
        assert {k: v.version for k, v in workspace.datasets.items()} == {
            "docs": 3,
            "other": 1,
        }

    def test_identical_definitions_share_an_id(
        self, files: FileDataset, workspace: Workspace
    ) -> None:
        a = files.register(workspace, "a")
        b = files.register(workspace, "b")

        assert a.id == b.id

    def test_repr_shows_the_registration(self, three: list[FileDataset]) -> None:
        shown = repr(three[2])

        assert shown.startswith("FileDataset")
        assert '"name": "docs"' in shown
        assert '"version": 3' in shown


REGISTER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from dataferry import DataPath, Dataset, Datastore, Workspace

    ws_path, gate, worker = sys.argv[1], Path(sys.argv[2]), sys.argv[4]
    count = int(sys.argv[3])
    ws = Workspace(path=ws_path)
    base = Dataset.File.from_files(DataPath(Datastore(ws), "docs"), validate=False)
    ws.catalog  # open (and migrate) before the race starts
    deadline = time.monotonic() + 60
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for i in range(count):
        # the same few definitions in every worker: saving them races too
        registered = base.take(i % 3).register(
            ws, "raced", description=worker, create_new_version=True
        )
        print(registered.version, flush=True)
    ws.close()
    """
)


@pytest.mark.slow
def test_concurrent_registrations_never_share_a_version(
    files: FileDataset, workspace: Workspace, tmp_path: Path
) -> None:
    workers, each = 4, 10
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                REGISTER_SCRIPT,
                str(workspace.path),
                str(gate),
                str(each),
                f"w{n}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(workers)
    ]
    gate.write_text("go")
    results = [proc.communicate(timeout=120) for proc in procs]

    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    versions = [int(line) for out, _ in results for line in out.split()]
    assert sorted(versions) == list(range(1, workers * each + 1))
    registered = workspace.catalog.list_versions("raced")
    assert [r.version for r in registered] == list(range(1, workers * each + 1))
    by_worker = {r.description for r in registered}
    assert by_worker == {f"w{n}" for n in range(workers)}
    assert Dataset.get_by_name(workspace, "raced").version == workers * each


class TestSerialisation:
    def test_pickle_round_trip_reads_the_data(
        self, files: FileDataset, workspace: Workspace, tmp_path: Path
    ) -> None:
        registered = files.register(workspace, "docs")

        back = pickle.loads(pickle.dumps(registered))

        assert isinstance(back, FileDataset)
        assert (back.name, back.version, back.id) == ("docs", 1, registered.id)
        assert back.workspace is not None
        assert back.workspace.path == workspace.path
        assert back.to_path() == files.to_path()
        assert [Path(p).read_text() for p in back.download(tmp_path / "out")] == [
            "a",
            "b",
            "c",
        ]
        back.workspace.close()

    def test_pickled_tabular_reads_rows(self, table: TabularDataset) -> None:
        back = pickle.loads(pickle.dumps(table.take(2)))

        assert back.to_pandas_dataframe()["id"].tolist() == [1, 2]
        assert back.workspace is not None
        back.workspace.close()

    def test_pickle_without_workspace(self, tmp_path: Path) -> None:
        (tmp_path / "f.txt").write_text("x")
        dataset = Dataset.File.from_files(str(tmp_path / "f.txt"))

        back = pickle.loads(pickle.dumps(dataset))

        assert back.workspace is None
        assert back.to_path() == ["/f.txt"]

    @pytest.mark.slow
    def test_pickle_into_another_process(
        self, files: FileDataset, tmp_path: Path
    ) -> None:
        blob = tmp_path / "ds.pickle"
        blob.write_bytes(pickle.dumps(files.skip(1)))
        script = (
            "import pickle, sys; ds = pickle.loads(open(sys.argv[1], 'rb').read()); "
            "print(ds.to_path())"
        )

        out = subprocess.run(
            [sys.executable, "-c", script, str(blob)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

        assert out.strip() == "['/b.txt', '/c.txt']"

    def test_json_round_trip(self, files: FileDataset, workspace: Workspace) -> None:
        dataset = files.take_sample(0.9, seed=4).skip(1)

        text = dataset.to_json()
        back = AbstractDataset.from_json(text, workspace)

        assert json.loads(text)["kind"] == "file"
        assert isinstance(back, FileDataset)
        assert back.definition == dataset.definition
        assert back.to_path() == dataset.to_path()

    def test_json_round_trip_of_tabular(
        self, table: TabularDataset, workspace: Workspace
    ) -> None:
        back = AbstractDataset.from_json(
            table.drop_columns("label").to_json(), workspace
        )

        assert isinstance(back, TabularDataset)
        assert list(back.to_pandas_dataframe().columns) == ["id"]

    def test_definition_is_a_copy(self, files: FileDataset) -> None:
        files.definition["sources"].clear()

        assert files.definition["sources"] != []
