"""Datasets read an object-store output whole while it is overwritten: old or new.

An overwrite is committed between two files of a read (the store's own filesystem;
the test only runs the commit when the reader opens its second file). The read is
done again and gives the new output whole; an output overwritten during every read
is a typed error naming it. On Azurite (a blob datastore) and on ``memory://`` URLs.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import fsspec
import pytest

from dataferry import Dataset
from dataferry.errors import OutputChangedError
from dataferry.storage.location import StorageLocation
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace

OLD = {"a.csv": "id\n1\n2\n", "b.csv": "id\n3\n"}
NEW = {"a.csv": "id\n10\n", "b.csv": "id\n30\n40\n"}


@pytest.fixture(
    params=[
        "memory",
        pytest.param("azurite", marks=[pytest.mark.server, pytest.mark.slow]),
    ]
)
def place(
    request: pytest.FixtureRequest, workspace: Workspace
) -> Iterator[tuple[StorageLocation, Any]]:
    """A location outputs are committed to, and the path a dataset reads them by."""
    if request.param == "memory":
        root = f"/w{uuid.uuid4().hex[:8]}"
        loc = StorageLocation("s", fsspec.filesystem("memory"), root)
        yield loc, f"memory://{root}/data/out/*.csv"
        loc.fs.rm(root, recursive=True)
        return
    from execution.blob_kit import register_blob

    azurite: Azurite = request.getfixturevalue("azurite")
    store = register_blob(workspace, azurite, f"c{uuid.uuid4().hex[:12]}")
    yield store.location, [(store, "data/out/*.csv")]


def commit(loc: StorageLocation, tmp_path: Path, files: dict[str, str]) -> None:
    step = f"step_{uuid.uuid4().hex[:6]}"
    folder = loc.staging.stage("data/out", step, "out", tmp_path / step)
    for rel, text in files.items():
        (folder / rel).write_text(text)
    loc.staging.commit(StagedPlace("data/out", folder, step, "out"), merge=True)


def overwrite_on_open(
    loc: StorageLocation,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    versions: list[dict[str, str]],
    *,
    every: int = 2,
) -> None:
    """Commit the next of ``versions`` at every ``every``-th file a reader opens."""
    real = loc.fs.open
    opened: list[str] = []
    committing: list[bool] = []  # the commit opens files too (memory's writes)

    def open_(path: str, *args: Any, **kwargs: Any) -> Any:
        if committing or "/data/out/" not in path or "/.dataferry-" in path:
            return real(path, *args, **kwargs)
        opened.append(path)
        if len(opened) % every == 0 and versions:
            committing.append(True)
            try:
                commit(loc, tmp_path, versions.pop(0))
            finally:
                committing.clear()
        return real(path, *args, **kwargs)

    monkeypatch.setattr(loc.fs, "open", open_)


def test_a_table_read_across_an_overwrite_is_read_again_whole(
    place: tuple[StorageLocation, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    loc, path = place
    commit(loc, tmp_path, OLD)
    dataset = Dataset.Tabular.from_delimited_files(path)  # reads the first rows
    overwrite_on_open(loc, monkeypatch, tmp_path, [NEW])

    frame = dataset.to_pandas_dataframe()

    assert frame["id"].tolist() == [10, 30, 40]


def test_an_output_overwritten_during_every_read_is_a_typed_error(
    place: tuple[StorageLocation, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    loc, path = place
    commit(loc, tmp_path, OLD)
    dataset = Dataset.Tabular.from_delimited_files(path)
    overwrite_on_open(loc, monkeypatch, tmp_path, [NEW, OLD] * 10, every=1)

    with pytest.raises(
        OutputChangedError,
        match=r"reading the dataset: output \S+:/\S*data/out was overwritten while it "
        r"was read \(3 times in a row\), so what was read could mix its old and new "
        r"files; read it again once the step writing it is done\.",
    ):
        dataset.to_pandas_dataframe()


def test_a_download_across_an_overwrite_is_downloaded_again_whole(
    place: tuple[StorageLocation, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    loc, path = place
    commit(loc, tmp_path, OLD)
    # a download reads file by file (get_file; on Azure the SDK's, through
    # blob_transfers), not through open: overwrite once the first file has arrived
    mover = getattr(loc.fs, "blob_transfers", loc.fs)
    real = mover.get_file
    versions = [NEW]
    lock = threading.Lock()

    def get_file(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        with lock:
            if versions:
                commit(loc, tmp_path, versions.pop(0))
        return result

    monkeypatch.setattr(mover, "get_file", get_file)
    target = tmp_path / "down"

    got = Dataset.File.from_files(path).download(str(target))

    assert sorted(p.rsplit("/", 1)[-1] for p in got) == ["a.csv", "b.csv"]
    assert {p.name: p.read_text() for p in target.glob("*.csv")} == NEW


def test_a_streamed_read_across_an_overwrite_ends_with_a_typed_error(
    place: tuple[StorageLocation, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    loc, path = place
    commit(loc, tmp_path, OLD)
    dataset = Dataset.Tabular.from_delimited_files(path)
    overwrite_on_open(loc, monkeypatch, tmp_path, [NEW])
    batches = dataset.to_record_batches()

    with pytest.raises(
        OutputChangedError,
        match=r"streaming the dataset's records: output \S+ was overwritten while it "
        r"was read \(once\)",
    ):
        list(batches)
