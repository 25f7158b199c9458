"""Inside one_listing a step's preparation lists equal sources once (fingerprint and
binding see the same files); outside it, and in other threads, every resolve lists."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from dataferry.data.listing_scope import forget_listings, one_listing
from dataferry.data.sources import ResolvedFile, resolve_sources
from dataferry.data.whole_read import read_whole
from dataferry.errors import PathNotFoundError
from dataferry.storage.read_pin import ReadPin

if TYPE_CHECKING:
    from pathlib import Path


def _folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    for i in range(count):
        (folder / f"f{i}.txt").write_text(str(i))
    return folder


def _names(files: list[object]) -> list[str]:
    return [f.display for f in files]  # type: ignore[attr-defined]


def test_inside_the_scope_equal_sources_are_listed_once(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 2)
    sources = [{"local": str(folder)}]
    with one_listing():
        first = resolve_sources(sources, None)
        (folder / "late.txt").write_text("late")
        again = resolve_sources([dict(s) for s in sources], None)
        assert _names(again) == _names(first) == ["/f0.txt", "/f1.txt"]
        again.clear()  # a caller's list is its own
        assert len(resolve_sources(sources, None)) == 2
        other = resolve_sources([{"local": str(folder / "late.txt")}], None)
        assert _names(other) == ["/late.txt"]
    assert _names(resolve_sources(sources, None)) == [
        "/f0.txt",
        "/f1.txt",
        "/late.txt",
    ]


def test_outside_the_scope_every_resolve_lists(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 1)
    sources = [{"local": str(folder)}]
    assert _names(resolve_sources(sources, None)) == ["/f0.txt"]
    (folder / "f1.txt").write_text("1")
    assert _names(resolve_sources(sources, None)) == ["/f0.txt", "/f1.txt"]


def test_a_failed_resolve_is_not_kept(tmp_path: Path) -> None:
    missing = tmp_path / "later"
    sources = [{"local": str(missing)}]
    with one_listing():
        with pytest.raises(PathNotFoundError, match="later"):
            resolve_sources(sources, None)
        missing.mkdir()
        (missing / "now.txt").write_text("now")
        assert _names(resolve_sources(sources, None)) == ["/now.txt"]


def test_another_thread_is_outside_the_scope(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 1)
    sources = [{"local": str(folder)}]
    seen: list[list[str]] = []
    with one_listing():
        resolve_sources(sources, None)
        (folder / "f1.txt").write_text("1")
        thread = threading.Thread(
            target=lambda: seen.append(_names(resolve_sources(sources, None)))
        )
        thread.start()
        thread.join()
    assert seen == [["/f0.txt", "/f1.txt"]]


def test_forget_listings_makes_the_next_resolve_list_afresh(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 1)
    sources = [{"local": str(folder)}]
    forget_listings()  # outside a scope: nothing to forget
    with one_listing():
        resolve_sources(sources, None)
        (folder / "f1.txt").write_text("1")
        forget_listings()
        assert _names(resolve_sources(sources, None)) == ["/f0.txt", "/f1.txt"]
        (folder / "f2.txt").write_text("2")
        assert _names(resolve_sources(sources, None)) == ["/f0.txt", "/f1.txt"]


def test_a_whole_read_retried_after_an_overwrite_lists_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 1)
    sources = [{"local": str(folder)}]
    marker = tmp_path / "marker"
    marker.write_bytes(b"new")  # the listing below pins b"old": an overwrite
    attempts: list[list[str]] = []

    def list_files() -> list[ResolvedFile]:
        files = resolve_sources(sources, None)
        stale = {str(marker): b"old"} if not attempts else {}
        return [
            ResolvedFile(f.location, f.full, f.display, ReadPin(f.location, stale))
            for f in files
        ]

    def read(files: list[ResolvedFile]) -> list[str]:
        attempts.append(_names(files))
        (folder / "f1.txt").write_text("1")  # what the overwrite published
        return attempts[-1]

    with one_listing():
        resolve_sources(sources, None)
        got = read_whole(list_files, read, "input 'i'")
    assert attempts == [["/f0.txt"], ["/f0.txt", "/f1.txt"]]
    assert got == ["/f0.txt", "/f1.txt"]
