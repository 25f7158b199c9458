"""A datastore opened for I/O: an fsspec filesystem plus the root everything is under."""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dataferry._lazy import logger
from dataferry._record import record
from dataferry.errors import PathNotFoundError, StorageError
from dataferry.storage.commit_marker import visible_files
from dataferry.storage.paths import normalise_datastore_path
from dataferry.storage.transfer_progress import TransferProgress

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    import fsspec

    from dataferry.storage.read_pin import ReadPin
    from dataferry.storage.remote_transfer import Listed
    from dataferry.storage.staging import Staging
    from dataferry.storage.transfer_progress import TransferSnapshot


_GLOB_CHARS = frozenset("*?[")
TRANSFER_THREADS = 8
COPY_CHUNK_BYTES = 4 << 20  # a local copy reports progress after each chunk
SHOWN_FROM_BYTES = 1 << 20  # one file smaller than this is copied without a display
REPORT_EVERY_S = 0.5  # how often a transfer tells its ``report`` (a step's stage)
_STRIPPED_KEPT = 100_000  # paths whose stripped form a location keeps


def has_glob(path: str) -> bool:
    """True if ``path`` holds a glob pattern (``*``, ``?`` or ``[``)."""
    return any(ch in _GLOB_CHARS for ch in path)


@record(frozen=True, slots=True)
class FileSignature:
    """What identifies one version of a file cheaply: a changed file changes this."""

    path: str
    size: int
    mtime_ns: int
    inode: int = 0
    etag: str = ""


@record(frozen=True)
class StorageLocation:
    """A datastore's filesystem and root; paths given to it are relative to the root.

    ``is_case_insensitive`` says that two spellings differing only in case name one file
    there (an SMB share): such places are compared case-folded (``comparison_key``).
    """

    name: str
    fs: fsspec.AbstractFileSystem
    root: str
    is_case_insensitive: bool = False

    @cached_property
    def is_local(self) -> bool:
        """True if files live on this machine's filesystem (zero-copy mount, rename).

        Kept after the first look (``fs`` never changes): it is asked per file."""
        from fsspec.implementations.local import LocalFileSystem

        return isinstance(self.fs, LocalFileSystem)

    @cached_property
    def staging(self) -> Staging:
        """This location's commit protocol: stage, commit, discard, remove outputs."""
        from dataferry.storage.staging import staging_for  # fsspec kinds: on first use

        return staging_for(self)

    def local_path(self, full: str) -> str | None:
        """A path on this machine holding the listed file ``full``, or None (no copy)."""
        return self.staging.local_path(full)

    @property
    def reads_in_place(self) -> bool:
        """True if a step reads these files where they are (a mount is a view of them),
        so a step could change them; elsewhere a step only ever gets a copy."""
        return self.is_local

    def seal(self, relative: str) -> None:
        """Make a committed output read-only where the filesystem can (files 0444,
        folders 0555 on a local disk). Object stores have nothing to seal: a step never
        writes to a committed blob, it only ever gets a copy."""
        if self.is_local:
            from dataferry.storage.integrity import (
                seal,  # integrity builds on this module
            )

            seal(self.full_path(relative))

    def full_path(self, relative: str) -> str:
        """The filesystem path of ``relative``, normalised (a leading ``/`` is the root).

        Raises:
            DatastorePathError: ``relative`` leaves the root (``..`` above it, a URL).
        """
        if not self.root and "://" in relative:
            return relative  # a rootless location (a URL source) is addressed by URLs
        rel = normalise_datastore_path(relative, datastore=self.name)
        if not rel:
            return self.root
        return f"{self.root.rstrip('/')}/{rel}" if self.root else rel

    def comparison_key(self, relative: str) -> str:
        """The form every spelling of one place here shares, for comparing places.

        Normalised, and case-folded where the datastore ignores case. Leases compare
        this; files are always written at the path as given.

        Raises:
            DatastorePathError: ``relative`` leaves the root.
        """
        return normalise_datastore_path(
            relative, datastore=self.name, fold_case=self.is_case_insensitive
        )

    def relative_path(self, full: str) -> str:
        """Inverse of ``full_path``."""
        root = self.root.rstrip("/")
        if root and full.startswith(root + "/"):
            return full[len(root) + 1 :]
        return full.lstrip("/") if not root else full

    def url(self, relative: str = "") -> str:
        """A human-readable address, for messages and logs."""
        return f"{self.name}:/{relative.lstrip('/')}"

    def _raise(self, relative: str, action: str, exc: OSError) -> StorageError:
        return StorageError(
            f"datastore '{self.name}': cannot {action} '{relative}': {exc}"
        )

    # -- reading the tree -------------------------------------------------------------

    def resolve(self, pattern: str) -> list[str]:
        """Full paths of the files that ``pattern`` names: one file, a folder, or a glob.

        Folders are expanded recursively. The result is sorted, so every process that
        resolves the same pattern over the same files sees them in the same order.
        Files of an output whose commit is incomplete, files its commit marker does not
        list, and ``.dataferry-*`` entries are not shown (``commit_marker``).

        Raises:
            PathNotFoundError: nothing matches.
            DamagedDataError: a commit marker is unreadable or lists a missing file.
            StorageError: the datastore could not be listed.
        """
        return self.resolve_pinned(pattern)[0]

    def resolve_pinned(self, pattern: str) -> tuple[list[str], ReadPin]:
        """``resolve(pattern)`` and the pin a reader checks after reading the files
        (``read_pin``: an overwrite that began meanwhile shows there).

        A marker that lists a file the listing lacks may be an overwrite that
        committed between the listing and the marker's reading: listed once more
        before it counts as damage.

        Raises:
            The errors ``resolve`` raises.
        """
        from dataferry.errors import DamagedDataError
        from dataferry.storage.read_pin import ReadPin

        seen: dict[str, bytes] = {}
        listed: dict[str, FileSignature] = {}
        try:
            files = self._resolve(pattern, seen, listed)
        except DamagedDataError:
            self.fs.invalidate_cache()
            seen, listed = {}, {}
            files = self._resolve(pattern, seen, listed)
        return files, ReadPin(self, seen, {f: listed[f] for f in files if f in listed})

    def _resolve(
        self, pattern: str, seen: dict[str, bytes], listed: dict[str, FileSignature]
    ) -> list[str]:
        """``resolve``; ``seen`` is told the markers read, ``listed`` the signature
        of each file as the listing gave it (object stores: etags, no request more)."""
        full = self.full_path(pattern)
        try:
            infos = self._listed_files(pattern, full)
            files = sorted(infos) if infos else []
            if not infos and not has_glob(pattern) and self.fs.isfile(full):
                files = [full]
            if not self.is_local:
                listed.update(
                    (self._strip(p), self.signature_from(self._strip(p), info))
                    for p, info in infos.items()
                )
            files = self._visible(pattern, full, files, seen)
        except StorageError:  # a damaged marker: says what it is already
            raise
        except OSError as exc:
            raise self._raise(pattern, "list", exc) from exc
        if not files:
            kind = "glob" if has_glob(pattern) else "path"
            raise PathNotFoundError(
                f"{kind} '{pattern}' matches no file on datastore '{self.name}' "
                f"(looked in {full}); check the path, or list it with "
                f"`dataferry datastore show {self.name}`."
            )
        return files

    def _listed_files(self, pattern: str, full: str) -> dict[str, Any]:
        """``{path: fsspec info}`` of the files a glob or a folder lists, recursively
        (each folder's listing carries sizes and etags: one request, not one a file)."""
        if has_glob(pattern):
            found: dict[str, Any] = self.fs.glob(full, detail=True)
            infos = {p: i for p, i in found.items() if i.get("type") == "file"}
            for d, info in found.items():
                if info.get("type") == "directory":
                    infos.update(self.fs.find(d, detail=True))
            return infos
        # a folder's listing says by itself that it is one: no ``isdir`` first (an
        # object store answered both with a listing). Only entries below ``full``
        # count: a file named ``full`` (or ``full`` + more, on a prefix listing) is not
        # the folder's; the caller then looks ``full`` up as a file.
        try:
            found = self.fs.find(full, detail=True)
        except FileNotFoundError:
            return {}
        if not isinstance(found, dict):  # adlfs on a file: a bare list of it
            return {}
        base = self._strip(full).rstrip("/")
        below = f"{base}/" if base else ""  # a filesystem's root ("" on dirfs)
        return {
            p: i
            for p, i in found.items()
            if self._strip(p).startswith(below) and i.get("type", "file") == "file"
        }

    def _visible(
        self, pattern: str, full: str, files: list[str], seen: dict[str, bytes]
    ) -> list[str]:
        """``files`` as a reader may see them: through the commit markers around."""
        stripped = [self._strip(p) for p in files]
        if has_glob(pattern):
            base = self._strip(full).split("*")[0].split("?")[0].split("[")[0]
            base = base.rsplit("/", 1)[0] if "/" in base else ""
        elif len(stripped) == 1 and stripped[0] == self._strip(full):
            base = stripped[0].rsplit("/", 1)[0] if "/" in stripped[0] else ""
        else:
            base = self._strip(full)
        markers = self.staging.markers_for(base, below=has_glob(pattern))
        # a folder's listing is whole: its outputs must have every file they list
        whole = not has_glob(pattern) and base == self._strip(full)
        return visible_files(self, stripped, markers, whole=whole, seen=seen)

    @cached_property
    def _stripped(self) -> dict[str, str]:
        return {}

    def _strip(self, path: str) -> str:
        # fsspec strips a protocol by parsing a URL on every call (adlfs: 0.2 ms;
        # 5,000 calls were a tenth of a 1,000-file download): each path once
        stripped = self._stripped
        got = stripped.get(path)
        if got is None:
            if len(stripped) >= _STRIPPED_KEPT:
                stripped.clear()
            got = stripped[path] = str(self.fs._strip_protocol(path))
        return got

    def exists(self, relative: str) -> bool:
        """True if a file or folder is at ``relative``."""
        return bool(self.fs.exists(self.full_path(relative)))

    def signature(self, full: str) -> FileSignature:
        """The size, modification time and inode (or etag) of one file."""
        if self.is_local:
            st = os.stat(full)
            return FileSignature(full, st.st_size, st.st_mtime_ns, st.st_ino)
        return self.signature_from(full, self.fs.info(full))

    @staticmethod
    def signature_from(full: str, info: dict[str, Any]) -> FileSignature:
        """The signature of an object store's file from its fsspec ``info`` (as a
        listing or a lookup gives it)."""
        etag = str(info.get("etag") or info.get("ETag") or "").strip('"')
        size = int(info.get("size") or 0)
        return FileSignature(full, size, modified_ns(info), 0, etag)

    @contextmanager
    def open(self, full: str, mode: str = "rb") -> Iterator[Any]:
        """Open one file by its full path."""
        try:
            with self.fs.open(full, mode) as fh:
                yield fh
        except FileNotFoundError as exc:
            raise PathNotFoundError(
                f"datastore '{self.name}': no file '{self.relative_path(full)}'"
            ) from exc

    # -- moving files -----------------------------------------------------------------

    def put_files(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        overwrite: bool,
        show_progress: bool,
        report: Callable[[TransferSnapshot], None] | None = None,
    ) -> list[str]:
        """Copy local files to ``(local, relative-target)`` pairs; return the targets written.

        Existing targets are skipped unless ``overwrite`` (counted in one line: the
        summary when ``show_progress``, else one log warning). ``show_progress`` shows
        bytes, files, rate and time left on stderr, then a summary line; ``report``
        is called with the progress as it moves (see ``transfer_progress``).

        On a remote store a store that stops answering is retried with backoff and
        only the unfinished files are sent again; every target's size is checked
        against the store's listing at the end (``remote_transfer``).

        Raises:
            StorageUnavailableError: the store did not answer within the retry window.
            TransferIncompleteError: a target is missing or has another size after.
            StorageError: a file could not be written.
        """
        from dataferry.storage.remote_transfer import (
            listing,
            needs_listing_before,
            put_remote,
        )

        fulls = [(local, self.full_path(rel)) for local, rel in pairs]
        # remote: one listing per folder, not one request per file (kept for retries)
        lists = not self.is_local and needs_listing_before(self, overwrite)
        before = listing(self, [f for _, f in fulls]) if lists else {}
        todo: list[tuple[str, str]] = []
        for local, full in fulls:
            there = self.fs.exists(full) if self.is_local else before.get(full)
            if overwrite or not there:  # overwrite: never looked up
                todo.append((local, full))
        skipped = len(pairs) - len(todo)
        sizes = [os.path.getsize(local) for local, _ in todo]
        progress = self._progress(
            f"uploading to datastore '{self.name}'",
            "uploaded",
            sizes,
            show_progress,
            report,
        )
        try:
            if self.is_local:  # staged beside the target: never a half file
                _local_copies(todo, progress, self._upload_error)
            elif todo:
                put_remote(self, todo, before, progress)
        except StorageError:  # typed already, naming the datastore and the file
            raise
        except OSError as exc:  # from fsspec: which file, if it says
            where = self.relative_path(exc.filename) if exc.filename else "files"
            raise self._raise(where, "upload to", exc) from exc
        finally:
            summary = progress.close(skipped=skipped)
        if skipped and not show_progress:
            logger(__name__).warning("%s", summary)
        return [self.relative_path(full) for _, full in todo]

    def get_files(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        overwrite: bool,
        show_progress: bool,
        report: Callable[[TransferSnapshot], None] | None = None,
        resume_in: str | None = None,
        listed: Mapping[str, FileSignature] | None = None,
    ) -> list[str]:
        """Copy ``(full-source, local-target)`` pairs here; return the local paths written.

        ``show_progress`` and ``report`` as for ``put_files``. From a remote store the
        files move in parallel bulk calls, are retried while the store does not
        answer, and are checked against the store's listing. ``resume_in`` (a local
        folder holding the targets) keeps a manifest there (``.dataferry-download.json``)
        so that a re-download skips files already complete: same size and etag as
        listed, and unchanged on disk since. ``listed`` holds signatures of sources
        just listed (``resolve_pinned``): those are not listed again.

        Raises:
            TargetExistsError: a local target exists and ``overwrite`` is False (checked
                for every file before anything is copied).
            TransferIncompleteError: a file is missing or has another size than the
                listing's after the transfer (or was removed after being listed).
            StorageUnavailableError: the store did not answer within the retry window.
            StorageError: a file could not be read.
        """
        from dataferry.errors import TargetExistsError

        if not overwrite:
            taken = [local for _, local in pairs if os.path.exists(local)]
            if taken:
                raise TargetExistsError(
                    f'File "{taken[0]}" already exists ({len(taken)} file(s) would be '
                    "overwritten). Set overwrite=True to replace them."
                )
        now = {} if self.is_local else self._listing(pairs, listed or {})
        sizes = (
            [os.path.getsize(full) for full, _ in pairs]
            if self.is_local
            else [item.size if item else 0 for item in now.values()]
        )
        progress = self._progress(
            f"downloading from datastore '{self.name}'",
            "downloaded",
            sizes,
            show_progress,
            report,
        )
        try:
            for _, local in pairs:
                os.makedirs(os.path.dirname(local) or ".", exist_ok=True)
            if self.is_local:
                _local_copies(list(pairs), progress, None)
            else:
                self._get_remote(pairs, now, progress, resume_in)
        finally:
            progress.close()
        return [local for _, local in pairs]

    def _listing(
        self,
        pairs: Sequence[tuple[str, str]],
        known: Mapping[str, FileSignature],
    ) -> dict[str, Listed | None]:
        """Size and etag of each source: from ``known`` if it has them, else listed."""
        from dataferry.storage.remote_transfer import Listed, listing

        found: dict[str, Listed | None] = {}
        unknown = []
        for full, _ in pairs:
            sig = known.get(self._strip(full))
            if sig is None or not sig.etag:
                unknown.append(full)
            else:
                found[full] = Listed(sig.size, sig.etag)
        found.update(listing(self, unknown) if unknown else {})
        return {full: found[full] for full, _ in pairs}

    def _get_remote(
        self,
        pairs: Sequence[tuple[str, str]],
        listed: dict[str, Listed | None],
        progress: TransferProgress,
        resume_in: str | None,
    ) -> None:
        """Bulk ``get`` to ``.part`` files, renamed once complete (``remote_transfer``)."""
        from dataferry.storage.download_manifest import DownloadManifest
        from dataferry.storage.remote_transfer import get_remote

        try:
            get_remote(self, pairs, listed, progress, DownloadManifest.load(resume_in))
        except StorageError:
            raise
        except OSError as exc:
            where = self.relative_path(exc.filename) if exc.filename else "files"
            raise self._raise(where, "download", exc) from exc

    def _upload_error(self, target: str, exc: OSError) -> StorageError:
        return self._raise(self.relative_path(target), "upload to", exc)

    def _progress(
        self,
        label: str,
        done_label: str,
        sizes: list[int],
        show: bool,
        report: Callable[[TransferSnapshot], None] | None,
    ) -> TransferProgress:
        return TransferProgress(
            label,
            done_label,
            total_bytes=sum(sizes),
            total_files=len(sizes),
            show=show,
            # one small file is over before a bar could be drawn: its summary is enough
            live=len(sizes) > 1 or sum(sizes) >= SHOWN_FROM_BYTES,
            report=report,
            report_every_s=REPORT_EVERY_S,
        )


def modified_ns(info: dict[str, Any]) -> int:
    """A file's modification time in ns from an fsspec ``info``, 0 when it has none.

    Filesystems name and type it differently: a datetime (adlfs, s3fs), seconds as a
    number (the local and ``dir://`` filesystems), or only a creation time (memory,
    where a rewrite makes a new file).
    """
    for key in ("mtime", "last_modified", "LastModified", "created"):
        value = info.get(key)
        stamp = getattr(value, "timestamp", None)
        if stamp is not None:
            return int(stamp() * 1e9)
        if isinstance(value, int | float) and not isinstance(value, bool) and value:
            return int(value * 1e9)
    return 0


def _copy_local(src: str, dst: str, progress: TransferProgress | None = None) -> None:
    """Copy a file in chunks (each counted in ``progress``), staged beside the target so
    a crash never leaves half a file."""
    tmp = f"{dst}.part"
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            while chunk := fin.read(COPY_CHUNK_BYTES):
                fout.write(chunk)
                if progress is not None:
                    progress.advance(len(chunk))
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if progress is not None:
        progress.file_done()


def _local_copies(
    pairs: list[tuple[str, str]],
    progress: TransferProgress,
    error: Callable[[str, OSError], Exception] | None,
) -> None:
    """Copy ``(source, target)`` pairs on local disks, a few at a time; ``error`` turns
    a failure into the error raised (None: the ``OSError`` itself)."""

    def copy(item: tuple[str, str]) -> None:
        src, dst = item
        try:
            os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
            _copy_local(src, dst, progress)
        except OSError as exc:
            if error is None:
                raise
            raise error(dst, exc) from exc

    # imported here: it imports logging and threading, which a submitting script skips
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
        list(pool.map(copy, pairs))
