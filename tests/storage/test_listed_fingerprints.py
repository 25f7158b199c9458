"""Fingerprinting files on an object store asks the store once per listing, not per file.

The store is Azurite (and ``memory://``), reached through its real fsspec filesystem;
the test counts the calls made to that filesystem (each is one or more requests) while
the files are listed and fingerprinted. Their number does not grow with the files.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from staging_backends import BACKENDS, SERVER_BACKENDS

from dataferry.execution.reuse import _listed_signatures
from dataferry.storage.hashing import HashedFile, content_hashes

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry.storage.location import FileSignature, StorageLocation

CALLS = ("info", "find", "ls", "glob", "isdir", "isfile", "exists", "cat_file", "open")


@pytest.fixture(params=["memory", pytest.param("azurite", marks=[pytest.mark.server])])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageLocation]:
    if request.param == "azurite":
        loc = SERVER_BACKENDS["azurite"](tmp_path, request.getfixturevalue("azurite"))
    else:
        loc = BACKENDS["memory"](tmp_path)
    yield loc
    if request.param == "memory":
        loc.fs.rm(loc.root, recursive=True)


def counting(loc: StorageLocation, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the calls made to the location's filesystem from now on (from outside
    it: those one call makes to others are part of it)."""
    counts: Counter[str] = Counter()
    inside = threading.local()
    for name in CALLS:
        real = getattr(loc.fs, name)

        def call(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            if getattr(inside, "depth", 0):
                return _real(*args, **kw)
            counts[_name] += 1
            inside.depth = 1
            try:
                return _real(*args, **kw)
            finally:
                inside.depth = 0

        monkeypatch.setattr(loc.fs, name, call)
    return counts


def put(loc: StorageLocation, count: int) -> str:
    folder = f"in-{uuid.uuid4().hex[:6]}"
    for i in range(count):
        loc.fs.pipe_file(loc.full_path(f"{folder}/sub{i % 3}/f{i}.csv"), b"x" * i)
    loc.fs.invalidate_cache()
    return folder


def fingerprint(loc: StorageLocation, pattern: str) -> list[HashedFile]:
    files, pin = loc.resolve_pinned(pattern)
    return content_hashes(
        loc,
        files,
        cached=lambda _ds, _sigs: {},
        remember=lambda _ds, _hashed: None,
        listed=pin.listed,
    )


@pytest.mark.parametrize("pattern", ["{}", "{}/**/*.csv", "{}/sub*"])
def test_listing_and_fingerprinting_take_as_many_calls_for_40_files_as_for_4(
    store: StorageLocation, monkeypatch: pytest.MonkeyPatch, pattern: str
) -> None:
    few, many = put(store, 4), put(store, 40)
    counts = counting(store, monkeypatch)
    fingerprint(store, pattern.format(few))
    for_few = dict(counts)
    counts.clear()
    store.fs.invalidate_cache()

    hashed = fingerprint(store, pattern.format(many))

    assert len(hashed) == 40
    assert "info" not in counts  # no lookup per file: the listing had them all
    if store.root.startswith("c"):  # Azurite: nothing read, etags identify content
        assert all(h.content_hash.startswith("etag:") for h in hashed)
        assert "open" not in counts
    else:  # memory: no etags, so the bytes are read (one open a file)
        assert counts.pop("open") == 40
        for_few.pop("open")
    assert dict(counts) == for_few


def test_the_listed_signatures_are_those_a_lookup_gives(
    store: StorageLocation,
) -> None:
    folder = put(store, 5)
    files, pin = store.resolve_pinned(folder)

    looked_up: dict[str, FileSignature] = {f: store.signature(f) for f in files}

    assert {f: (s.size, s.etag, s.mtime_ns) for f, s in pin.listed.items()} == {
        f: (s.size, s.etag, s.mtime_ns) for f, s in looked_up.items()
    }


def test_reuse_takes_each_files_signature_from_its_listing(
    store: StorageLocation, tmp_path: Path
) -> None:
    from dataferry.data.sources import ResolvedFile

    folder = put(store, 3)
    files, pin = store.resolve_pinned(folder)
    resolved = [ResolvedFile(store, f, f"/{i}", pin) for i, f in enumerate(files)]
    unpinned = ResolvedFile(store, files[0], "/x")

    assert _listed_signatures([*resolved, unpinned]) == dict(pin.listed)
    assert sorted(pin.listed) == sorted(files)


def test_a_folder_is_listed_once_not_asked_whether_it_is_one_first(
    store: StorageLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = put(store, 6)
    counts = counting(store, monkeypatch)

    files = store.resolve(folder)

    assert [store.relative_path(f) for f in files] == sorted(
        f"{folder}/sub{i % 3}/f{i}.csv" for i in range(6)
    )
    assert counts["find"] == 1
    assert not {"isdir", "isfile", "info", "ls"} & set(counts)


@pytest.mark.parametrize("name", ["{}/sub1/f1.csv", "{}/sub1"])
def test_a_file_or_a_prefix_sibling_is_not_read_as_the_folder(
    store: StorageLocation, name: str
) -> None:
    # "sub1" is a prefix of no other folder here, but "f1.csv" of "f1.csv.bak": a
    # listing by prefix must keep only what is below the folder
    folder = put(store, 6)
    store.fs.pipe_file(store.full_path(f"{folder}/sub1/f1.csv.bak"), b"old")
    store.fs.pipe_file(store.full_path(f"{folder}/sub1x/g.csv"), b"other")
    store.fs.invalidate_cache()
    path = name.format(folder)

    files = [store.relative_path(f) for f in store.resolve(path)]

    if path.endswith(".csv"):
        assert files == [path]
    else:
        assert files == [f"{path}/f1.csv", f"{path}/f1.csv.bak", f"{path}/f4.csv"]


def test_a_missing_folder_is_still_a_typed_error(store: StorageLocation) -> None:
    from dataferry.errors import PathNotFoundError

    put(store, 1)
    with pytest.raises(PathNotFoundError, match=r"path 'nothing-here' matches no file"):
        store.resolve("nothing-here")
