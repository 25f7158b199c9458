"""Paths the catalog keeps, in a form every machine opening the catalog can resolve.

A local folder or file inside the workspace folder, or beside it in the folder that
holds it (the project: ``<project>/.dataferry`` is the workspace folder), is stored
relative to the workspace folder (``datastores/workspaceblobstore``,
``../data/iris.csv``) and resolved in each machine's own copy of the folders. Anything
else stays absolute: it names one place on one machine (or a mount every machine has).

A *shared* workspace is one whose catalog is not a SQLite file inside the workspace
folder (a PostgreSQL catalog, or a file on a shared path), so more than one workspace
folder can open it. Folders resolved per workspace folder then hold different files on
each machine: a local datastore stored relative to the workspace folder can only be
used from the workspace folder that made it (its *home*, recorded in the catalog when
the built-in datastores are created), and using it from another is refused with
``MachineBoundDatastoreError``. A shared workspace needs a shared default datastore
(Azure Blob, ADLS Gen2, a file share) for its outputs.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import DatasetValidationError, MachineBoundDatastoreError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.storage import DatastoreSpec
    from dataferry.storage.location import StorageLocation

# the settings key naming the workspace folder the built-in datastores belong to
HOME_SETTING = "local_datastores_home"


def stored_local(folder: Path, path: str | os.PathLike[str]) -> str:
    """How the catalog keeps the local ``path``: relative to the workspace ``folder``
    when it lies in that folder's parent (the project), else absolute as given."""
    absolute = os.path.abspath(path)
    project = str(folder.parent)
    if os.path.commonpath([absolute, project]) != project:
        return absolute
    return Path(os.path.relpath(absolute, folder)).as_posix()


def resolved_local(folder: Path, stored: str) -> str:
    """The path ``stored`` (by ``stored_local``) names on this machine: an absolute one
    as it is, a relative one in this machine's workspace ``folder``."""
    if os.path.isabs(stored):
        return stored
    return os.path.normpath(folder / stored)


def portable_definition(folder: Path, definition: Mapping[str, Any]) -> dict[str, Any]:
    """A dataset definition as the catalog keeps it: ``{"local": ...}`` sources in the
    project stored relative to the workspace ``folder`` (``stored_local``)."""
    out = copy.deepcopy(dict(definition))
    out["sources"] = [
        {"local": stored_local(folder, s["local"])} if "local" in s else s
        for s in out.get("sources", [])
    ]
    return out


def resolved_source_path(workspace: Workspace | None, stored: str) -> str:
    """The file or folder a ``{"local": stored}`` source names on this machine.

    Raises:
        DatasetValidationError: ``stored`` is relative and there is no workspace to
            resolve it in.
    """
    if os.path.isabs(stored):
        return stored
    if workspace is None:
        raise DatasetValidationError(
            f"the local path '{stored}' of this dataset is relative to a workspace "
            "folder, and the dataset has none; get it with Dataset.get_by_name(ws, ...)."
        )
    return resolved_local(workspace.path, stored)


def is_shared(workspace: Workspace) -> bool:
    """Whether more than one workspace folder can open this workspace's catalog (it is
    not a SQLite file inside the workspace folder)."""
    url = workspace.catalog_url
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return True
    db = os.path.abspath(url[len(prefix) :])
    return os.path.commonpath([db, str(workspace.path)]) != str(workspace.path)


def home_of(folder: Path) -> dict[str, str]:
    """The record naming this machine's workspace ``folder`` (host and path)."""
    import socket  # here: a submitting script never needs it (its enums cost ~5 ms)

    return {"host": socket.gethostname(), "folder": str(folder)}


def resolved_spec(workspace: Workspace, spec: DatastoreSpec) -> DatastoreSpec:
    """``spec`` with a relative local folder resolved in this workspace folder.

    Raises:
        MachineBoundDatastoreError: the workspace is shared and the folder belongs to
            another workspace folder (its files are not on this machine).
    """
    path = spec.options.get("path") if spec.kind == "local" else None
    if not isinstance(path, str) or os.path.isabs(path):
        return spec
    if is_shared(workspace):
        _refuse_foreign(workspace, spec.name, path)
    from dataferry._record import replace

    options = {**spec.options, "path": resolved_local(workspace.path, path)}
    return replace(spec, options=options)


def local_folder(workspace: Workspace, stored: str) -> str:
    """Where the local datastore folder ``stored`` is, for display: resolved in this
    workspace folder, or, for a shared workspace's built-in datastore made by another
    workspace folder, in that one (whose machine alone holds its files)."""
    home = _foreign_home(workspace) if not os.path.isabs(stored) else None
    folder = workspace.path if home is None else Path(str(home.get("folder")))
    return resolved_local(folder, stored)


def _foreign_home(workspace: Workspace) -> dict[str, Any] | None:
    """The home record of a shared workspace's built-in datastores when it is another
    workspace folder's; None when they are this folder's (or it is not shared)."""
    if not is_shared(workspace):
        return None
    home = workspace.catalog.get_setting(HOME_SETTING)
    if not isinstance(home, dict) or home == home_of(workspace.path):
        return None
    return home


def _refuse_foreign(workspace: Workspace, name: str, stored: str) -> None:
    home = _foreign_home(workspace)
    if home is None:
        return
    here = home_of(workspace.path)
    there = resolved_local(Path(str(home.get("folder"))), stored)
    raise MachineBoundDatastoreError(
        f"datastore '{name}' is the folder {there} on {home.get('host')}, in the "
        f"workspace folder that made it; this workspace folder "
        f"({here['folder']} on {here['host']}) shares the catalog but not that folder. "
        "Register a shared datastore (Azure Blob, ADLS Gen2) as the default "
        "(`dataferry datastore add ... --set-default`, or ws.set_default_datastore) "
        "and write outputs there, or run this from that folder."
    )


def shared_default_location(workspace: Workspace) -> StorageLocation | None:
    """The default datastore's location when the workspace is shared and every
    workspace folder reaches that datastore (a remote store, or a local folder given by
    an absolute path such as a mount); None otherwise (not shared, or its default is a
    folder of one workspace folder).

    Raises:
        DatastoreError: the default datastore cannot be opened (its credentials, say).
    """
    if not is_shared(workspace):
        return None
    store = workspace.get_default_datastore()
    spec = store._spec
    if spec.kind == "local" and not os.path.isabs(str(spec.options.get("path", ""))):
        return None
    return store.location
