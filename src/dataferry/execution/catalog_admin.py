"""What an operator does to a workspace's catalog as a whole, for the CLI (which does
not import the catalog layer): check and migrate its schema, export it to a file and
import that into an empty catalog. The work is the catalog layer's
(``catalog.revision_check``, ``catalog.transfer``); see their docstrings for the
errors each raises."""

from __future__ import annotations

from dataferry.catalog.revision_check import (
    CatalogRevision,
    check_catalog,
    migrate_catalog,
)
from dataferry.catalog.transfer import export_catalog, import_catalog

__all__ = [
    "CatalogRevision",
    "check_catalog",
    "export_catalog",
    "import_catalog",
    "migrate_catalog",
]
