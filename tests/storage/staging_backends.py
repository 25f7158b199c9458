"""The storage locations the staging contract runs on, one factory per backend.

Each factory takes a fresh folder and returns a location rooted in an empty place. A
new backend (Azurite, once its fixture lands) is one more entry in ``BACKENDS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import fsspec
from fsspec.implementations.dirfs import DirFileSystem

from dataferry.storage.location import StorageLocation

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def local(tmp_path: Path) -> StorageLocation:
    """A local folder: staged beside the destination, committed by rename."""
    root = tmp_path / "store"
    root.mkdir()
    return StorageLocation("s", fsspec.filesystem("file"), str(root))


def memory(tmp_path: Path) -> StorageLocation:
    """fsspec's in-memory store: no rename, like a blob container."""
    return StorageLocation("s", fsspec.filesystem("memory"), f"/{tmp_path.name}")


def dirfs(tmp_path: Path) -> StorageLocation:
    """A local folder behind a non-local fsspec filesystem: an object store on disk,
    visible to other processes (for crash tests)."""
    root = tmp_path / "store"
    root.mkdir()
    return StorageLocation(
        "s",
        DirFileSystem(
            str(root), target_protocol="file", target_options={"auto_mkdir": True}
        ),
        "",
    )


BACKENDS: dict[str, Callable[[Path], StorageLocation]] = {
    "local": local,
    "memory": memory,
    "dirfs": dirfs,
}
OBJECT_STORES = ("memory", "dirfs")
