"""File datasets: building from paths, to_path, download, mount, subsets, inputs."""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry import (
    DataPath,
    Dataset,
    DatasetConsumptionConfig,
    Datastore,
    FileDataset,
    Workspace,
)
from dataferry.errors import (
    DatasetError,
    DatasetNotFoundError,
    InvalidNameError,
    MountError,
    PathNotFoundError,
    PipelineTypeError,
    TargetExistsError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

ANIMALS = [
    "animals/cat/1.jpg",
    "animals/cat/2.jpg",
    "animals/cat/3.png",
    "animals/dog/1.jpg",
    "animals/dog/2.jpg",
    "animals/dog/3.jpg",
]


@pytest.fixture
def animals(store_root: Path) -> Path:
    """Six small image-like files on the default datastore; returns their folder."""
    for rel in ANIMALS:
        path = store_root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"pixels of {rel}")
    return store_root / "animals"


@pytest.fixture
def datastore(workspace: Workspace, animals: Path) -> Datastore:
    """The datastore the seed snippet gets with ``Datastore.get``."""
    return Datastore.get(workspace, "workspaceblobstore")


@pytest.fixture
def cats_dogs(datastore: Datastore) -> FileDataset:
    """The seed's snippet, with only its imports changed."""
    datastore_path = [
        DataPath(datastore, "animals/dog/1.jpg"),
        DataPath(datastore, "animals/dog/2.jpg"),
        DataPath(datastore, "animals/cat/*.jpg"),
    ]
    return Dataset.File.from_files(path=datastore_path)


def links_under(folder: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, n), folder)
        for d, _, names in os.walk(folder)
        for n in names
        if os.path.islink(os.path.join(d, n))
    )


class TestFromFiles:
    def test_seed_snippet(self, cats_dogs: FileDataset) -> None:
        assert isinstance(cats_dogs, FileDataset)
        assert cats_dogs.to_path() == [
            "/dog/1.jpg",
            "/dog/2.jpg",
            "/cat/1.jpg",
            "/cat/2.jpg",
        ]

    def test_glob(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files(DataPath(datastore, "animals/cat/*.jpg"))

        assert dataset.to_path() == ["/1.jpg", "/2.jpg"]

    def test_recursive_glob(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files(DataPath(datastore, "animals/**/*.jpg"))

        assert dataset.to_path() == [
            "/cat/1.jpg",
            "/cat/2.jpg",
            "/dog/1.jpg",
            "/dog/2.jpg",
            "/dog/3.jpg",
        ]

    def test_folder(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files((datastore, "animals"))

        assert dataset.to_path() == ["/" + p.removeprefix("animals/") for p in ANIMALS]

    def test_single_file(self, datastore: Datastore) -> None:
        assert Dataset.File.from_files((datastore, "animals/dog/3.jpg")).to_path() == [
            "/3.jpg"
        ]

    def test_datastore_root(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files(DataPath(datastore))

        assert dataset.to_path() == ["/" + p for p in ANIMALS]

    def test_data_reference(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files(datastore.path("animals/dog"))

        assert dataset.to_path() == ["/1.jpg", "/2.jpg", "/3.jpg"]

    def test_overlapping_sources_list_a_file_once(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files(
            [(datastore, "animals/dog/1.jpg"), (datastore, "animals/dog/*.jpg")]
        )

        assert dataset.to_path() == ["/1.jpg", "/2.jpg", "/3.jpg"]

    def test_definition_is_lazy(self, datastore: Datastore, animals: Path) -> None:
        dataset = Dataset.File.from_files((datastore, "animals/dog"))
        (animals / "dog" / "4.jpg").write_text("new")

        assert dataset.to_path()[-1] == "/4.jpg"

    def test_validate_missing_path(self, datastore: Datastore) -> None:
        with pytest.raises(
            PathNotFoundError, match="path 'animals/bird' matches no file on datastore"
        ):
            Dataset.File.from_files(DataPath(datastore, "animals/bird"))

    def test_validate_glob_matching_nothing(self, datastore: Datastore) -> None:
        with pytest.raises(
            PathNotFoundError, match=r"glob 'animals/\*/\*.gif' matches no file"
        ):
            Dataset.File.from_files(DataPath(datastore, "animals/*/*.gif"))

    def test_no_validation_defers_the_error(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files(
            DataPath(datastore, "animals/bird"), validate=False
        )

        with pytest.raises(PathNotFoundError, match="animals/bird"):
            dataset.to_path()

    def test_is_file_skips_validation(
        self, datastore: Datastore, caplog: pytest.LogCaptureFixture
    ) -> None:
        Dataset.File.from_files(DataPath(datastore, "animals/bird"), is_file=True)

        assert "skipping validation" in caplog.text

    def test_empty_list(self) -> None:
        with pytest.raises(DatasetError, match="path is empty"):
            Dataset.File.from_files([])

    def test_bad_path_type(self) -> None:
        with pytest.raises(TypeError, match="Invalid argument type for `path`: int"):
            Dataset.File.from_files(42)

    def test_partition_format_is_for_tabular(self, datastore: Datastore) -> None:
        with pytest.raises(DatasetError, match="partition_format on a file dataset"):
            Dataset.File.from_files(
                (datastore, "animals"), partition_format="{x}/{y}.jpg"
            )

    def test_upload_directory(self, blobstore: Datastore, tmp_path: Path) -> None:
        src = tmp_path / "pics"
        (src / "sub").mkdir(parents=True)
        (src / "a.jpg").write_text("a")
        (src / "sub" / "b.jpg").write_text("b")
        (src / "notes.txt").write_text("n")

        dataset = Dataset.File.upload_directory(
            str(src), (blobstore, "uploaded"), pattern="*.jpg", show_progress=False
        )

        assert dataset.to_path() == ["/a.jpg", "/sub/b.jpg"]


class TestLocalPaths:
    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        folder = tmp_path / "local data"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.txt").write_text("a")
        (folder / "sub" / "b.txt").write_text("b")
        return folder

    def test_local_folder(self, folder: Path) -> None:
        dataset = Dataset.File.from_files(str(folder))

        assert dataset.workspace is None
        assert dataset.to_path() == ["/a.txt", "/sub/b.txt"]

    def test_local_path_object_and_glob(self, folder: Path) -> None:
        assert Dataset.File.from_files(folder / "sub" / "b.txt").to_path() == ["/b.txt"]
        assert Dataset.File.from_files(f"{folder}/**/*.txt").to_path() == [
            "/a.txt",
            "/sub/b.txt",
        ]

    def test_relative_path_is_made_absolute(
        self, folder: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(folder.parent)
        dataset = Dataset.File.from_files("local data/sub")
        monkeypatch.chdir(folder / "sub")

        assert dataset.to_path() == ["/b.txt"]

    @pytest.mark.parametrize(
        ("suffix", "expected"),
        [
            ("", ["/a.txt", "/sub/b.txt"]),
            ("/a.txt", ["/a.txt"]),
            ("/*.txt", ["/a.txt"]),
        ],
        ids=["folder", "file", "glob"],
    )
    def test_file_url(self, folder: Path, suffix: str, expected: list[str]) -> None:
        dataset = Dataset.File.from_files(f"file://{folder}{suffix}")

        assert dataset.to_path() == expected

    def test_file_url_download(self, folder: Path, tmp_path: Path) -> None:
        got = Dataset.File.from_files(f"file://{folder}").download(tmp_path / "out")

        assert got == [
            str(tmp_path / "out" / "a.txt"),
            str(tmp_path / "out" / "sub" / "b.txt"),
        ]
        assert Path(got[1]).read_text() == "b"

    def test_missing_local_path(self, tmp_path: Path) -> None:
        with pytest.raises(PathNotFoundError, match="matches no file"):
            Dataset.File.from_files(str(tmp_path / "missing"))


class TestDownload:
    def test_creates_the_target_and_returns_absolute_paths(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        target = tmp_path / "deep" / "target"

        got = cats_dogs.download(target)

        assert got == [str(target / p.lstrip("/")) for p in cats_dogs.to_path()]
        assert all(os.path.isabs(p) for p in got)
        assert Path(got[0]).read_text() == "pixels of animals/dog/1.jpg"

    def test_relative_target(
        self, cats_dogs: FileDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)

        got = cats_dogs.download("rel")

        assert got[0] == str(tmp_path / "rel" / "dog" / "1.jpg")

    def test_default_target_is_a_new_temporary_folder(
        self, cats_dogs: FileDataset
    ) -> None:
        got = cats_dogs.download()
        try:
            assert len(got) == 4
            assert all(Path(p).is_file() for p in got)
        finally:
            import shutil

            shutil.rmtree(Path(got[0]).parent.parent)

    def test_collision_fails_before_anything_is_copied(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        target = tmp_path / "target"
        (target / "cat").mkdir(parents=True)
        (target / "cat" / "2.jpg").write_text("mine")

        with pytest.raises(
            TargetExistsError, match=r'cat/2\.jpg" already exists\. Set overwrite=True'
        ):
            cats_dogs.download(target)

        assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) == [
            "cat",
            "cat/2.jpg",
        ]
        assert (target / "cat" / "2.jpg").read_text() == "mine"

    def test_overwrite_replaces(self, cats_dogs: FileDataset, tmp_path: Path) -> None:
        (tmp_path / "cat").mkdir()
        (tmp_path / "cat" / "2.jpg").write_text("mine")

        cats_dogs.download(tmp_path, overwrite=True)

        assert (tmp_path / "cat" / "2.jpg").read_text() == "pixels of animals/cat/2.jpg"
        assert not list(tmp_path.rglob("*.part"))

    def test_unrelated_files_in_the_target_are_fine(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        (tmp_path / "other.txt").write_text("x")

        assert len(cats_dogs.download(tmp_path)) == 4

    def test_ignore_not_found(self, datastore: Datastore, tmp_path: Path) -> None:
        dataset = Dataset.File.from_files(
            DataPath(datastore, "nothing"), validate=False
        )

        assert dataset.download(tmp_path / "t", ignore_not_found=True) == []
        with pytest.raises(PathNotFoundError, match="nothing"):
            dataset.download(tmp_path / "t")


class TestMount:
    def test_whole_folder_mounts_as_that_folder(
        self, datastore: Datastore, animals: Path
    ) -> None:
        dataset = Dataset.File.from_files((datastore, "animals"))

        with dataset.mount() as context:
            assert context.mount_point == str(animals)
            assert links_under(context.mount_point) == []
            assert os.path.samefile(
                os.path.join(context.mount_point, "dog", "1.jpg"),
                animals / "dog" / "1.jpg",
            )

        assert (
            sorted(
                p.relative_to(animals.parent).as_posix() for p in animals.rglob("*.*")
            )
            == ANIMALS
        )

    def test_subset_mounts_as_links(
        self, cats_dogs: FileDataset, animals: Path
    ) -> None:
        with cats_dogs.mount() as context:
            mount_point = context.mount_point
            assert mount_point != str(animals)
            assert links_under(mount_point) == [
                "cat/1.jpg",
                "cat/2.jpg",
                "dog/1.jpg",
                "dog/2.jpg",
            ]
            link = Path(mount_point) / "cat" / "1.jpg"
            assert os.path.realpath(link) == str(animals / "cat" / "1.jpg")
            assert link.read_text() == "pixels of animals/cat/1.jpg"

        assert not os.path.exists(mount_point)
        assert (animals / "cat" / "1.jpg").is_file()

    def test_transformed_folder_is_a_subset(self, datastore: Datastore) -> None:
        dataset = Dataset.File.from_files((datastore, "animals")).take(2)

        with dataset.mount() as context:
            assert links_under(context.mount_point) == ["cat/1.jpg", "cat/2.jpg"]

    def test_given_empty_mount_point_is_kept(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        point = tmp_path / "mnt"
        point.mkdir()

        with cats_dogs.mount(point) as context:
            assert context.mount_point == str(point)
            assert len(links_under(str(point))) == 4

        assert point.is_dir()
        assert list(point.iterdir()) == []

    def test_new_mount_point_is_made_and_removed(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        point = tmp_path / "new" / "mnt"

        with cats_dogs.mount(point):
            assert (point / "dog" / "2.jpg").is_symlink()

        assert not point.exists()

    def test_non_empty_mount_point(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        (tmp_path / "busy").mkdir()
        (tmp_path / "busy" / "x").write_text("x")

        with (
            pytest.raises(MountError, match="is not empty"),
            cats_dogs.mount(tmp_path / "busy"),
        ):
            pass

        assert os.listdir(tmp_path / "busy") == ["x"]

    def test_mount_point_that_is_a_file(
        self, cats_dogs: FileDataset, tmp_path: Path
    ) -> None:
        (tmp_path / "f").write_text("x")

        with (
            pytest.raises(MountError, match="is a file"),
            cats_dogs.mount(tmp_path / "f"),
        ):
            pass

    def test_start_and_stop(self, cats_dogs: FileDataset) -> None:
        context = cats_dogs.mount()
        context.start()
        try:
            assert len(links_under(context.mount_point)) == 4
        finally:
            context.stop()
        assert not os.path.exists(context.mount_point)

    def test_remote_files_cannot_be_mounted_here(self, workspace: Workspace) -> None:
        store = Datastore.register_fsspec(
            workspace, "memmount", "memory://mount-test-bucket"
        )
        store.location.fs.pipe_file(store.location.full_path("a.txt"), b"a")
        dataset = Dataset.File.from_files((store, "a.txt"))

        try:
            with pytest.raises(MountError, match="use download"), dataset.mount():
                pass
        finally:
            store.location.fs.rm(store.location.root, recursive=True)

    def test_unknown_option(self, cats_dogs: FileDataset) -> None:
        with pytest.raises(TypeError, match="unexpected keyword arguments"):
            cats_dogs.mount(read_only=True)


class TestSubsets:
    @pytest.fixture
    def every_file(self, datastore: Datastore) -> FileDataset:
        return Dataset.File.from_files((datastore, "animals"))

    def test_take_and_skip(self, every_file: FileDataset) -> None:
        everything = every_file.to_path()

        assert every_file.take(2).to_path() == everything[:2]
        assert every_file.skip(2).to_path() == everything[2:]
        assert every_file.skip(1).take(2).to_path() == everything[1:3]
        assert every_file.take(0).to_path() == []
        assert every_file.take(100).to_path() == everything

    def test_transforms_do_not_change_the_receiver(
        self, every_file: FileDataset
    ) -> None:
        every_file.take(1)

        assert len(every_file.to_path()) == 6
        assert isinstance(every_file.take(1), FileDataset)

    @pytest.mark.parametrize("count", [-1, 1.5, "2", True])
    def test_bad_count(self, every_file: FileDataset, count: object) -> None:
        with pytest.raises(ValueError, match="count must be an int >= 0"):
            every_file.take(count)  # type: ignore[arg-type]

    def test_take_sample_is_deterministic_per_seed(
        self, every_file: FileDataset
    ) -> None:
        a = every_file.take_sample(0.5, seed=7).to_path()

        assert a == every_file.take_sample(0.5, seed=7).to_path()
        assert set(a) <= set(every_file.to_path())
        assert every_file.take_sample(1.0, seed=1).to_path() == every_file.to_path()
        assert every_file.take_sample(0.0, seed=1).to_path() == []

    def test_take_sample_without_seed_records_one(
        self, every_file: FileDataset
    ) -> None:
        sampled = every_file.take_sample(0.5)

        seed = sampled.definition["transforms"][-1]["seed"]
        assert isinstance(seed, int)
        assert sampled.to_path() == every_file.take_sample(0.5, seed=seed).to_path()

    @pytest.mark.parametrize("probability", [-0.1, 1.1, "half"])
    def test_bad_probability(
        self, every_file: FileDataset, probability: object
    ) -> None:
        with pytest.raises(ValueError, match="probability must be between 0 and 1"):
            every_file.take_sample(probability)  # type: ignore[arg-type]

    @pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1])
    def test_random_split_partitions_the_files(
        self, every_file: FileDataset, seed: int
    ) -> None:
        left, right = every_file.random_split(0.5, seed=seed)

        a, b = left.to_path(), right.to_path()
        assert not set(a) & set(b)
        assert sorted(a + b) == sorted(every_file.to_path())
        assert (a, b) == tuple(
            p.to_path() for p in every_file.random_split(0.5, seed=seed)
        )

    def test_random_split_extremes(self, every_file: FileDataset) -> None:
        everything, nothing = every_file.random_split(1.0, seed=3)

        assert everything.to_path() == every_file.to_path()
        assert nothing.to_path() == []

    def test_bad_percentage(self, every_file: FileDataset) -> None:
        with pytest.raises(ValueError, match="percentage must be between 0 and 1"):
            every_file.random_split(1.5)

    def test_bad_seed(self, every_file: FileDataset) -> None:
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            every_file.take_sample(0.5, seed=-1)

    def test_subset_downloads_only_its_files(
        self, every_file: FileDataset, tmp_path: Path
    ) -> None:
        target = tmp_path / "target"
        got = every_file.skip(4).download(target)

        assert got == [str(target / "dog" / "2.jpg"), str(target / "dog" / "3.jpg")]
        assert sorted(p.name for p in target.rglob("*.jpg")) == ["2.jpg", "3.jpg"]


class TestConsumption:
    def test_as_named_input_is_direct(self, cats_dogs: FileDataset) -> None:
        config = cats_dogs.as_named_input("pets")

        assert isinstance(config, DatasetConsumptionConfig)
        assert (config.name, config.mode, config.dataset) == (
            "pets",
            "direct",
            cats_dogs,
        )
        assert config.arg_val == "DatasetConsumptionConfig:pets"

    def test_modes_keep_the_name(self, cats_dogs: FileDataset) -> None:
        mounted = cats_dogs.as_named_input("pets").as_mount("/mnt/pets")
        downloaded = cats_dogs.as_named_input("pets").as_download()

        assert (mounted.name, mounted.mode, mounted.path_on_compute) == (
            "pets",
            "mount",
            "/mnt/pets",
        )
        assert (downloaded.name, downloaded.mode) == ("pets", "download")

    @pytest.mark.parametrize("method", ["as_mount", "as_download"])
    def test_auto_name(self, cats_dogs: FileDataset, method: str) -> None:
        config = getattr(cats_dogs, method)()

        assert re.fullmatch(r"input__[0-9a-f]{8}", config.name)
        assert config.mode == method.removeprefix("as_")

    def test_auto_name_of_a_registered_dataset_uses_its_id(
        self, cats_dogs: FileDataset, workspace: Workspace
    ) -> None:
        registered = cats_dogs.register(workspace, "pets")

        assert registered.as_mount().name == f"input__{registered.id.split('-')[0]}"

    def test_auto_name_does_not_save_the_dataset(
        self, cats_dogs: FileDataset, workspace: Workspace
    ) -> None:
        cats_dogs.as_download()

        assert cats_dogs._id is None

    @pytest.mark.parametrize("name", ["_x", "abc", "a1_b2", "CamelCase", "__"])
    def test_good_names(self, cats_dogs: FileDataset, name: str) -> None:
        assert cats_dogs.as_named_input(name).name == name

    @pytest.mark.parametrize("name", ["1abc", "a-b", "a b", "", "ä", "a.b", "x$"])
    def test_bad_names(self, cats_dogs: FileDataset, name: str) -> None:
        with pytest.raises(InvalidNameError, match="invalid input name"):
            cats_dogs.as_named_input(name)

    def test_name_setter_validates(self, cats_dogs: FileDataset) -> None:
        config = cats_dogs.as_named_input("ok")

        with pytest.raises(InvalidNameError, match="invalid input name '9'"):
            config.name = "9"
        config.name = "renamed"

        assert config.name == "renamed"

    def test_environment_variable_names_warn(self, cats_dogs: FileDataset) -> None:
        with pytest.warns(UserWarning, match="shadows the environment variable PATH"):
            cats_dogs.as_named_input("path")

    def test_bad_mode(self, cats_dogs: FileDataset) -> None:
        with pytest.raises(DatasetError, match="mode must be one of"):
            DatasetConsumptionConfig("x", cats_dogs, mode="stream")

    def test_mode_is_lower_cased(self, cats_dogs: FileDataset) -> None:
        assert DatasetConsumptionConfig("x", cats_dogs, mode="MOUNT").mode == "mount"

    def test_hdfs_needs_synapse(self, cats_dogs: FileDataset) -> None:
        with pytest.raises(DatasetError, match="hdfs mode needs a Synapse"):
            cats_dogs.as_named_input("x").as_hdfs()

    @pytest.mark.parametrize("method", ["as_mount", "as_download"])
    def test_tabular_dataset_cannot_be_mounted(
        self, blobstore: Datastore, store_root: Path, method: str
    ) -> None:
        (store_root / "t.csv").write_text("a,b\n1,2\n")
        tabular = Dataset.Tabular.from_delimited_files((blobstore, "t.csv"))

        mode = method.removeprefix("as_")
        with pytest.raises(DatasetError, match=f"Only FileDataset supports {mode}"):
            getattr(tabular.as_named_input("x"), method)()

    def test_tuple_of_workspace_and_name(
        self, cats_dogs: FileDataset, workspace: Workspace
    ) -> None:
        cats_dogs.register(workspace, "pets")
        cats_dogs.take(1).register(workspace, "pets", create_new_version=True)

        latest = DatasetConsumptionConfig("x", (workspace, "pets"))
        first = DatasetConsumptionConfig("x", (workspace, "pets", 1))

        assert (latest.dataset.version, first.dataset.version) == (2, 1)

    @pytest.mark.parametrize(
        "ref",
        [("ws", "pets"), ("pets",), ("a", "b", 1, 2)],
        ids=["name-first", "one-item", "four-items"],
    )
    def test_a_tuple_that_is_not_a_workspace_and_a_name(
        self, ref: tuple[object, ...]
    ) -> None:
        with pytest.raises(
            PipelineTypeError,
            match=r"must be \(workspace, name\) or \(workspace, name, version\), "
            r"with a Workspace first, not \(",
        ):
            DatasetConsumptionConfig("x", ref)

    def test_a_workspace_and_an_unknown_name(self, workspace: Workspace) -> None:
        with pytest.raises(DatasetNotFoundError, match='name "nope"'):
            DatasetConsumptionConfig("x", (workspace, "nope"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http.server on 127.0.0.1 serving a folder; yields (base URL, folder)."""
    root = tmp_path / "site"
    (root / "files").mkdir(parents=True)
    (root / "files" / "a.txt").write_text("alpha")
    (root / "files" / "b.txt").write_text("beta")
    (root / "table.csv").write_text("id,name\n1,one\n2,two\n3,three\n")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class TestHttp:
    def test_files_from_urls(self, http_root: tuple[str, Path], tmp_path: Path) -> None:
        base, _ = http_root
        dataset = Dataset.File.from_files(
            [f"{base}/files/a.txt", f"{base}/files/b.txt"]
        )

        assert dataset.to_path() == ["/a.txt", "/b.txt"]
        got = dataset.download(tmp_path / "out")
        assert [Path(p).read_text() for p in got] == ["alpha", "beta"]

    def test_missing_url(self, http_root: tuple[str, Path]) -> None:
        base, _ = http_root

        with pytest.raises(PathNotFoundError, match=r"nope\.txt does not exist"):
            Dataset.File.from_files(f"{base}/files/nope.txt")

    def test_delimited_file_from_a_url(self, http_root: tuple[str, Path]) -> None:
        base, _ = http_root

        frame = Dataset.Tabular.from_delimited_files(
            f"{base}/table.csv"
        ).to_pandas_dataframe()

        assert frame["name"].tolist() == ["one", "two", "three"]
        assert frame["id"].tolist() == [1, 2, 3]
