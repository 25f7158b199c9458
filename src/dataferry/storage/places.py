"""Where a datastore path physically is: the key two writers of one place share.

Two datastores may be registered over one container or folder (``blob_a`` and
``blob_b`` for the same account and container, or a datastore whose root is a folder
inside another's). A lease keyed by datastore name would let two runs commit one
destination at once through the two names, so leases are keyed by the store itself
and the path from its top: ``("az://<account endpoint>", "container/data/out")``,
``("file", "home/me/store/data/out")``. No secret is part of a key: an endpoint
is taken without its query (where a SAS token would be).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fsspec.implementations.dirfs import DirFileSystem

if TYPE_CHECKING:
    import fsspec

    from dataferry.storage.location import StorageLocation


def physical_place(location: StorageLocation, relative: str) -> tuple[str, str]:
    """``(store, path)`` of ``relative`` on ``location``: equal for every datastore
    (and every spelling) that names the same place, case-folded where the store
    ignores case.

    Raises:
        DatastorePathError: ``relative`` leaves the datastore's root.
    """
    normal = location.comparison_key(relative)  # refuses '..' above the root
    fs: fsspec.AbstractFileSystem = location.fs
    path = location._strip(location.full_path(normal))
    while isinstance(fs, DirFileSystem):  # a folder of another filesystem
        path = f"{str(fs.path).rstrip('/')}/{path.lstrip('/')}"
        fs = fs.fs
    if location.is_case_insensitive:
        path = path.casefold()
    return _store_of(fs), path.strip("/")


def _store_of(fs: fsspec.AbstractFileSystem) -> str:
    """The store a filesystem object talks to, without credentials."""
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple) else fs.protocol
    account = getattr(fs, "account_url", None)
    if account is None:
        client = getattr(fs, "service_client", None)
        account = getattr(client, "url", None)
    if not account:
        return str(protocol)
    endpoint = str(account).split("?", 1)[0].split("://", 1)[-1].rstrip("/")
    return f"{protocol}://{endpoint}"
