"""Two workspace folders on one catalog, standing in for two machines of a team.

Imported as ``execution.shared_folders`` by the shared-workspace test modules, whose
``pair`` fixtures ``yield from two_folders(...)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry import Datastore, Workspace

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def two_folders(
    tmp_path: Path, catalog_url: str
) -> Iterator[tuple[Workspace, Workspace]]:
    """Folders ``a`` and ``b`` under ``tmp_path`` on the catalog at ``catalog_url``
    (SQLite or PostgreSQL), with ``tmp_path/nfs``, which both reach by an absolute
    path, as the default datastore; both closed afterwards."""
    first = Workspace.create(
        "team", tmp_path / "a", catalog_url=catalog_url, show_output=False
    )
    second = Workspace.create(
        "team", tmp_path / "b", catalog_url=catalog_url, show_output=False
    )
    Datastore.register_local(first, "team_store", tmp_path / "nfs")
    first.set_default_datastore("team_store")
    yield first, second
    first.close()
    second.close()
