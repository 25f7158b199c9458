"""Content hashes of files, cached by signature so an unchanged file is never read twice.

A local file's signature is (size, mtime_ns, inode); an object store's is its etag,
which already identifies the content, so those files are never downloaded to be hashed.

A file modified less than ``RACY_S`` before its signature was taken is hashed but not
cached: a filesystem's clock ticks coarsely (a few ms on Linux, 2 s on FAT), so a second
write within the same tick would keep the signature and the cache would answer with the
first content's hash (git's "racy clean" problem).

``content_hashes`` can report its progress (bytes and files hashed of those it has to
read, rate, time left) as the bytes are read, inside a large file too: a step's
``Preparing`` stage shows it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, BinaryIO

from dataferry._record import record
from dataferry.storage.transfer_progress import TransferProgress, TransferSnapshot

if TYPE_CHECKING:
    from dataferry.storage.location import FileSignature, StorageLocation

_BLOCK = 8 << 20
_SMALL = 64 << 10  # slack over a file's size, for a file that grows as it is read
# one file per CPU at a time: more threads than CPUs halve the throughput (measured
# with benchmarks/reuse.py), as each file's hash already uses every CPU it can
_THREADS = max(1, min(8, os.cpu_count() or 1))
_REMOTE_THREADS = 16
_GROUP_FILES = 64  # local files hashed by one task at most
RACY_S = 2.0


def hash_file(path: str, *, on_bytes: Callable[[int], None] | None = None) -> str:
    """blake3 of a local file's bytes; ``on_bytes(n)`` is told each block read.

    Read into one reused buffer (no allocation per block: about twice the throughput
    of ``read()``), not memory-mapped: a file truncated while mapped kills the
    process with SIGBUS.
    """
    import blake3

    digest = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with open(path, "rb", buffering=0) as fh:
        # no larger than the file needs (it may grow: the loop reads to the end): a
        # whole block is 8 MiB to zero and fault in, ~5 ms for a script of 1 kB
        buffer = bytearray(min(_BLOCK, max(os.fstat(fh.fileno()).st_size, 1) + _SMALL))
        view = memoryview(buffer)
        while size := fh.readinto(buffer):
            digest.update(view[:size])
            if on_bytes is not None:
                on_bytes(size)
    return str(digest.hexdigest())


def _hash_stream(fh: BinaryIO, on_bytes: Callable[[int], None] | None) -> str:
    import blake3

    digest = blake3.blake3()
    while block := fh.read(_BLOCK):
        digest.update(block)
        if on_bytes is not None:
            on_bytes(len(block))
    return str(digest.hexdigest())


def hash_bytes(data: bytes) -> str:
    """blake3 of some bytes."""
    import blake3

    return str(blake3.blake3(data).hexdigest())


@record(frozen=True, slots=True)
class HashedFile:
    """A file's signature and the hash of its content."""

    signature: FileSignature
    content_hash: str


Lookup = Callable[[str, list["FileSignature"]], dict[str, str]]
Store = Callable[[str, list[HashedFile]], None]


def content_hashes(
    location: StorageLocation,
    paths: Iterable[str],
    *,
    cached: Lookup,
    remember: Store,
    report: Callable[[TransferSnapshot], None] | None = None,
    report_every_s: float = 0.5,
    listed: Mapping[str, FileSignature] | None = None,
) -> list[HashedFile]:
    """Hash ``paths`` on ``location``, reading only files whose signature is not cached.

    ``cached(datastore, signatures)`` returns ``{path: hash}`` for the signatures it knows;
    ``remember(datastore, hashed)`` stores new ones. ``report`` is told the bytes and
    files hashed of those to read (cached ones and etags are not read), at most every
    ``report_every_s`` and when a file is done; it may be called from several threads,
    and whatever it raises stops the hashing. ``listed``: signatures an object
    store's listing gave already (``ReadPin.listed``); only paths without one are
    looked up, one request each.
    """
    # imported here: a submitting script hashes its snapshot with ``hash_file`` alone,
    # and concurrent.futures imports logging and threading
    from concurrent.futures import ThreadPoolExecutor

    racy_after_ns = time.time_ns() - int(RACY_S * 1e9)
    if location.is_local:  # a stat takes microseconds: threads would cost more
        threads = _THREADS
        signatures = [location.signature(p) for p in paths]
    else:  # from the listing; each one it lacks is a request: ask many at once
        threads = _REMOTE_THREADS
        given = listed or {}
        with ThreadPoolExecutor(threads) as pool:
            signatures = list(
                pool.map(lambda p: given.get(p) or location.signature(p), paths)
            )
    known = cached(location.name, signatures)
    todo = [s for s in signatures if s.path not in known]
    progress = _progress(todo, report, report_every_s)
    on_bytes = progress.advance if progress is not None else None

    def compute(sig: FileSignature) -> HashedFile:
        if sig.etag:
            return HashedFile(sig, f"etag:{sig.etag}")
        local = location.local_path(sig.path)
        if local is not None:
            hashed = HashedFile(sig, hash_file(local, on_bytes=on_bytes))
        else:
            with location.open(sig.path) as fh:
                hashed = HashedFile(sig, _hash_stream(fh, on_bytes))
        if progress is not None:
            progress.file_done()
        return hashed

    def compute_group(group: list[FileSignature]) -> list[HashedFile]:
        return [compute(sig) for sig in group]

    # local files go to the threads in groups: a future per file cost more than
    # hashing a small file (10,000 files of 80 bytes: 4 s of futures, 0.5 s of hashing)
    per_group = _GROUP_FILES if location.is_local else 1
    with ThreadPoolExecutor(threads) as pool:
        done = pool.map(compute_group, _groups(todo, per_group))
        fresh = [hashed for group in done for hashed in group]
    # without an etag or a modification time a signature is only a size: never trust it
    settled = [
        h for h in fresh if h.signature.etag or 0 < h.signature.mtime_ns < racy_after_ns
    ]
    if settled:
        remember(location.name, settled)
    by_path = {h.signature.path: h for h in fresh}
    return [by_path.get(s.path) or HashedFile(s, known[s.path]) for s in signatures]


def _groups(todo: list[FileSignature], per_group: int) -> Iterator[list[FileSignature]]:
    """``todo`` in order, cut into groups of at most ``per_group`` files, each closed
    as soon as it holds ``_BLOCK`` bytes (a large file keeps a thread to itself)."""
    group: list[FileSignature] = []
    size = 0
    for sig in todo:
        group.append(sig)
        size += sig.size
        if len(group) >= per_group or size >= _BLOCK:
            yield group
            group, size = [], 0
    if group:
        yield group


def _progress(
    todo: list[FileSignature],
    report: Callable[[TransferSnapshot], None] | None,
    report_every_s: float,
) -> TransferProgress | None:
    """Counts the files that will be read (not those an etag identifies), unshown."""
    if report is None:
        return None
    read = [s for s in todo if not s.etag]
    return TransferProgress(
        "hashing",
        "hashed",
        total_bytes=sum(s.size for s in read),
        total_files=len(read),
        show=False,
        report=report,
        report_every_s=report_every_s,
    )
