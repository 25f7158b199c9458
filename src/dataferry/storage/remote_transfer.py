"""Transfers between this machine and an object store: bulk, retried, resumable, checked.

Files move through fsspec's bulk ``put``/``get`` (concurrent on async stores such as
adlfs), with byte-level progress. A store that stops answering is retried with backoff
(``storage.retry``); a retry sends only the files the interrupted attempt did not
finish. A download lands in ``.part`` files renamed into place once complete, in
batches, each batch noted in the download's manifest (``download_manifest``), so a
re-download skips what an earlier one finished. Both directions end with a check of
every file's size against the store's listing.
"""

from __future__ import annotations

import os
import posixpath
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.errors import TransferIncompleteError
from dataferry.storage.azure_transfer import split
from dataferry.storage.retry import with_retries
from dataferry.storage.transfer_progress import byte_callback

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.storage.download_manifest import DownloadManifest
    from dataferry.storage.location import StorageLocation
    from dataferry.storage.transfer_progress import TransferProgress

CONCURRENCY = 16  # files (or one large file's blocks) in flight at once
LARGE_FILE_BYTES = 32 << 20  # from here a file moves in parallel blocks
BATCH_FILES = 256  # a download notes its progress in the manifest after each batch
_LARGE_AT_ONCE = 2  # large files moved at once, sharing CONCURRENCY blocks in flight
SMALL_FILES_AT_ONCE = 64  # small files in flight at once: each is one short request
_FEW = 4  # up to this many files of a folder are looked up one by one, not listed


@dataclass(frozen=True, slots=True)
class Listed:
    """A file as the store lists it."""

    size: int
    etag: str


def listing(loc: StorageLocation, fulls: Sequence[str]) -> dict[str, Listed | None]:
    """Size and etag of each of ``fulls`` as the store lists it now (None: absent).

    One listing per folder (a few files: one lookup each), retried like a transfer.

    Raises:
        StorageUnavailableError: the store did not answer within the retry window.
    """
    found: dict[str, Listed | None] = {}
    for parent, names in _by_parent(loc, fulls).items():
        found.update(
            with_retries(
                lambda p=parent, n=names: _list_folder(loc, p, n),  # type: ignore[misc]
                datastore=loc.name,
                path=loc.relative_path(parent),
                action="list",
            )
        )
    return found


def _listing_once(
    loc: StorageLocation, fulls: Sequence[str]
) -> dict[str, Listed | None] | None:
    """``listing`` without retries; None if the store does not answer."""
    found: dict[str, Listed | None] = {}
    try:
        for parent, names in _by_parent(loc, fulls).items():
            found.update(_list_folder(loc, parent, names))
    except (ConnectionError, TimeoutError):
        return None
    return found


def _by_parent(loc: StorageLocation, fulls: Sequence[str]) -> dict[str, list[str]]:
    by_parent: dict[str, list[str]] = {}
    for full in fulls:
        by_parent.setdefault(posixpath.dirname(loc._strip(full)), []).append(full)
    return by_parent


def _where(loc: StorageLocation, fulls: Sequence[str]) -> str:
    """The one path that names a transfer in a message: the file, or the folder
    holding all its files."""
    # paths made by ``full_path`` are stripped already: only a URL is parsed (adlfs
    # parses every path it strips, a serial cost in front of every transfer)
    rels = [loc.relative_path(loc._strip(f) if "://" in f else f) for f in fulls]
    return rels[0] if len(rels) == 1 else posixpath.commonpath(rels) or "/"


def _list_folder(
    loc: StorageLocation, parent: str, fulls: list[str]
) -> dict[str, Listed | None]:
    loc.fs.invalidate_cache(parent)  # the listing must be today's, not a cached one
    infos: dict[str, dict[str, Any]] = {}
    if len(fulls) <= _FEW:
        for full in fulls:
            try:
                infos[loc._strip(full)] = loc.fs.info(full)
            except FileNotFoundError:
                continue
    else:
        try:
            entries = loc.fs.ls(parent, detail=True)
        except FileNotFoundError:
            entries = []
        infos = {loc._strip(e["name"]): e for e in entries if e.get("type") == "file"}
    result: dict[str, Listed | None] = {}
    for full in fulls:
        info = infos.get(loc._strip(full))
        if info is None or info.get("type") == "directory":
            result[full] = None
        else:
            etag = str(info.get("etag") or info.get("ETag") or "").strip('"')
            result[full] = Listed(int(info.get("size") or 0), etag)
    return result


def bulk_options(loc: StorageLocation, sizes: Sequence[int]) -> dict[str, Any]:
    """Options for one bulk call: many files at once, or one large file's blocks in
    parallel (adlfs moves each file of a bulk call as a single stream by default)."""
    options: dict[str, Any] = {}
    if not hasattr(loc.fs, "max_concurrency"):  # not adlfs: its own defaults
        return options
    if sizes and max(sizes) >= LARGE_FILE_BYTES:
        options["batch_size"] = _LARGE_AT_ONCE
        options["max_concurrency"] = CONCURRENCY // min(len(sizes), _LARGE_AT_ONCE)
    else:
        options["batch_size"] = SMALL_FILES_AT_ONCE
        options["max_concurrency"] = 1
    return options


def needs_listing_before(loc: StorageLocation, overwrite: bool) -> bool:
    """Whether an upload lists its targets first: to skip existing ones, or, on a
    store moved in bulk calls, to tell after an outage which files arrived (on an
    async store each file's own answer tells that)."""
    return not overwrite or not _is_async(loc)


def put_remote(
    loc: StorageLocation,
    todo: Sequence[tuple[str, str]],
    before: dict[str, Listed | None],
    progress: TransferProgress,
) -> None:
    """Upload ``(local, full target)`` pairs; ``before`` is the targets' listing taken
    before, if ``needs_listing_before`` (a retry re-sends a file unless the store
    answered its upload, or, moved in bulk, now lists a new version of it with the
    local size). Checked against the listing at the end.

    Raises:
        StorageUnavailableError: the store did not answer within the retry window.
        TransferIncompleteError: a target is missing or has another size afterwards.
        OSError: another failure of the store (the caller names the file).
    """
    sizes = {full: os.path.getsize(local) for local, full in todo}
    remaining = list(todo)
    sent: set[tuple[str, str]] = set()  # files one by one: those the store took

    def attempt() -> None:
        loc.fs.invalidate_cache()  # after an outage nothing cached is to be trusted
        if _is_async(loc):
            _each(
                loc,
                "put_file",
                remaining,
                [sizes[f] for _, f in remaining],
                progress,
                sent,
            )
            return
        for group in _by_size(remaining, [sizes[f] for _, f in remaining]):
            loc.fs.put(
                [local for local, _ in group],
                [full for _, full in group],
                callback=byte_callback(progress),
                **bulk_options(loc, [sizes[f] for _, f in group]),
            )

    def keep_finished() -> None:
        if _is_async(loc):  # the store answered each of these: no listing needed
            remaining[:] = [pair for pair in remaining if pair not in sent]
            return
        now = _listing_once(loc, [full for _, full in remaining])
        if now is None:  # still no answer: the next attempt sends them all
            return
        remaining[:] = [
            (local, full)
            for local, full in remaining
            if not _arrived(now[full], sizes[full], before.get(full))
        ]

    with_retries(
        attempt,
        datastore=loc.name,
        path=_where(loc, [full for _, full in todo]),
        action=f"upload {len(todo)} file(s) to",
        after_failed_attempt=keep_finished,
    )
    _check_sizes(loc, sizes, listing(loc, list(sizes)), "uploaded")


def _arrived(now: Listed | None, size: int, before: Listed | None) -> bool:
    if now is None or now.size != size:
        return False
    return before is None or not now.etag or now.etag != before.etag


def get_remote(
    loc: StorageLocation,
    pairs: Sequence[tuple[str, str]],
    listed: dict[str, Listed | None],
    progress: TransferProgress,
    manifest: DownloadManifest,
) -> None:
    """Download ``(full source, local target)`` pairs whose ``listed`` size and etag
    are known, skipping files ``manifest`` says are complete. Each file lands in a
    ``.part`` renamed into place as soon as it is complete; the manifest is saved
    every ``BATCH_FILES`` files and at the end.

    Raises:
        TransferIncompleteError: a source is no longer listed, or a downloaded file is
            missing or has another size than the listing's.
        StorageUnavailableError: the store did not answer within the retry window.
        OSError: another failure (nothing half-written is left: ``.part`` files go).
    """
    todo = []
    for full, local in pairs:
        item = listed.get(full)
        if item is None:
            raise TransferIncompleteError(
                f"datastore '{loc.name}': '{loc.relative_path(full)}' is no longer "
                "on the datastore (removed after it was listed); download again."
            )
        if manifest.is_complete(local, full, item.size, item.etag):
            progress.advance(item.size)
            progress.file_done()
        else:
            todo.append((full, local))
    if todo:
        _get_all(loc, todo, listed, progress, _Promoter(loc, listed, manifest))


class _Promoter:
    """Checks each complete ``.part`` against the listing, renames it into place and
    notes it in the manifest, from any transfer thread; saves the manifest every
    ``BATCH_FILES`` files (a re-download after a crash skips what was saved)."""

    def __init__(
        self,
        loc: StorageLocation,
        listed: dict[str, Listed | None],
        manifest: DownloadManifest,
    ) -> None:
        self._loc, self._listed, self._manifest = loc, listed, manifest
        self._lock = threading.Lock()
        self._unsaved = 0
        self.done: set[tuple[str, str]] = set()

    def __call__(self, full: str, local: str) -> None:
        """Promote one file.

        Raises:
            TransferIncompleteError: its ``.part`` is missing or has another size.
        """
        item = self._listed[full]
        assert item is not None  # checked by get_remote
        got = _part_size(local)
        if got != item.size:
            state = "is missing" if got is None else f"has {got} bytes"
            raise TransferIncompleteError(
                f"datastore '{self._loc.name}': downloaded "
                f"'{self._loc.relative_path(full)}' {state}, the store lists "
                f"{item.size} bytes; it changed during the download or the transfer "
                "was cut: download again."
            )
        os.replace(f"{local}.part", local)
        with self._lock:
            self._manifest.record(local, full, item.size, item.etag)
            self.done.add((full, local))
            self._unsaved += 1
            if self._unsaved >= BATCH_FILES:
                self.save()

    def save(self) -> None:
        """Save the manifest if files were noted since the last save (lock held or
        no transfer running)."""
        if self._unsaved:
            self._manifest.save()
            self._unsaved = 0


def _get_all(
    loc: StorageLocation,
    todo: Sequence[tuple[str, str]],
    listed: dict[str, Listed | None],
    progress: TransferProgress,
    promote: _Promoter,
) -> None:
    """One window over every file: a file starts as soon as one ends (batches that
    each waited for their slowest file cost a fifth of a 1,000-file download)."""
    remaining = list(todo)

    def size(full: str) -> int:
        item = listed[full]
        assert item is not None  # checked by get_remote
        return item.size

    def attempt() -> None:
        loc.fs.invalidate_cache()  # after an outage nothing cached is to be trusted
        if _is_async(loc):
            parts = [(full, f"{local}.part") for full, local in remaining]
            _each(
                loc,
                "get_file",
                parts,
                [size(f) for f, _ in remaining],
                progress,
                then=lambda full, part: promote(full, part[: -len(".part")]),
            )
            return
        for group in _by_size(remaining, [size(f) for f, _ in remaining]):
            loc.fs.get(
                [full for full, _ in group],
                [f"{local}.part" for _, local in group],
                callback=byte_callback(progress),
                **bulk_options(loc, [size(f) for f, _ in group]),
            )
            for full, local in group:
                promote(full, local)

    def keep_finished() -> None:
        # promoted files are complete; any other .part may have holes (a large
        # file arrives in parallel blocks): fetched again
        remaining[:] = [p for p in remaining if p not in promote.done]
        _drop_parts(remaining)

    try:
        with_retries(
            attempt,
            datastore=loc.name,
            path=_where(loc, [full for full, _ in todo]),
            action=f"download {len(todo)} file(s) from",
            after_failed_attempt=keep_finished,
        )
    except BaseException:
        _drop_parts([p for p in remaining if p not in promote.done])
        raise
    finally:
        promote.save()


def _check_sizes(
    loc: StorageLocation,
    sizes: dict[str, int],
    now: dict[str, Listed | None],
    verb: str,
) -> None:
    for full, size in sizes.items():
        item = now.get(full)
        if item is None or item.size != size:
            state = "is not listed" if item is None else f"lists {item.size} bytes"
            raise TransferIncompleteError(
                f"datastore '{loc.name}': {verb} '{loc.relative_path(full)}' {state} "
                f"after the transfer, {size} bytes were sent; transfer it again."
            )


def _part_size(local: str) -> int | None:
    try:
        return os.path.getsize(f"{local}.part")
    except OSError:
        return None


def _drop_parts(pairs: Sequence[tuple[str, str]]) -> None:
    for _, local in pairs:
        part = f"{local}.part"
        if os.path.exists(part):
            os.unlink(part)


def _is_async(loc: StorageLocation) -> bool:
    """True for a store fsspec drives from its event loop (adlfs, s3fs, gcsfs)."""
    return bool(getattr(loc.fs, "async_impl", False))


def _each(
    loc: StorageLocation,
    method: str,
    pairs: Sequence[tuple[str, str]],
    sizes: Sequence[int],
    progress: TransferProgress,
    done: set[tuple[str, str]] | None = None,
    then: Callable[[str, str], None] | None = None,
) -> None:
    """Move each ``(source, target)`` pair with ``fs.<method>`` (``put_file`` or
    ``get_file``), small files ``SMALL_FILES_AT_ONCE`` at a time and large ones
    ``_LARGE_AT_ONCE`` at a time in parallel blocks, on an async store.

    A file starts as soon as one ends (a sliding window): fsspec's bulk call would
    be one window too, but it makes every file's coroutine up front, so a call cut
    short leaves them unawaited, and a call per chunk waits for its slowest file
    (measured: small files moved at 0.35-0.8x the SDK's threads). The threads only
    wait on fsspec's event loop, where the transfers run. ``then(source, target)``
    runs in the thread that moved a pair, right after; ``done`` is told each pair
    moved.

    Raises:
        OSError: the first failure; files not yet started are not started.
    """
    call = _mover(loc, method)
    bulk = byte_callback(progress)
    by_kind: dict[bool, list[tuple[tuple[str, str], int]]] = {False: [], True: []}
    for pair, n in zip(pairs, sizes, strict=True):
        by_kind[n >= LARGE_FILE_BYTES].append((pair, n))
    for large, items in by_kind.items():
        if not items:
            continue
        group = [pair for pair, _ in items]
        at_once = _LARGE_AT_ONCE if large else SMALL_FILES_AT_ONCE
        options = bulk_options(loc, [n for _, n in items])
        options.pop("batch_size", None)  # the window is ours

        def one(pair: tuple[str, str], options: dict[str, Any] = options) -> None:
            with bulk.branched(*pair) as child:
                call(pair[0], pair[1], child, options)
            if then is not None:
                then(*pair)
            if done is not None:
                done.add(pair)  # set.add is atomic: no lock needed

        futures = [_pool(at_once).submit(one, pair) for pair in group]
        try:
            for future in futures:
                future.result()
        finally:  # nothing more starts; what runs ends before the caller goes on
            for future in futures:
                future.cancel()
            wait(futures)


def is_network_store(loc: StorageLocation) -> bool:
    """True for a store reached over the network (an async fsspec store: adlfs,
    s3fs, gcsfs), where one file is fastest fetched in parallel blocks."""
    return _is_async(loc)


def fetch_whole(loc: StorageLocation, full: str, local: str) -> None:
    """Download one file to ``local``, ``CONCURRENCY`` blocks at once, retried while
    the store does not answer (each attempt starts the file again).

    Raises:
        FileNotFoundError: no such file on the store.
        StorageUnavailableError: the store did not answer within the retry window.
        OSError: another failure of the store or of ``local``.
    """
    from fsspec.callbacks import NoOpCallback

    move = _mover(loc, "get_file")
    options = bulk_options(loc, [LARGE_FILE_BYTES])
    options.pop("batch_size", None)
    with_retries(
        lambda: move(full, local, NoOpCallback(), options),
        datastore=loc.name,
        path=loc.relative_path(loc._strip(full)),
        action="read",
    )


def _mover(
    loc: StorageLocation, method: str
) -> Callable[[str, str, Any, dict[str, Any]], None]:
    """``move(source, target, callback, options)`` for one file: through the Azure
    SDK's own threads on an Azure store (``storage.azure_transfer``: adlfs funnels
    every file through one event loop thread), else through ``fs.<method>``."""
    transfers = getattr(loc.fs, "blob_transfers", None)
    if transfers is None:
        call = getattr(loc.fs, method)

        def through_fsspec(
            source: str, target: str, callback: Any, options: dict[str, Any]
        ) -> None:
            call(source, target, callback=callback, **options)

        return through_fsspec

    def through_sdk(
        source: str, target: str, callback: Any, options: dict[str, Any]
    ) -> None:
        concurrency = int(options.get("max_concurrency") or 1)
        if method == "put_file":
            container, blob = split(loc, target)
            transfers.put_file(
                source,
                container,
                blob,
                progress=callback.absolute_update,
                max_concurrency=concurrency,
            )
        else:
            container, blob = split(loc, source)
            transfers.get_file(
                container,
                blob,
                target,
                progress=callback.absolute_update,
                max_concurrency=concurrency,
            )

    return through_sdk


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` transfer threads, made once: starting 64
    threads for every batch of files cost more than moving small files (measured: a
    third of a 1,000-file download on a loaded machine)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(
                workers, thread_name_prefix="dataferry-transfer"
            )
        return pool


def _forget_pools() -> None:
    # a forked child has none of its parent's threads: it makes its own pools
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools)


def _by_size(
    pairs: Sequence[tuple[str, str]], sizes: Sequence[int]
) -> list[list[tuple[str, str]]]:
    """Bulk calls: small files together, large ones together (each kind has its
    options), each call no larger than what it moves at once."""
    small = [p for p, s in zip(pairs, sizes, strict=True) if s < LARGE_FILE_BYTES]
    large = [p for p, s in zip(pairs, sizes, strict=True) if s >= LARGE_FILE_BYTES]
    # no call gets more files than it starts at once: fsspec leaves the files it had
    # not started unawaited when one fails (a warning per file)
    return [
        group[start : start + batch]
        for group, batch in ((small, SMALL_FILES_AT_ONCE), (large, _LARGE_AT_ONCE))
        for start in range(0, len(group), batch)
    ]
