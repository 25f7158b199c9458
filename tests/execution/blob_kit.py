"""Helpers for pipeline tests on an Azure Blob datastore served by the session's Azurite.

Imported as ``execution.blob_kit``. A datastore made here is a real
``AzureBlobDatastore`` registered with the emulator's development key (not a secret).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from servers.azurite import ACCOUNT, KEY

from dataferry import Datastore

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace


def register_blob(
    workspace: Workspace, azurite: Azurite, container: str, name: str = "blob"
) -> Datastore:
    """An Azure Blob datastore ``name`` on ``container`` (created) of ``azurite``."""
    return Datastore.register_azure_blob_container(
        workspace,
        name,
        container,
        ACCOUNT,
        account_key=KEY,
        protocol="http",
        endpoint=f"127.0.0.1:{azurite.port}",
        create_if_not_exists=True,
    )


def put(store: Datastore, files: dict[str, str]) -> None:
    """Write ``{path: text}`` straight into the container (no dataferry commit)."""
    fs, root = store.location.fs, store.location.root
    for path, text in files.items():
        fs.pipe_file(f"{root}/{path}", text.encode())


def blobs(store: Datastore, prefix: str = "") -> dict[str, str]:
    """``{path under prefix: text}`` of every blob under ``prefix``, bookkeeping too."""
    fs, root = store.location.fs, store.location.root
    base = f"{root}/{prefix}".rstrip("/")
    if not fs.exists(base):
        return {}
    fs.invalidate_cache()
    found = fs.find(base)
    return {f[len(base) :].lstrip("/"): fs.cat_file(f).decode() for f in found}


def files_under(folder: Path | str) -> list[str]:
    """Every file under a local ``folder``, relative, sorted."""
    found = [os.path.join(d, n) for d, _, ns in os.walk(folder) for n in ns]
    return sorted(os.path.relpath(f, folder) for f in found)
