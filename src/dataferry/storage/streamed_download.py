"""Downloading a folder of an Azure datastore while its listing is still arriving.

A folder's listing comes in pages (up to 5,000 blobs each); listing 1,000 files took
1.4-3.3 s on a loaded machine, as long as moving them. Here each small file starts
downloading to its ``.part`` as soon as its page is in, so listing and transfer
overlap. What needs the whole listing still has it: no file is renamed into place
(nor noted in the download's manifest) before the listing is complete and the commit
markers have said which files a reader may see (``commit_marker.visible_files``);
the ``.part`` of a file they hide is removed. Each ``.part`` is checked against its
listed size as it is renamed.

Anything this pass did not finish (a file that failed, files listed after a failure,
large files, which move in parallel blocks) goes through ``remote_transfer.get_remote``
with its retries. A listing that fails, a damaged marker, or a prefix that lists
nothing (a file, a glob, nothing there) is left to the ordinary path
(``Datastore.download``): this pass then removes what it fetched and answers None.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataferry.errors import DamagedDataError
from dataferry.storage.azure_transfer import split
from dataferry.storage.commit_marker import is_reserved, visible_files
from dataferry.storage.download_manifest import DownloadManifest
from dataferry.storage.remote_transfer import (
    LARGE_FILE_BYTES,
    SMALL_FILES_AT_ONCE,
    Listed,
    _mover,
    _pool,
    _Promoter,
)

if TYPE_CHECKING:
    from dataferry.storage.location import StorageLocation
    from dataferry.storage.transfer_progress import TransferProgress


@dataclass
class Downloaded:
    """What ``download_folder`` did: files written, and local files it left alone
    because they exist and ``overwrite`` was False."""

    written: int
    skipped: list[str] = field(default_factory=list)


def download_folder(
    loc: StorageLocation,
    prefix: str,
    target: str,
    *,
    overwrite: bool,
    show_progress: bool,
) -> Downloaded | None:
    """Download every visible file below folder ``prefix`` of an Azure datastore into
    ``target`` (keeping paths relative to the datastore), listing and transferring at
    once; None when this does not apply (not an Azure store, a glob, nothing listed
    below ``prefix``, a listing that failed, a damaged marker): the caller downloads
    the ordinary way, which reports those. A manifest in ``target`` lets a
    re-download skip complete files, as ``StorageLocation.get_files`` does.

    Raises:
        TransferIncompleteError: a file has another size than listed after its retries.
        StorageUnavailableError: the store stopped answering during the transfer and
            did not come back within the retry window.
        StorageError: another failure of the store or of ``target``.
    """
    from dataferry.storage.location import has_glob

    transfers = getattr(loc.fs, "blob_transfers", None)
    if transfers is None or has_glob(prefix):
        return None
    base = loc._strip(loc.full_path(prefix)).rstrip("/")
    container, folder = split(loc, base)
    run = _Run(loc, target, overwrite, DownloadManifest.load(target))
    # the markers above ``base`` are looked up while the listing comes in: after it,
    # their round trips waited behind the transfers already started and held every
    # finished file back (measured: half of a 300-file download's time)
    with ThreadPoolExecutor(1, thread_name_prefix="dataferry-markers") as side:
        markers = side.submit(loc.staging.markers_for, base, below=False)
        try:
            for page in transfers.list_pages(container, f"{folder}/" if folder else ""):
                run.listed_page([(f"{container}/{n}", s, e) for n, s, e in page])
            shown = _shown(loc, run, markers.result()) if run.listed else None
        except (OSError, DamagedDataError):
            shown = None  # the ordinary path lists again and says what is wrong
    if shown is None:
        run.abandon()
        return None
    return run.finish(shown, show_progress)


def _shown(loc: StorageLocation, run: _Run, markers: list[str]) -> set[str]:
    """The files of the whole listing that a reader may see (as ``resolve``), given
    the commit markers that govern the listed folder."""
    return set(visible_files(loc, list(run.listed), markers, whole=True))


class _Run:
    """One download: the files listed so far, the transfers started, and the gate
    that holds finished ``.part`` files until the listing is complete."""

    def __init__(
        self,
        loc: StorageLocation,
        target: str,
        overwrite: bool,
        manifest: DownloadManifest,
    ) -> None:
        self._loc, self._target, self._overwrite = loc, target, overwrite
        self._manifest = manifest
        self.listed: dict[str, Listed | None] = {}
        self._local: dict[str, str] = {}  # full source -> local target, to fetch
        self._complete: list[str] = []  # sources the manifest says are complete
        self._skipped: list[tuple[str, str]] = []  # (source, local): exist already
        self._futures: list[Future[None]] = []
        self._move = _mover(loc, "get_file")
        self._promote = _Promoter(loc, self.listed, manifest)
        self._stop = threading.Event()  # a transfer failed: start no more
        self._lock = threading.Lock()
        self._waiting: list[str] | None = []  # finished before the gate opened
        self._shown: set[str] = set()
        self._progress: TransferProgress | None = None
        self._folders: set[str] = set()  # local folders made so far

    def listed_page(self, entries: list[tuple[str, int, str]]) -> None:
        """Note a page of the listing; start fetching its files (small ones)."""
        for full, size, etag in entries:
            self.listed[full] = Listed(size, etag)
            rel = self._loc.relative_path(full)
            if is_reserved(rel):
                continue
            local = os.path.join(self._target, rel)
            if not self._overwrite and os.path.exists(local):
                self._skipped.append((full, local))
            elif self._manifest.is_complete(local, full, size, etag):
                self._complete.append(full)
            else:
                self._local[full] = local
                self._folder_for(local)
                if size < LARGE_FILE_BYTES and not self._stop.is_set():
                    pool = _pool(SMALL_FILES_AT_ONCE)
                    self._futures.append(pool.submit(self._fetch, full, local))

    def _folder_for(self, local: str) -> None:
        # each folder made once: a makedirs for every one of 1,000 files in one
        # folder was a serial cost while the listing's pages came in
        folder = os.path.dirname(local)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    def _fetch(self, full: str, local: str) -> None:
        from fsspec.callbacks import NoOpCallback

        if self._stop.is_set():
            return
        try:
            self._move(full, f"{local}.part", NoOpCallback(), {"max_concurrency": 1})
        except Exception:  # left to the retried pass, which reports it
            self._stop.set()
            return
        with self._lock:
            if self._waiting is not None:
                self._waiting.append(full)
                return
        self._settle(full)

    def _settle(self, full: str) -> None:
        """Rename a finished ``.part`` into place if a reader may see its file, else
        remove it; a ``.part`` of another size is left to the retried pass."""
        local = self._local[full]
        if full not in self._shown:
            _remove(f"{local}.part")
            return
        try:
            self._promote(full, local)
        except Exception:
            _remove(f"{local}.part")
            return
        item = self.listed[full]
        assert item is not None and self._progress is not None
        self._progress.advance(item.size)
        self._progress.file_done()

    def finish(self, shown: set[str], show_progress: bool) -> Downloaded:
        """Open the gate with the files a reader may see; wait for the transfers;
        fetch what is left with retries; return what was written."""
        os.makedirs(self._target, exist_ok=True)
        self._shown = {f for f in self._local if f in shown}
        complete = [f for f in self._complete if f in shown]
        sizes = [self._size(f) for f in [*self._shown, *complete]]
        self._progress = self._loc._progress(
            f"downloading from datastore '{self._loc.name}'",
            "downloaded",
            sizes,
            show_progress,
            None,
        )
        try:
            for full in complete:
                self._progress.advance(self._size(full))
                self._progress.file_done()
            with self._lock:
                waiting, self._waiting = self._waiting or [], None
            for full in waiting:
                self._settle(full)
            wait(self._futures)
            self._drop_hidden()
            self._promote.save()  # the retried pass loads the manifest again
            done = {full for full, _ in self._promote.done}
            left = [(f, self._local[f]) for f in sorted(self._shown - done)]
            if left:
                self._loc._get_remote(left, self.listed, self._progress, self._target)
        except BaseException:
            self._stop.set()  # nothing more starts; no .part is left behind
            wait(self._futures)
            for full, local in self._local.items():
                if (full, local) not in self._promote.done:
                    _remove(f"{local}.part")
            raise
        finally:
            self._progress.close()
        skipped = [local for full, local in self._skipped if full in shown]
        return Downloaded(len(self._shown) + len(complete), skipped)

    def _size(self, full: str) -> int:
        item = self.listed[full]
        assert item is not None
        return item.size

    def _drop_hidden(self) -> None:
        for full, local in self._local.items():
            if full not in self._shown:
                _remove(f"{local}.part")

    def abandon(self) -> None:
        """Stop: let the transfers end and remove every ``.part`` they left."""
        self._stop.set()
        wait(self._futures)
        for local in self._local.values():
            _remove(f"{local}.part")


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
