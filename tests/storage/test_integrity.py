"""Sealed trees, their signatures, and what changed: storage.integrity."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

import fsspec
import pytest
from pipeline.kit import NOBODY, as_nobody, needs_root, nobody_folder

from dataferry.storage import StorageLocation
from dataferry.storage.integrity import (
    differences,
    remove_tree,
    seal,
    to_record,
    tree_signatures,
    unseal_folders,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path


@pytest.fixture
def location(tmp_path: Path) -> StorageLocation:
    return StorageLocation("store", fsspec.filesystem("file"), str(tmp_path))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("n\n1\n")
    (folder / "sub" / "b.csv").write_text("n\n2\n")
    return folder


def write_bits(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): stat.S_IMODE(p.lstat().st_mode) & 0o222
        for p in [folder, *folder.rglob("*")]
    }


class TestSignatures:
    def test_unchanged_tree_has_no_differences(
        self, location: StorageLocation, tree: Path
    ) -> None:
        recorded = to_record(tree_signatures(location, "out") or {})

        assert sorted(recorded) == ["a.csv", "sub/b.csv"]
        assert (
            differences(recorded, tree_signatures(location, "out"), root_name="out")
            == []
        )

    def test_each_kind_of_change_is_named(
        self, location: StorageLocation, tree: Path
    ) -> None:
        recorded = to_record(tree_signatures(location, "out") or {})
        with open(tree / "a.csv", "a") as fh:
            fh.write("3\n")
        (tree / "sub" / "b.csv").unlink()
        (tree / "sub" / "c.csv").write_text("new")

        assert differences(
            recorded, tree_signatures(location, "out"), root_name="out"
        ) == [
            "'a.csv' changed (4 -> 6 bytes)",
            "'sub/b.csv' deleted",
            "'sub/c.csv' added",
        ]

    def test_same_size_rewrite_and_replacement_are_changes(
        self, location: StorageLocation, tree: Path
    ) -> None:
        recorded = to_record(tree_signatures(location, "out") or {})
        stamp = os.stat(tree / "a.csv").st_mtime_ns
        (tree / "a.csv").write_text("n\n9\n")
        os.utime(tree / "a.csv", ns=(stamp + 10**9, stamp + 10**9))
        replacement = tree / "sub" / ".b.tmp"
        replacement.write_text("n\n2\n")
        os.replace(replacement, tree / "sub" / "b.csv")

        assert differences(
            recorded, tree_signatures(location, "out"), root_name="out"
        ) == [
            "'a.csv' changed (rewritten)",
            "'sub/b.csv' changed (replaced by another file)",
        ]

    def test_a_single_file_is_named_by_its_own_name(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        (tmp_path / "model.pkl").write_bytes(b"12")
        recorded = to_record(tree_signatures(location, "model.pkl") or {})
        (tmp_path / "model.pkl").write_bytes(b"123")

        assert list(recorded) == [""]
        assert differences(
            recorded, tree_signatures(location, "model.pkl"), root_name="model.pkl"
        ) == ["'model.pkl' changed (2 -> 3 bytes)"]

    def test_a_tree_that_is_gone_is_none(self, location: StorageLocation) -> None:
        assert tree_signatures(location, "nothing/here") is None
        assert differences({"a": [1, 2, 3, ""]}, None, root_name="x") == ["'a' deleted"]

    def test_links_are_recorded_not_followed(
        self, location: StorageLocation, tree: Path, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside.txt"
        outside.write_text("x")
        os.symlink(outside, tree / "link")
        recorded = to_record(tree_signatures(location, "out") or {})
        outside.write_text("longer")

        assert (
            differences(recorded, tree_signatures(location, "out"), root_name="out")
            == []
        )


class TestSeal:
    def test_files_and_folders_lose_their_write_bits(self, tree: Path) -> None:
        seal(str(tree))

        assert write_bits(tree) == {".": 0, "a.csv": 0, "sub": 0, "sub/b.csv": 0}

    def test_links_and_their_targets_are_left_alone(
        self, tree: Path, tmp_path: Path
    ) -> None:
        outside = tmp_path / "outside.txt"
        outside.write_text("x")
        os.symlink(outside, tree / "link")

        seal(str(tree))

        assert stat.S_IMODE(outside.stat().st_mode) & 0o200

    def test_a_sealed_tree_is_removed(self, tree: Path) -> None:
        seal(str(tree))

        remove_tree(str(tree))

        assert not tree.exists()

    def test_unseal_makes_folders_writable_and_keeps_files_read_only(
        self, tree: Path
    ) -> None:
        seal(str(tree))

        unseal_folders(str(tree))

        assert write_bits(tree)["sub"] == 0o200
        assert write_bits(tree)["a.csv"] == 0

    def test_removing_nothing_is_fine(self, tmp_path: Path) -> None:
        remove_tree(str(tmp_path / "missing"))


@needs_root
class TestNotRoot:
    """What the system enforces for a user that is not root (the owner of the data)."""

    @pytest.fixture
    def owned(self) -> Iterator[Path]:
        base = nobody_folder()
        folder = base / "out"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.csv").write_text("n\n1\n")
        for path in [folder, folder / "sub", folder / "a.csv"]:
            os.chown(path, NOBODY, NOBODY)
        seal(str(folder))
        yield folder
        remove_tree(str(base))

    @pytest.mark.parametrize(
        "write",
        [
            lambda f: os.close(os.open(f / "a.csv", os.O_WRONLY | os.O_APPEND)),
            lambda f: os.close(os.open(f / "a.csv", os.O_WRONLY | os.O_TRUNC)),
            lambda f: (f / "a.csv").unlink(),
            lambda f: (f / "sub" / "new.csv").write_text("x"),
            lambda f: (f / "a.csv").rename(f / "b.csv"),
        ],
        ids=["append", "truncate", "delete", "add", "rename"],
    )
    def test_writes_are_refused(
        self, owned: Path, write: Callable[[Path], object]
    ) -> None:
        assert as_nobody(lambda: write(owned)) == "refused"
        assert (owned / "a.csv").read_text() == "n\n1\n"

    def test_the_owner_can_still_remove_it(self, owned: Path) -> None:
        assert as_nobody(lambda: remove_tree(str(owned))) == "done"
        assert not owned.exists()
