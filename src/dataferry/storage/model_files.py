"""The workspace's model store: registered model files, kept by content, never changed.

A model's files go to ``<store>/<content id>/<last segment of the registered path>``,
where the content id is a hash of every file's relative path and bytes: registering the
same files again (a notebook run twice) stores nothing new. Files are copied under a
temporary name next to their destination, sealed read-only and renamed into place, so a
reader never sees half a model and a crash leaves only a temporary folder behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataferry.storage.hashing import hash_file
from dataferry.storage.integrity import remove_tree, seal

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

_TEMP_PREFIX = ".tmp-"


@dataclass(frozen=True, slots=True)
class StoredModelFiles:
    """Where a model's files are in the store and how much they are.

    ``asset_path`` is relative to the store: ``<content id>/<last segment>``.
    """

    asset_path: str
    file_count: int
    size_bytes: int


def model_files(source: Path) -> list[tuple[str, Path]]:
    """Every file of ``source`` (a file, or a folder walked recursively), with its path
    relative to ``source``'s parent, in ``/`` form, sorted."""
    if source.is_file():
        return [(source.name, source)]
    found = [
        (f"{source.name}/{path.relative_to(source).as_posix()}", path)
        for path in source.rglob("*")
        if path.is_file()
    ]
    return sorted(found)


def store_model_files(
    store: Path, files: Sequence[tuple[str, Path]]
) -> StoredModelFiles:
    """Copy ``files`` (relative path in ``/`` form, local file; every relative path
    starts with the same segment, the model's file or folder name) into ``store`` by
    content; returns where they are.

    Raises:
        OSError: the files could not be read or the store written; nothing was kept.
    """
    top = files[0][0].split("/", 1)[0]
    content_id = _content_id(files)
    final = store / content_id
    size = sum(path.stat().st_size for _, path in files)
    kept = StoredModelFiles(f"{content_id}/{top}", len(files), size)
    if final.is_dir():
        return kept  # the same files are there already
    store.mkdir(parents=True, exist_ok=True)
    temp = store / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        for relative, path in files:
            target = temp / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        seal(str(temp / top))
        _rename_into_place(temp, final)
    finally:
        remove_tree(str(temp))
    return kept


def _rename_into_place(temp: Path, final: Path) -> None:
    try:
        os.rename(temp, final)
    except OSError:
        if not final.is_dir():
            raise
        # another registration of the same files got there first: theirs is kept


def _content_id(files: Sequence[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for relative, path in files:
        digest.update(relative.encode("utf-8") + b"\0" + hash_file(str(path)).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:40]


def remove_unused(store: Path, asset_path: str) -> None:
    """Delete the content folder of ``asset_path`` (``<content id>/<name>``): the last
    model version with those files was deleted."""
    remove_tree(str(store / asset_path.split("/", 1)[0]))
