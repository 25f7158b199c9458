"""Content hashes of files, cached by signature so an unchanged file is never read twice.

A local file's signature is (size, mtime_ns, inode); an object store's is its etag,
which already identifies the content, so those files are never downloaded to be hashed.

A file modified less than ``RACY_S`` before its signature was taken is hashed but not
cached: a filesystem's clock ticks coarsely (a few ms on Linux, 2 s on FAT), so a second
write within the same tick would keep the signature and the cache would answer with the
first content's hash (git's "racy clean" problem).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from dataferry.storage.location import FileSignature, StorageLocation

_BLOCK = 8 << 20
# one file per CPU at a time: more threads than CPUs halve the throughput (measured
# with benchmarks/reuse.py), as each file's hash already uses every CPU it can
_THREADS = max(1, min(8, os.cpu_count() or 1))
_REMOTE_THREADS = 16
RACY_S = 2.0


def hash_file(path: str) -> str:
    """blake3 of a local file's bytes.

    Read into one reused buffer (no allocation per block: about twice the throughput
    of ``read()``), not memory-mapped: a file truncated while mapped kills the
    process with SIGBUS.
    """
    import blake3

    digest = blake3.blake3(max_threads=blake3.blake3.AUTO)
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while size := fh.readinto(buffer):
            digest.update(view[:size])
    return str(digest.hexdigest())


def _hash_stream(fh: BinaryIO) -> str:
    import blake3

    digest = blake3.blake3()
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


def content_hashes(
    location: StorageLocation, paths: Iterable[str], *, cached: Lookup, remember: Store
) -> list[HashedFile]:
    """Hash ``paths`` on ``location``, reading only files whose signature is not cached.

    ``cached(datastore, signatures)`` returns ``{path: hash}`` for the signatures it knows;
    ``remember(datastore, hashed)`` stores new ones.
    """
    racy_after_ns = time.time_ns() - int(RACY_S * 1e9)
    if location.is_local:  # a stat takes microseconds: threads would cost more
        threads = _THREADS
        signatures = [location.signature(p) for p in paths]
    else:  # each signature is a request: ask many at once
        threads = _REMOTE_THREADS
        with ThreadPoolExecutor(threads) as pool:
            signatures = list(pool.map(location.signature, paths))
    known = cached(location.name, signatures)
    todo = [s for s in signatures if s.path not in known]

    def compute(sig: FileSignature) -> HashedFile:
        if sig.etag:
            return HashedFile(sig, f"etag:{sig.etag}")
        local = location.local_path(sig.path)
        if local is not None:
            return HashedFile(sig, hash_file(local))
        with location.open(sig.path) as fh:
            return HashedFile(sig, _hash_stream(fh))

    with ThreadPoolExecutor(threads) as pool:
        fresh = list(pool.map(compute, todo))
    # without an etag or a modification time a signature is only a size: never trust it
    settled = [
        h for h in fresh if h.signature.etag or 0 < h.signature.mtime_ns < racy_after_ns
    ]
    if settled:
        remember(location.name, settled)
    by_path = {h.signature.path: h for h in fresh}
    return [by_path.get(s.path) or HashedFile(s, known[s.path]) for s in signatures]
