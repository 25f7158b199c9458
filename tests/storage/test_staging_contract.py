"""The commit protocol's contract, on every kind of storage location.

Every backend in ``staging_backends.BACKENDS`` and ``SERVER_BACKENDS`` (Azurite, with
the ``server`` marker) runs every test of ``TestContract``; the marker rules that only
object stores have run on ``OBJECT_STORES``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from staging_backends import BACKENDS, OBJECT_STORES, SERVER_BACKENDS

from dataferry.errors import (
    DamagedDataError,
    PathNotFoundError,
    RunError,
    TargetExistsError,
)
from dataferry.storage.commit_marker import MARKER, PENDING, STAGING_DIR
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from dataferry.storage.location import StorageLocation


def _params(names: Iterable[str]) -> list[Any]:
    """One parameter per backend; those that need a server carry its marker."""
    return [
        pytest.param(n, marks=pytest.mark.server) if n in SERVER_BACKENDS else n
        for n in sorted(names)
    ]


def _open(request: pytest.FixtureRequest, tmp_path: Path) -> StorageLocation:
    name = request.param
    if name in SERVER_BACKENDS:
        return SERVER_BACKENDS[name](tmp_path, request.getfixturevalue("azurite"))
    return BACKENDS[name](tmp_path)


@pytest.fixture(params=_params([*BACKENDS, *SERVER_BACKENDS]))
def location(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StorageLocation]:
    loc = _open(request, tmp_path)
    yield loc
    if request.param == "memory" and loc.fs.exists(loc.root):
        loc.fs.rm(loc.root, recursive=True)


@pytest.fixture(params=_params(OBJECT_STORES))
def object_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StorageLocation]:
    loc = _open(request, tmp_path)
    yield loc
    if request.param == "memory" and loc.fs.exists(loc.root):
        loc.fs.rm(loc.root, recursive=True)


def stage(
    loc: StorageLocation,
    tmp_path: Path,
    files: dict[str, str],
    *,
    path: str = "data/out",
    step: str = "step_1",
) -> StagedPlace:
    """Stage output 'out' of ``step`` for ``path`` holding ``files``."""
    scratch = tmp_path / "scratch" / step
    folder = loc.staging.stage(path, step, "out", scratch)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return StagedPlace(path, folder, step, "out")


def commit(
    loc: StorageLocation,
    tmp_path: Path,
    files: dict[str, str],
    *,
    merge: bool = False,
    path: str = "data/out",
    step: str = "step_1",
) -> None:
    loc.staging.commit(stage(loc, tmp_path, files, path=path, step=step), merge=merge)


def listed(loc: StorageLocation, pattern: str = "data/out") -> dict[str, str]:
    """``{relative path: content}`` of what a reader of ``pattern`` sees."""
    base = loc._strip(loc.full_path("data/out"))
    found = {}
    for full in loc.resolve(pattern):
        rel = full[len(base) :].lstrip("/") or "."
        with loc.open(full) as fh:
            found[rel] = fh.read().decode()
    return found


class TestContract:
    def test_a_new_output_is_committed_whole(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "1", "sub/b.csv": "22"})

        assert listed(location) == {"a.csv": "1", "sub/b.csv": "22"}
        assert location.staging.staged_steps() == []
        assert sorted(location.staging.tree_signatures("data/out") or {}) == [
            "a.csv",
            "sub/b.csv",
        ]

    def test_committing_over_an_output_without_merge_is_refused(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "old"})
        with pytest.raises(
            TargetExistsError,
            match=r"datastore 's': cannot commit output 'out' to 'data/out': it holds "
            r"data already\.",
        ):
            commit(location, tmp_path, {"a.csv": "new"}, step="step_2")

        assert listed(location) == {"a.csv": "old"}

    def test_a_merge_keeps_old_files_and_new_ones_win(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "old", "sub/c.csv": "kept"})
        commit(
            location, tmp_path, {"a.csv": "new", "b.csv": "b"}, merge=True, step="s2"
        )

        assert listed(location) == {"a.csv": "new", "b.csv": "b", "sub/c.csv": "kept"}
        assert location.staging.staged_steps() == []

    def test_a_single_file_output(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        staged = stage(location, tmp_path, {})
        staged.write_dir.rmdir()
        staged.write_dir.write_text("one file")

        location.staging.commit(staged, merge=False)

        assert listed(location) == {".": "one file"}
        assert list(location.staging.tree_signatures("data/out") or {}) == [""]

    def test_a_file_over_a_committed_folder_is_refused(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "1"})
        staged = stage(location, tmp_path, {}, step="step_2")
        staged.write_dir.rmdir()
        staged.write_dir.write_text("one file")

        with pytest.raises(
            RunError, match=r"output 'out' is a file, but s:/data/out is a folder"
        ):
            location.staging.commit(staged, merge=True)

    def test_an_empty_output_is_committed_and_lists_no_file(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {})

        assert location.staging.tree_signatures("data/out") == {}
        with pytest.raises(PathNotFoundError, match=r"path 'data/out' matches no file"):
            location.resolve("data/out")

    def test_discard_leaves_nothing(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        staged = stage(location, tmp_path, {"a.csv": "1"})

        location.staging.discard(staged)

        assert not location.exists("data/out")
        assert not staged.write_dir.exists()
        assert location.staging.staged_steps() == []

    def test_discard_step_removes_a_crashed_steps_staging(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        # what a crash leaves: something under the step's staging prefix on the store
        location.put_files(
            [(str(write(tmp_path / "x.csv", "x")), f"{STAGING_DIR}/step_9/out/x.csv")],
            overwrite=True,
            show_progress=False,
        )
        assert location.staging.staged_steps() == ["step_9"]

        location.staging.discard_step("step_9")

        assert location.staging.staged_steps() == []
        location.staging.discard_step("step_9")  # nothing there: not an error

    def test_remove_deletes_an_output(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "1", "sub/b.csv": "2"})

        location.staging.remove("data/out")

        assert not location.exists("data/out")
        assert location.staging.tree_signatures("data/out") is None
        location.staging.remove("data/out")  # nothing there: not an error

    def test_local_path_is_zero_copy_where_the_files_are_local(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "1"})
        (full,) = location.resolve("data/out")

        local = location.local_path(full)

        if location.is_local:
            assert local is not None
            assert Path(local).read_text() == "1"
        else:
            assert local is None

    def test_listings_hide_staging_and_bookkeeping(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "1"})
        stage(location, tmp_path, {"half.csv": "h"}, step="step_2")
        location.put_files(
            [(str(write(tmp_path / "y.csv", "y")), f"{STAGING_DIR}/step_3/o/y.csv")],
            overwrite=True,
            show_progress=False,
        )

        root = location._strip(location.full_path(""))
        found = sorted(f[len(root) :].lstrip("/") for f in location.resolve(""))

        assert found == ["data/out/a.csv"]
        assert location.resolve("**/*.csv") == location.resolve("data/out")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


class TestObjectStoreMarker:
    def test_the_marker_lists_every_file_with_size_and_etag(
        self, object_store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(object_store, tmp_path, {"a.csv": "1", "sub/b.csv": "22"})

        raw = object_store.fs.cat_file(object_store.full_path(f"data/out/{MARKER}"))
        body = json.loads(raw)

        assert body["format"] == 1
        assert {k: v["size"] for k, v in body["files"].items()} == {
            "a.csv": 1,
            "sub/b.csv": 2,
        }
        assert not object_store.exists(f"data/out/{PENDING}")

    def test_files_the_marker_does_not_list_are_not_read(
        self, object_store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(object_store, tmp_path, {"a.csv": "1"})
        object_store.fs.pipe_file(object_store.full_path("data/out/stray.csv"), b"s")

        assert listed(object_store) == {"a.csv": "1"}
        assert listed(object_store, "data/**/*.csv") == {"a.csv": "1"}
        assert sorted(object_store.staging.tree_signatures("data/out") or {}) == [
            "a.csv"
        ]

    def test_an_output_being_committed_reads_as_absent(
        self, object_store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(object_store, tmp_path, {"a.csv": "1"})
        object_store.fs.pipe_file(object_store.full_path(f"data/out/{PENDING}"), b"")

        with pytest.raises(PathNotFoundError, match=r"path 'data/out' matches no file"):
            object_store.resolve("data/out")
        assert object_store.staging.tree_signatures("data/out") is None

    def test_an_output_without_a_marker_is_absent_to_the_catalog(
        self, object_store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(object_store, tmp_path, {"a.csv": "1"})
        object_store.fs.rm_file(object_store.full_path(f"data/out/{MARKER}"))

        assert object_store.staging.tree_signatures("data/out") is None

    def test_an_unreadable_marker_is_a_typed_error(
        self, object_store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(object_store, tmp_path, {"a.csv": "1"})
        object_store.fs.pipe_file(object_store.full_path(f"data/out/{MARKER}"), b"{")

        with pytest.raises(
            DamagedDataError,
            match=r"datastore 's': the commit marker 'data/out/\.dataferry-committed' "
            r"is unreadable",
        ):
            object_store.resolve("data/out")

    def test_an_overwrite_lists_old_and_new_files_in_the_new_marker(
        self, object_store: StorageLocation, tmp_path: Path
    ) -> None:
        commit(object_store, tmp_path, {"a.csv": "old", "keep.csv": "k"})
        commit(object_store, tmp_path, {"a.csv": "new"}, merge=True, step="step_2")

        body = json.loads(
            object_store.fs.cat_file(object_store.full_path(f"data/out/{MARKER}"))
        )
        assert sorted(body["files"]) == ["a.csv", "keep.csv"]
        assert listed(object_store) == {"a.csv": "new", "keep.csv": "k"}


class TestSignatures:
    def test_a_rewritten_file_has_another_signature(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "old"})
        (full,) = location.resolve("data/out")
        before = location.signature(full)
        time.sleep(0.01)  # a local mtime ticks in ms on some filesystems

        commit(location, tmp_path, {"a.csv": "new"}, merge=True, step="step_2")

        after = location.signature(location.resolve("data/out")[0])
        assert (before.size, after.size) == (3, 3)
        assert after != before


class TestErrors:
    def test_reading_a_missing_file_names_the_datastore_and_the_path(
        self, location: StorageLocation
    ) -> None:
        with (
            pytest.raises(
                PathNotFoundError, match=r"^datastore 's': no file 'data/nope\.csv'$"
            ),
            location.open(location.full_path("data/nope.csv")),
        ):
            pass

    def test_a_glob_that_matches_nothing_is_a_typed_error(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        commit(location, tmp_path, {"a.csv": "1"})

        assert len(location.resolve("data/**/*.csv")) == 1
        with pytest.raises(
            PathNotFoundError,
            match=r"^glob 'data/\*\*/\*\.parquet' matches no file on datastore 's' "
            r"\(looked in .*data/\*\*/\*\.parquet\); check the path, or list it with "
            r"`dataferry datastore show s`\.$",
        ):
            location.resolve("data/**/*.parquet")
