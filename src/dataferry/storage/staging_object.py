"""The commit protocol on an object store: upload to a staging prefix, publish, mark.

The step writes into a local scratch folder. The commit uploads it to
``<root>/.dataferry-staging/<step run>/<output>/`` on the store, writes
``<output>/.dataferry-committing`` (the output now reads as absent), removes the old
marker, publishes every file with a server-side copy, and writes the new
``<output>/.dataferry-committed`` last (``commit_marker``). A crash at any point
leaves either the old output, or one that reads as absent, never a mix; what was
staged is removed by ``discard_step`` (resume, gc), which first finishes or undoes
a commit left half-way, from the intent the commit wrote beside its staged files
(``commit_recovery``). A single-file output is one
server-side copy, atomic by itself, and carries no marker.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import posixpath
import shutil
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from dataferry.errors import RunError, StorageError, TargetExistsError
from dataferry.storage.commit_marker import (
    INTENT,
    MARKER,
    PENDING,
    STAGING_DIR,
    intent_body,
    is_reserved,
    marker_body,
    read_marker,
    visible_files,
)
from dataferry.storage.commit_recovery import settle_interrupted
from dataferry.storage.integrity import remote_signature
from dataferry.storage.location import TRANSFER_THREADS
from dataferry.storage.retry import with_retries
from dataferry.storage.staging import StagedPlace, Staging

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from dataferry.storage.location import FileSignature

log = logging.getLogger(__name__)

T = TypeVar("T")


class ObjectStoreStaging(Staging):
    """Stage on local scratch, commit through a staging prefix and a marker."""

    def stage(self, path: str, step_run_id: str, name: str, scratch: Path) -> Path:
        """See ``Staging.stage``: a folder under ``scratch/outputs``."""
        folder = scratch / "outputs" / name
        _remove_local(folder)
        folder.mkdir(parents=True)
        return folder

    def commit(self, staged: StagedPlace, *, merge: bool) -> None:
        """See ``Staging.commit``. Every call to the store is retried with backoff
        while it does not answer (``storage.retry``); each step of the commit can be
        repeated, so a store back within the window gives a complete commit.

        Raises:
            StorageUnavailableError: the store still did not answer after the retry
                window (the output reads as absent or as before, never as a mix).
            TargetExistsError: the destination holds data and ``merge`` is False.
            StorageError: another failure of the store.
        """
        try:
            if staged.write_dir.is_file():
                self._commit_file(staged, merge=merge)
            else:
                self._commit_folder(staged, merge=merge)
        except OSError as exc:
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                f"datastore '{self.location.name}': cannot commit output "
                f"'{staged.name}' to '{staged.path}': {exc}"
            ) from exc
        _remove_local(staged.write_dir)  # committed: nothing to settle, only to drop
        self._remove_quietly(self.staging_prefix(staged.step_run_id, staged.name))
        self._remove_step_folder(staged.step_run_id)

    def commit_staged(
        self, staged: StagedPlace, files: Mapping[str, int], *, merge: bool
    ) -> None:
        """See ``Staging.commit_staged``: the files are at the staging prefix on the
        store already (a step runner put them there); they are published with
        server-side copies and the marker last, as ``commit`` does after uploading.

        Raises:
            StorageUnavailableError: the store still did not answer after the retry
                window (the output reads as absent or as before, never as a mix).
            TargetExistsError: the destination holds data and ``merge`` is False.
            RunError: one file staged where a folder is committed already.
            StorageError: another failure of the store, or a staged file is missing.
        """
        loc = self.location
        final = loc.full_path(staged.path).rstrip("/")
        prefix = self.staging_prefix(staged.step_run_id, staged.name)
        retried = functools.partial(self._retried, staged)
        try:
            if set(files) == {""}:
                self._check_file_target(staged, final, merge=merge)
                retried(lambda: loc.fs.copy(loc.full_path(prefix), final))
            else:
                new = dict(files)
                old = retried(lambda: self._committed_files(final))
                if old and not merge:
                    raise self._exists(staged)
                body = intent_body(staged.path, new, old)
                intent = f"{loc.full_path(prefix)}/{INTENT}"
                retried(lambda: loc.fs.pipe_file(intent, body))
                self.publish(final, loc.full_path(prefix), new, old, retried)
        except OSError as exc:
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                f"datastore '{loc.name}': cannot commit output '{staged.name}' "
                f"to '{staged.path}' from its staging prefix {prefix}: {exc}"
            ) from exc
        _remove_local(staged.write_dir)  # the driver's empty scratch folder
        self._remove_quietly(prefix)
        self._remove_step_folder(staged.step_run_id)

    def _check_file_target(
        self, staged: StagedPlace, final: str, *, merge: bool
    ) -> None:
        loc = self.location
        if self._retried(staged, lambda: loc.fs.isdir(final)):
            raise RunError(
                f"output '{staged.name}' is a file, but {loc.name}:/{staged.path} is a "
                "folder already; write into a folder, or use a destination with {run-id}"
            )
        if not merge and self._retried(staged, lambda: loc.fs.exists(final)):
            raise self._exists(staged)

    def _commit_file(self, staged: StagedPlace, *, merge: bool) -> None:
        loc = self.location
        final = loc.full_path(staged.path)
        self._check_file_target(staged, final, merge=merge)
        prefix = self.staging_prefix(staged.step_run_id, staged.name)
        loc.put_files(
            [(str(staged.write_dir), prefix)], overwrite=True, show_progress=False
        )
        self._retried(staged, lambda: loc.fs.copy(loc.full_path(prefix), final))

    def _commit_folder(self, staged: StagedPlace, *, merge: bool) -> None:
        loc = self.location
        final = loc.full_path(staged.path).rstrip("/")
        new = _local_files(staged.write_dir)
        old = self._retried(staged, lambda: self._committed_files(final))
        if old and not merge:
            raise self._exists(staged)
        prefix = self.staging_prefix(staged.step_run_id, staged.name)
        loc.put_files(
            [(str(staged.write_dir / rel), f"{prefix}/{rel}") for rel in new],
            overwrite=True,
            show_progress=False,
        )
        retried = functools.partial(self._retried, staged)
        # what a commit killed from here on needs to be finished or undone
        # (``commit_recovery``), kept beside the staged files until they are discarded
        body = intent_body(staged.path, new, old)
        retried(lambda: loc.fs.pipe_file(f"{loc.full_path(prefix)}/{INTENT}", body))
        self.publish(final, loc.full_path(prefix), new, old, retried)

    def publish(
        self,
        final: str,
        source: str,
        new: dict[str, int],
        old: list[str],
        retried: Callable[[Callable[[], Any]], Any],
    ) -> None:
        """Publish the files ``new`` (``{relative path: size}``) staged at ``source``
        to the output ``final`` that had the files ``old``, and mark it committed.

        From the first call until the new marker the output reads as absent: never
        a mix. Each call is repeatable, so ``retried`` may repeat it while the store
        does not answer.
        """
        fs = self.location.fs
        retried(lambda: fs.pipe_file(f"{final}/{PENDING}", b""))
        retried(lambda: self._remove_marker(final))
        retried(lambda: self._publish(source, final, sorted(new)))
        files = retried(lambda: self._listed(final, set(old) | set(new), new))
        retried(lambda: fs.pipe_file(f"{final}/{MARKER}", marker_body(files)))
        retried(lambda: fs.rm_file(f"{final}/{PENDING}"))

    def _retried(self, staged: StagedPlace, call: Callable[[], T]) -> T:
        """``call()``, retried while the store does not answer (``storage.retry``).

        Raises:
            StorageUnavailableError: still no answer when the retry window ran out.
        """
        return with_retries(
            call,
            datastore=self.location.name,
            path=staged.path,
            action=f"commit output '{staged.name}' to",
            after_failed_attempt=self.location.fs.invalidate_cache,
        )

    def _remove_marker(self, final: str) -> None:
        if self.location.fs.exists(f"{final}/{MARKER}"):
            self.location.fs.rm_file(f"{final}/{MARKER}")

    def _committed_files(self, final: str) -> list[str]:
        """The files an existing output has (its marker's, else what is listed there)."""
        fs = self.location.fs
        if not fs.exists(final):
            return []
        if fs.exists(f"{final}/{MARKER}"):
            return list(read_marker(self.location, final))
        base = self.location._strip(final)
        listed = [self.location._strip(p) for p in fs.find(final)]
        return [
            posixpath.relpath(p, base)
            for p in listed
            if not is_reserved(posixpath.relpath(p, base))
        ]

    def _publish(self, source: str, final: str, rels: list[str]) -> None:
        """Server-side copy of every staged file to the destination, in parallel."""
        fs = self.location.fs

        def copy(rel: str) -> None:
            fs.copy(f"{source}/{rel}", f"{final}/{rel}")

        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(copy, rels))

    def _listed(
        self, final: str, rels: set[str], sizes: dict[str, int]
    ) -> dict[str, dict[str, Any]]:
        """Size and etag of each output file as the store lists it after publishing.

        Raises:
            StorageError: a published file is missing or has another size than the
                staged one.
        """
        found: dict[str, Any] = self.location.fs.find(final, detail=True)
        base = self.location._strip(final)
        infos = {
            posixpath.relpath(self.location._strip(p), base): info
            for p, info in found.items()
        }
        files: dict[str, dict[str, Any]] = {}
        for rel in sorted(rels):
            info = infos.get(rel)
            if info is None and rel not in sizes:
                continue  # an old file deleted since: no longer part of the output
            size = None if info is None else int(info.get("size") or 0)
            if rel in sizes and size != sizes[rel]:
                raise StorageError(
                    f"datastore '{self.location.name}': published file "
                    f"'{self.location.relative_path(final)}/{rel}' has "
                    f"{size} bytes, {sizes[rel]} were staged; run the step again."
                )
            sig = remote_signature(f"{final}/{rel}", info or {})
            files[rel] = {"size": sig.size, "etag": sig.etag}
        return files

    def _exists(self, staged: StagedPlace) -> TargetExistsError:
        return TargetExistsError(
            f"datastore '{self.location.name}': cannot commit output '{staged.name}' "
            f"to '{staged.path}': it holds data already."
        )

    def discard(self, staged: StagedPlace) -> None:
        """See ``Staging.discard``: the scratch folder and the staging prefix. A
        commit of it that failed half-way is settled first (``commit_recovery``)."""
        _remove_local(staged.write_dir)
        prefix = self.staging_prefix(staged.step_run_id, staged.name)
        settle_interrupted(self, prefix)
        self._remove_quietly(prefix)
        self._remove_step_folder(staged.step_run_id)

    def _remove_step_folder(self, step_run_id: str) -> None:
        with contextlib.suppress(OSError):  # the step's other outputs may be there
            self.location.fs.rmdir(
                self.location.full_path(self.staging_prefix(step_run_id))
            )

    def discard_step(self, step_run_id: str) -> None:
        """See ``Staging.discard_step``: a commit the step run began and did not end
        (killed, or the store stopped answering) is settled first: finished or undone
        (``commit_recovery``), so no output is left reading as absent for ever."""
        prefix = self.staging_prefix(step_run_id)
        settle_interrupted(self, prefix)
        self._remove_quietly(prefix)

    def _remove_quietly(self, relative: str) -> None:
        """A leftover in a staging place is harmless and found by ``gc``: log it."""
        try:
            self.remove(relative)
        except OSError as exc:
            log.warning("could not remove %s: %s", self.location.url(relative), exc)

    def staged_steps(self) -> list[str]:
        """See ``Staging.staged_steps``."""
        folder = self.location.full_path(STAGING_DIR)
        if not self.location.fs.isdir(folder):
            return []
        return sorted(
            posixpath.basename(p.rstrip("/"))
            for p in self.location.fs.ls(folder, detail=False)
        )

    def remove(self, path: str) -> None:
        """See ``Staging.remove``: the marker goes first, so the output reads as absent
        at once even if removing the rest is interrupted."""
        fs = self.location.fs
        full = self.location.full_path(path)
        if not fs.exists(full):
            return
        if fs.isfile(full):
            fs.rm_file(full)
            return
        if fs.exists(f"{full}/{MARKER}"):
            fs.rm_file(f"{full}/{MARKER}")
        fs.rm(full, recursive=True)

    def local_path(self, full: str) -> str | None:
        """See ``Staging.local_path``: never; the bytes are on the store."""
        return None

    def markers_for(self, base: str, *, below: bool) -> list[str]:
        """See ``Staging.markers_for``: two existence checks per folder above ``base``
        up to the root, asked at once, and one listing of ``base`` for a glob."""
        fs = self.location.fs
        root = self.location._strip(self.location.full_path("")).rstrip("/")
        candidates = []
        folder = base.rstrip("/")
        while True:
            candidates += [f"{folder}/{name}" for name in (MARKER, PENDING)]
            if folder == root or "/" not in folder.strip("/"):
                break
            folder = folder.rsplit("/", 1)[0]
        found = _existing(fs, candidates)
        if below and fs.isdir(base):
            found += [
                p for p in fs.find(base) if posixpath.basename(p) in (MARKER, PENDING)
            ]
        return found

    def tree_signatures(self, path: str) -> dict[str, FileSignature] | None:
        """See ``Staging.tree_signatures``: a folder counts only with its marker."""
        loc = self.location
        full = loc.full_path(path).rstrip("/")
        if not loc.fs.exists(full):
            return None
        if loc.fs.isfile(full):
            return {"": loc.signature(full)}
        found: dict[str, Any] = loc.fs.find(full, detail=True)
        stripped = {loc._strip(p): info for p, info in found.items()}
        base = loc._strip(full)
        if f"{base}/{MARKER}" not in stripped or f"{base}/{PENDING}" in stripped:
            return None
        # a file the marker lists but the store lacks is left out, not an error: the
        # catalog compares these with what it recorded and sees the file deleted
        return {
            posixpath.relpath(p, base): remote_signature(p, stripped[p])
            for p in visible_files(loc, stripped, whole=False)
        }


def _existing(fs: Any, paths: list[str]) -> list[str]:
    """Those of ``paths`` that exist, all asked at once: one after another, these
    round trips were a fifth of reading one file from a loaded emulator."""
    with ThreadPoolExecutor(len(paths), thread_name_prefix="dataferry-exists") as pool:
        there = list(pool.map(fs.exists, paths))
    return [path for path, yes in zip(paths, there, strict=True) if yes]


def _local_files(folder: Path) -> dict[str, int]:
    """``{relative path: size}`` of every file below a local folder."""
    files = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            files[rel] = os.path.getsize(full)
    return files


def _remove_local(folder: Path) -> None:
    if folder.is_file() or folder.is_symlink():
        folder.unlink()
    else:
        shutil.rmtree(folder, ignore_errors=True)
