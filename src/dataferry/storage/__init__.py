"""Storage layer: datastores over fsspec (open, list, glob, transfer, signatures).

The names are loaded on first use, so importing the pure path normaliser
(``dataferry.storage.paths``) loads no filesystem code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry._lazy import lazy_exports

if TYPE_CHECKING:
    from dataferry.storage.kinds import KINDS as KINDS
    from dataferry.storage.location import FileSignature as FileSignature
    from dataferry.storage.location import StorageLocation as StorageLocation
    from dataferry.storage.secrets import SecretStore as SecretStore
    from dataferry.storage.spec import DatastoreSpec as DatastoreSpec
    from dataferry.storage.spec import open_location as open_location
    from dataferry.storage.spec import (
        validate_datastore_name as validate_datastore_name,
    )

_LAZY = {
    "KINDS": "dataferry.storage.kinds",
    "DatastoreSpec": "dataferry.storage.spec",
    "FileSignature": "dataferry.storage.location",
    "SecretStore": "dataferry.storage.secrets",
    "StorageLocation": "dataferry.storage.location",
    "open_location": "dataferry.storage.spec",
    "validate_datastore_name": "dataferry.storage.spec",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
