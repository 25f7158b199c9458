"""Azure storage URLs as dataset sources, read with a registered datastore's credentials.

``wasbs://container@account.blob.core.windows.net/path``, ``abfss://fs@account.dfs...``
and the short ``az://container/path`` / ``abfs://container/path`` forms name a
container; when the workspace has exactly one Azure Blob or ADLS Gen2 datastore for
that container (and account, when the URL names one), the URL is read through that
datastore's location: its credentials, endpoint and bounded timeouts. Otherwise the
URL is opened as fsspec would (anonymously, or from fsspec's own environment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace
    from dataferry.storage import StorageLocation

AZURE_SCHEMES = frozenset({"wasb", "wasbs", "abfs", "abfss", "az"})
_CONTAINER_OPTION = {
    "azure_blob": "container_name",
    "azure_data_lake_gen2": "filesystem",
}


def split_azure_url(url: str) -> tuple[str | None, str, str] | None:
    """``(account or None, container, path in it)`` of an Azure storage URL, else None."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in AZURE_SCHEMES or not parts.netloc:
        return None
    container, at, host = parts.netloc.partition("@")
    account = host.split(".", 1)[0] if at else None
    return account, container, parts.path.lstrip("/")


def datastore_location_for_url(
    url: str, workspace: Workspace | None
) -> tuple[StorageLocation, str] | None:
    """The location of the one datastore serving ``url``'s container, and the path
    there; None when the URL is no Azure URL or no single datastore matches.

    Makes no remote call.
    """
    split = split_azure_url(url)
    if split is None:
        return None
    workspace = workspace or _config_workspace()
    if workspace is None:
        return None
    account, container, path = split
    matches = [
        spec
        for spec in workspace.catalog.list_datastores()
        if spec.kind in _CONTAINER_OPTION
        and spec.options.get(_CONTAINER_OPTION[spec.kind]) == container
        and (account is None or spec.options.get("account_name") == account)
    ]
    if len(matches) != 1:
        return None
    from dataferry.data.datastore import Datastore

    return Datastore.get(workspace, matches[0].name).location, path


def _config_workspace() -> Workspace | None:
    from dataferry.data.workspace import Workspace
    from dataferry.errors import WorkspaceNotFoundError

    try:
        return Workspace.from_config()
    except WorkspaceNotFoundError:
        return None
