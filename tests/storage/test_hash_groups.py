"""Local files are hashed by the threads in groups; every file still gets its own
hash, in the order asked, and the cache is asked and told about each one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import fsspec

from dataferry.storage import StorageLocation
from dataferry.storage.hashing import _BLOCK, _groups, content_hashes, hash_file
from dataferry.storage.location import FileSignature

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.storage.hashing import HashedFile


def test_many_small_files_and_a_large_one_each_get_their_hash(tmp_path: Path) -> None:
    paths = []
    for i in range(150):
        path = tmp_path / f"f{i:03d}.txt"
        path.write_text(f"file {i}\n")
        paths.append(str(path))
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (_BLOCK + 5))
    paths.insert(70, str(big))
    location = StorageLocation("s", fsspec.filesystem("file"), str(tmp_path))
    known = {paths[3]: "from-cache"}
    remembered: list[HashedFile] = []
    hashed = content_hashes(
        location,
        paths,
        cached=lambda _store, sigs: {
            s.path: known[s.path] for s in sigs if s.path in known
        },
        remember=lambda _store, new: remembered.extend(new),
    )
    assert [h.signature.path for h in hashed] == paths
    expected = [known.get(p) or hash_file(p) for p in paths]
    assert [h.content_hash for h in hashed] == expected
    assert remembered == []  # written just now: racy, so not cached (RACY_S)
    assert len({h.content_hash for h in hashed}) == len(paths)


def _sig(name: str, size: int) -> FileSignature:
    return FileSignature(name, size, 1)


def test_groups_close_at_the_file_count_or_a_block_of_bytes() -> None:
    todo = [_sig(f"s{i}", 10) for i in range(5)]
    todo.insert(2, _sig("big", _BLOCK))
    groups = [[s.path for s in g] for g in _groups(todo, 2)]
    assert groups == [["s0", "s1"], ["big"], ["s2", "s3"], ["s4"]]
    assert [[s.path for s in g] for g in _groups(todo, 1)] == [[s.path] for s in todo]
    assert list(_groups([], 64)) == []
