"""Committed data stays as committed: read-only trees, and signatures to prove it.

A committed output on a local filesystem is *sealed*: its files and folders lose their
write bits, so a process that does not run as root cannot change it. Root ignores
permissions, so the tree's signatures (size, mtime_ns and inode; the etag on object
stores) are recorded when it is committed; comparing them later tells, without reading
a byte, whether any file was changed, added or removed.
"""

from __future__ import annotations

import os
import shutil
import stat
from typing import TYPE_CHECKING, Any

from dataferry.storage.location import FileSignature

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.storage.location import StorageLocation

_NO_WRITE = ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
SINGLE_FILE = ""  # the key of a tree that is one file


def tree_signatures(
    location: StorageLocation, relative: str
) -> dict[str, FileSignature] | None:
    """``{path below relative: signature}`` of every file there; None if nothing is.

    A single file is keyed ``""``. Local files are ``lstat``-ed: a link in the tree is
    recorded as the link, never followed out of it. On an object store only the files
    of a complete commit marker count (``ObjectStoreStaging.tree_signatures``).
    """
    return location.staging.tree_signatures(relative)


def local_signatures(full: str) -> dict[str, FileSignature] | None:
    """``tree_signatures`` of a local path, by ``lstat`` (links are not followed)."""
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return {SINGLE_FILE: _local_signature(full, st)}
    found = {}
    for dirpath, dirs, names in os.walk(full):
        # links to folders are entries, as links to files are
        for name in names + [d for d in dirs if os.path.islink(f"{dirpath}/{d}")]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, full).replace(os.sep, "/")
            found[rel] = _local_signature(path, os.lstat(path))
    return found


def _local_signature(path: str, st: os.stat_result) -> FileSignature:
    return FileSignature(path, st.st_size, st.st_mtime_ns, st.st_ino)


def remote_signature(path: str, info: Mapping[str, Any]) -> FileSignature:
    """The signature of a listed object store file, from its listing ``info``."""
    mtime = info.get("mtime") or info.get("last_modified") or info.get("LastModified")
    stamp = getattr(mtime, "timestamp", None)
    mtime_ns = int(stamp() * 1e9) if stamp is not None else 0
    etag = str(info.get("etag") or info.get("ETag") or "").strip('"')
    return FileSignature(path, int(info.get("size") or 0), mtime_ns, 0, etag)


def to_record(signatures: Mapping[str, FileSignature]) -> dict[str, list[Any]]:
    """The signatures as the catalog stores them: ``{path: [size, mtime_ns, inode, etag]}``."""
    return {
        rel: [s.size, s.mtime_ns, s.inode, s.etag]
        for rel, s in sorted(signatures.items())
    }


def differences(
    recorded: Mapping[str, Any],
    current: Mapping[str, FileSignature] | None,
    *,
    root_name: str,
) -> list[str]:
    """What changed between recorded and current signatures, one phrase per file.

    ``root_name`` names a single-file tree in the phrases. Empty when nothing changed.
    """
    now = current or {}
    changes = []
    for rel in sorted(set(recorded) | set(now)):
        label = f"'{rel or root_name}'"
        if rel not in now:
            changes.append(f"{label} deleted")
        elif rel not in recorded:
            changes.append(f"{label} added")
        elif not _same(recorded[rel], now[rel]):
            changes.append(f"{label} changed{_how(recorded[rel], now[rel])}")
    return changes


def _same(old: Any, new: FileSignature) -> bool:
    size, mtime_ns, inode, etag = old
    if etag or new.etag:  # an object store: the etag is the content's identity
        return bool(etag == new.etag and size == new.size)
    return (size, mtime_ns, inode) == (new.size, new.mtime_ns, new.inode)


def _how(old: Any, new: FileSignature) -> str:
    if old[0] != new.size:
        return f" ({old[0]} -> {new.size} bytes)"
    if old[2] and old[2] != new.inode:
        return " (replaced by another file)"
    return " (rewritten)"


# -- permissions ----------------------------------------------------------------------


def seal(full: str) -> None:
    """Take the write bits off a local file or tree (links are left alone: a chmod
    would follow them out of the tree)."""
    if os.path.islink(full):
        return
    if os.path.isdir(full):
        for dirpath, dirs, names in os.walk(full, topdown=False):
            for name in names:
                _drop_write(os.path.join(dirpath, name))
            for name in dirs:
                _drop_write(os.path.join(dirpath, name))
    _drop_write(full)


def _drop_write(path: str) -> None:
    st = os.lstat(path)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(path, stat.S_IMODE(st.st_mode) & _NO_WRITE)


def unseal_folders(full: str) -> None:
    """Give the owner write access to every folder of a local tree again, so entries
    can be added or removed (the files keep their modes)."""
    if os.path.islink(full) or not os.path.isdir(full):
        return
    for dirpath, dirs, _names in os.walk(full):
        os.chmod(dirpath, stat.S_IMODE(os.lstat(dirpath).st_mode) | stat.S_IRWXU)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]


def remove_tree(full: str) -> None:
    """Delete a local file, link or tree, sealed or not; nothing there is not an error.

    Raises:
        OSError: it is there and cannot be deleted.
    """
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        unseal_folders(full)
        shutil.rmtree(full)
    else:
        os.unlink(full)
