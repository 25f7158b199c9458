"""The storage locations the staging contract runs on, one factory per backend.

Each factory takes a fresh folder and returns a location rooted in an empty place. A
backend that needs a running server takes it as a second argument and is listed in
``SERVER_BACKENDS`` (its tests carry the ``server`` marker).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import fsspec
from fsspec.implementations.dirfs import DirFileSystem

from dataferry.storage.location import StorageLocation

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from servers.azurite import Azurite


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


def azurite(tmp_path: Path, server: Azurite) -> StorageLocation:
    """A fresh container on Azurite, through the same adlfs filesystem an Azure Blob
    datastore uses (server-side copy, etags): created by dataferry's own check."""
    from servers.azurite import ACCOUNT, KEY

    from dataferry.storage.azure import azure_blob_filesystem, check_container

    container = f"c{uuid.uuid4().hex[:12]}"
    options = {
        "account_name": ACCOUNT,
        "container_name": container,
        "protocol": "http",
        "endpoint": f"127.0.0.1:{server.port}",
    }
    secrets = {"account_key": KEY}
    check_container("s", options, secrets, create=True)
    fs, root = azure_blob_filesystem(options, secrets)
    return StorageLocation("s", fs, root)


BACKENDS: dict[str, Callable[[Path], StorageLocation]] = {
    "local": local,
    "memory": memory,
    "dirfs": dirfs,
}
SERVER_BACKENDS: dict[str, Callable[[Path, Azurite], StorageLocation]] = {
    "azurite": azurite,
}
OBJECT_STORES = ("memory", "dirfs", "azurite")
