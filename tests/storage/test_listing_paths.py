"""The per-file path work of a listing (relative paths, commit-marker visibility) is
cut to a slice and one walk per folder, and gives what the slow forms gave."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry.storage import StorageLocation
from dataferry.storage.commit_marker import (
    MARKER,
    PENDING,
    marker_body,
    visible_files,
)
from dataferry.storage.paths import relative_below

if TYPE_CHECKING:
    from pathlib import Path

STARTS = ["/", "/a", "/a/", "/a//", "a", "a/b", ".", "/a/./b", "/a/../a", "//"]
TAILS = ["x", "x/y.txt", ".hidden", "x/.hidden/y", "x//y", "x/", "x/./y", "x/../y"]


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("tail", TAILS)
def test_relative_below_is_relpath(start: str, tail: str) -> None:
    path = start.rstrip("/") + "/" + tail
    assert relative_below(path, start) == posixpath.relpath(path, start)


@pytest.mark.parametrize(
    ("path", "start"),
    [("/b/x", "/a"), ("/ab/x", "/a"), ("/a", "/a"), ("rel/x", "/rel"), ("/a/x", "a")],
)
def test_relative_below_outside_start_is_relpath(path: str, start: str) -> None:
    assert relative_below(path, start) == posixpath.relpath(path, start)


def test_relative_below_refuses_an_empty_path_as_relpath_does() -> None:
    assert relative_below("/a/x", "") == posixpath.relpath("/a/x", "")
    with pytest.raises(ValueError, match="no path specified"):
        relative_below("", "/a")


def _slow_shown(full: str, pending: set[str], allowed: dict[str, set[str]]) -> bool:
    """The per-file walk visible_files made before (the reference)."""
    folder, decided, shown = posixpath.dirname(full), False, True
    while True:
        if folder in pending:
            return False
        if not decided and folder in allowed:
            shown = posixpath.relpath(full, folder) in allowed[folder]
            decided = True
        parent = posixpath.dirname(folder)
        if parent == folder:
            return shown
        folder = parent


def _tree(root: Path) -> None:
    """Plain files, a committed output (one file unlisted), one inside it committed
    again (the innermost marker decides), and one being committed."""
    for rel in [
        "plain/a.txt",
        "plain/deep/b.txt",
        "out/kept.txt",
        "out/sub/kept.txt",
        "out/extra.txt",
        "out/inner/own.txt",
        "out/inner/stray.txt",
        "busy/x.txt",
        "busy/sub/y.txt",
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    for folder, files in {
        "out": ["kept.txt", "sub/kept.txt", "inner/own.txt"],
        "out/inner": ["own.txt"],
    }.items():
        sizes = {f: {"size": (root / folder / f).stat().st_size} for f in files}
        (root / folder / MARKER).write_bytes(marker_body(sizes))
    (root / "busy" / PENDING).write_text("")


def test_visible_files_decides_per_folder_as_the_per_file_walk(tmp_path: Path) -> None:
    _tree(tmp_path)
    location = StorageLocation("s", fsspec.filesystem("file"), str(tmp_path))
    listed = sorted(str(p) for p in tmp_path.rglob("*") if p.is_file())
    kept = visible_files(location, listed)
    root = str(tmp_path)
    assert sorted(posixpath.relpath(k, root) for k in kept) == [
        "out/inner/own.txt",
        "out/kept.txt",
        "out/sub/kept.txt",
        "plain/a.txt",
        "plain/deep/b.txt",
    ]
    allowed = {
        f"{root}/out": {"kept.txt", "sub/kept.txt", "inner/own.txt"},
        f"{root}/out/inner": {"own.txt"},
    }
    pending = {f"{root}/busy"}
    reference = [
        f for f in listed if ".dataferry-" not in f and _slow_shown(f, pending, allowed)
    ]
    assert kept == reference
