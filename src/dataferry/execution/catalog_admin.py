"""What an operator does to a workspace's catalog as a whole, for the CLI (which does
not import the catalog layer): check and migrate its schema, export it to a file and
import that into an empty catalog. The work is the catalog layer's
(``catalog.revision_check``, ``catalog.transfer``); see their docstrings for the
errors each raises."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.catalog.revision_check import (
    CatalogRevision,
    check_catalog,
    migrate_catalog,
)
from dataferry.catalog.transfer import export_catalog, import_catalog
from dataferry.data.machine_paths import is_shared
from dataferry.errors import CatalogMachinePathsError

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

__all__ = [
    "CatalogRevision",
    "check_catalog",
    "check_machine_paths",
    "export_catalog",
    "import_catalog",
    "migrate_catalog",
]


def check_machine_paths(workspace: Workspace) -> None:
    """In a shared workspace (``data.machine_paths.is_shared``), refuse a catalog that
    keeps absolute local paths: the other machines do not have those places.

    Raises:
        CatalogMachinePathsError: the workspace is shared and such paths are kept (the
            message lists each, and what to do).
    """
    if not is_shared(workspace):
        return
    from dataferry.catalog.local_paths import absolute_paths

    found = absolute_paths(workspace.catalog)
    if found:
        listed = "".join(f"\n  {line}" for line in found)
        raise CatalogMachinePathsError(
            f"the shared catalog keeps {len(found)} absolute local path(s), which "
            f"other machines sharing it do not have:{listed}\nMove that data onto a "
            "shared datastore (or into the workspace's project folder) and register "
            "it again."
        )
