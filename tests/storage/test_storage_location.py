"""StorageLocation: one contract, run on a local folder and on fsspec's memory store."""

from __future__ import annotations

import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry.errors import PathNotFoundError, TargetExistsError
from dataferry.storage import StorageLocation
from dataferry.storage.location import has_glob, modified_ns

if TYPE_CHECKING:
    from dataferry.storage.transfer_progress import TransferSnapshot

BIG = 12 << 20  # three chunks of a local copy, and of fsspec's

if TYPE_CHECKING:
    from collections.abc import Iterator

FILES = {
    "a.txt": b"a",
    "dir/b.csv": b"b,b",
    "dir/c.csv": b"c,c",
    "dir/sub/d.csv": b"d,d",
}


class LocationContract:
    """What every datastore's location must do; a backend supplies ``location``."""

    @pytest.fixture
    def location(self) -> StorageLocation:
        pytest.fail(
            f"{type(self).__name__} must define its backend's `location` fixture"
        )

    @pytest.fixture
    def filled(self, location: StorageLocation) -> StorageLocation:
        for rel, data in FILES.items():
            full = location.full_path(rel)
            location.fs.makedirs(full.rsplit("/", 1)[0], exist_ok=True)
            location.fs.pipe_file(full, data)
        return location

    def rel(self, location: StorageLocation, fulls: list[str]) -> list[str]:
        return [location.relative_path(f) for f in fulls]

    def test_full_and_relative_path_round_trip(self, location: StorageLocation) -> None:
        for given in ["x/y.txt", "/x/y.txt", "./x/y.txt", ".//x/y.txt"]:
            assert location.relative_path(location.full_path(given)) == "x/y.txt"
        assert location.full_path("") == location.root
        assert location.full_path("/") == location.root

    def test_resolve_one_file(self, filled: StorageLocation) -> None:
        assert self.rel(filled, filled.resolve("dir/b.csv")) == ["dir/b.csv"]

    def test_resolve_a_folder_recursively_and_sorted(
        self, filled: StorageLocation
    ) -> None:
        assert self.rel(filled, filled.resolve("dir")) == [
            "dir/b.csv",
            "dir/c.csv",
            "dir/sub/d.csv",
        ]

    def test_resolve_the_root(self, filled: StorageLocation) -> None:
        assert sorted(self.rel(filled, filled.resolve("/"))) == sorted(FILES)

    def test_resolve_a_glob(self, filled: StorageLocation) -> None:
        assert self.rel(filled, filled.resolve("dir/*.csv")) == [
            "dir/b.csv",
            "dir/c.csv",
        ]

    def test_resolve_a_recursive_glob(self, filled: StorageLocation) -> None:
        assert self.rel(filled, filled.resolve("**/*.csv")) == [
            "dir/b.csv",
            "dir/c.csv",
            "dir/sub/d.csv",
        ]

    def test_missing_path(self, filled: StorageLocation) -> None:
        with pytest.raises(
            PathNotFoundError,
            match=rf"path 'nope.txt' matches no file on datastore '{filled.name}'",
        ):
            filled.resolve("nope.txt")

    def test_glob_matching_nothing(self, filled: StorageLocation) -> None:
        with pytest.raises(
            PathNotFoundError, match=r"glob 'dir/\*.parquet' matches no file"
        ):
            filled.resolve("dir/*.parquet")

    def test_exists(self, filled: StorageLocation) -> None:
        assert filled.exists("a.txt")
        assert filled.exists("dir")
        assert not filled.exists("nope")

    def test_signature_changes_with_the_content(self, filled: StorageLocation) -> None:
        full = filled.full_path("a.txt")
        before = filled.signature(full)
        filled.fs.pipe_file(full, b"longer content")

        after = filled.signature(full)

        assert before.size == 1
        assert after.size == len(b"longer content")
        assert after != before

    def test_open(self, filled: StorageLocation) -> None:
        with filled.open(filled.full_path("dir/b.csv")) as fh:
            assert fh.read() == b"b,b"

    def test_open_missing(self, filled: StorageLocation) -> None:
        with (
            pytest.raises(PathNotFoundError, match=r"no file 'ghost\.txt'"),
            filled.open(filled.full_path("ghost.txt")),
        ):
            pass

    def test_put_files_skips_existing_unless_overwrite(
        self, filled: StorageLocation, tmp_path: Path
    ) -> None:
        src = tmp_path / "new.txt"
        src.write_bytes(b"new")

        written = filled.put_files(
            [(str(src), "a.txt"), (str(src), "up/new.txt")],
            overwrite=False,
            show_progress=False,
        )

        assert written == ["up/new.txt"]
        assert filled.fs.cat_file(filled.full_path("a.txt")) == b"a"
        assert filled.fs.cat_file(filled.full_path("up/new.txt")) == b"new"

        written = filled.put_files(
            [(str(src), "a.txt")], overwrite=True, show_progress=False
        )

        assert written == ["a.txt"]
        assert filled.fs.cat_file(filled.full_path("a.txt")) == b"new"

    def test_get_files(self, filled: StorageLocation, tmp_path: Path) -> None:
        pairs = [
            (f, str(tmp_path / "out" / filled.relative_path(f)))
            for f in filled.resolve("dir")
        ]

        got = filled.get_files(pairs, overwrite=False, show_progress=False)

        assert got == [local for _, local in pairs]
        assert (tmp_path / "out" / "dir" / "sub" / "d.csv").read_bytes() == b"d,d"
        assert not list((tmp_path / "out").rglob("*.part"))

    def test_get_files_checks_every_target_before_copying(
        self, filled: StorageLocation, tmp_path: Path
    ) -> None:
        pairs = [
            (f, str(tmp_path / filled.relative_path(f))) for f in filled.resolve("dir")
        ]
        (tmp_path / "dir" / "sub").mkdir(parents=True)
        (tmp_path / "dir" / "sub" / "d.csv").write_bytes(b"mine")

        with pytest.raises(
            TargetExistsError, match=r'd\.csv" already exists .*overwrite=True'
        ):
            filled.get_files(pairs, overwrite=False, show_progress=False)

        assert not (tmp_path / "dir" / "b.csv").exists()
        assert (tmp_path / "dir" / "sub" / "d.csv").read_bytes() == b"mine"

        filled.get_files(pairs, overwrite=True, show_progress=True)

        assert (tmp_path / "dir" / "sub" / "d.csv").read_bytes() == b"d,d"

    def test_progress_moves_inside_one_large_file(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(BIG))
        ups: list[TransferSnapshot] = []
        location.put_files(
            [(str(big), "big.bin")],
            overwrite=False,
            show_progress=False,
            report=ups.append,
        )
        downs: list[TransferSnapshot] = []
        location.get_files(
            [(location.full_path("big.bin"), str(tmp_path / "back.bin"))],
            overwrite=False,
            show_progress=False,
            report=downs.append,
        )
        assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()
        for seen in (ups, downs):
            # told before the file was whole: a part of its bytes, no file done yet
            first = seen[0]
            assert 0 < first.bytes_done < BIG
            assert (first.files_done, first.total_files, first.total_bytes) == (
                0,
                1,
                BIG,
            )
            assert (seen[-1].bytes_done, seen[-1].files_done) == (BIG, 1)

    def test_shown_progress_is_plain_lines_off_a_terminal_and_a_summary(
        self,
        location: StorageLocation,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * BIG)
        (tmp_path / "small.txt").write_text("s")
        pairs = [(str(big), "up/big.bin"), (str(tmp_path / "small.txt"), "up/s.txt")]
        location.put_files(pairs, overwrite=False, show_progress=True)
        location.put_files(pairs, overwrite=False, show_progress=True)
        err = [line[9:] for line in capsys.readouterr().err.splitlines()]
        name = location.name
        assert err[0] == (
            f"uploading to datastore '{name}': 0 B of 12.0 MB, 0 of 2 files, 0 B/s"
        )
        assert re.fullmatch(
            rf"uploaded 2 files \(12.0 MB\) to datastore '{name}' in \d+\.\ds "
            r"\(.+/s\)",
            err[1],
        )
        # the second time every file is there: one line says so
        assert re.fullmatch(
            rf"uploaded 0 files \(0 B\) to datastore '{name}' in \d+\.\ds \(.+\); "
            r"2 files skipped: already there \(pass overwrite=True to replace\)",
            err[-1],
        )
        assert len(err) == 3


class TestLocalLocation(LocationContract):
    @pytest.fixture
    def location(self, tmp_path: Path) -> StorageLocation:
        root = tmp_path / "root"
        root.mkdir()
        return StorageLocation("local_store", fsspec.filesystem("file"), str(root))

    def test_is_local(self, location: StorageLocation) -> None:
        assert location.is_local

    def test_signature_has_the_inode(self, filled: StorageLocation) -> None:
        full = filled.full_path("a.txt")

        assert filled.signature(full).inode == os.stat(full).st_ino

    def test_put_stages_beside_the_target(
        self, location: StorageLocation, tmp_path: Path
    ) -> None:
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(1 << 16))

        location.put_files(
            [(str(src), "deep/er/big.bin")], overwrite=False, show_progress=False
        )

        target = Path(location.full_path("deep/er/big.bin"))
        assert target.read_bytes() == src.read_bytes()
        assert os.listdir(target.parent) == ["big.bin"]


class TestMemoryLocation(LocationContract):
    @pytest.fixture
    def location(self) -> Iterator[StorageLocation]:
        fs = fsspec.filesystem("memory")
        root = f"/loc-{uuid.uuid4().hex[:8]}"
        fs.mkdir(root)
        yield StorageLocation("mem_store", fs, root)
        fs.rm(root, recursive=True)

    def test_is_not_local(self, location: StorageLocation) -> None:
        assert not location.is_local


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/b.csv", False), ("a/*.csv", True), ("a/?.csv", True), ("a/[ab].csv", True)],
)
def test_has_glob(path: str, expected: bool) -> None:
    assert has_glob(path) is expected


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"mtime": 1.5}, 1_500_000_000),  # local and dir:// filesystems: seconds
        ({"last_modified": datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC)}, 2 * 10**9),
        ({"LastModified": datetime(1970, 1, 1, 0, 0, 3, tzinfo=UTC)}, 3 * 10**9),
        ({"created": 4}, 4 * 10**9),  # memory: a rewrite is a new file
        ({"mtime": None, "size": 3}, 0),
        ({"mtime": True}, 0),
    ],
)
def test_modified_ns_reads_every_filesystems_time(
    info: dict[str, object], expected: int
) -> None:
    assert modified_ns(info) == expected
