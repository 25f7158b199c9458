"""Content hashes of files, cached by signature so an unchanged file is never read twice.

A local file's signature is (size, mtime_ns, inode); an object store's is its etag,
which already identifies the content, so those files are never downloaded to be hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.storage.location import FileSignature, StorageLocation

_BLOCK = 8 << 20
_THREADS = 4


def hash_file(path: str) -> str:
    """blake3 of a local file's bytes."""
    import blake3

    digest = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return str(digest.hexdigest())


def hash_bytes(data: bytes) -> str:
    """blake3 of some bytes."""
    import blake3

    return str(blake3.blake3(data).hexdigest())


@dataclass(frozen=True, slots=True)
class HashedFile:
    """A file's signature and the hash of its content."""

    signature: FileSignature
    content_hash: str


Lookup = Callable[[str, list["FileSignature"]], dict[str, str]]
Store = Callable[[str, list[HashedFile]], None]


def content_hashes(location: StorageLocation, paths: Iterable[str], *, cached: Lookup, remember: Store) -> list[HashedFile]:
    """Hash ``paths`` on ``location``, reading only files whose signature is not cached.

    ``cached(datastore, signatures)`` returns ``{path: hash}`` for the signatures it knows;
    ``remember(datastore, hashed)`` stores new ones.
    """
    signatures = [location.signature(p) for p in paths]
    known = cached(location.name, signatures)
    todo = [s for s in signatures if s.path not in known]

    def compute(sig: FileSignature) -> HashedFile:
        if sig.etag:
            return HashedFile(sig, f"etag:{sig.etag}")
        if location.is_local:
            return HashedFile(sig, hash_file(sig.path))
        with location.open(sig.path) as fh:
            return HashedFile(sig, hash_bytes(fh.read()))

    with ThreadPoolExecutor(_THREADS) as pool:
        fresh = list(pool.map(compute, todo))
    if fresh:
        remember(location.name, fresh)
    by_path = {h.signature.path: h for h in fresh}
    return [by_path.get(s.path) or HashedFile(s, known[s.path]) for s in signatures]
