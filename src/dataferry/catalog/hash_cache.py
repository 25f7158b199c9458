"""The catalog's cache of content hashes, keyed by a file's signature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import upsert
from dataferry.catalog.schema import content_hashes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.catalog.sql_catalog import SqlCatalog
    from dataferry.storage.hashing import HashedFile
    from dataferry.storage.location import FileSignature

_CHUNK = 500


@guard_public
class HashCache:
    """``{(datastore, path): (size, mtime_ns, inode, etag) -> hash}``; a changed file
    misses. A database failure raises a ``CatalogError`` naming the operation."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def lookup(
        self, datastore: str, signatures: Sequence[FileSignature]
    ) -> dict[str, str]:
        """``{path: hash}`` for the signatures whose file is unchanged since it was hashed."""
        wanted = {s.path: s for s in signatures}
        found: dict[str, str] = {}
        paths = list(wanted)
        with self.catalog.read() as conn:
            for i in range(0, len(paths), _CHUNK):
                rows = conn.execute(
                    select(content_hashes).where(
                        and_(
                            content_hashes.c.datastore == datastore,
                            content_hashes.c.path.in_(paths[i : i + _CHUNK]),
                        )
                    )
                ).all()
                for row in rows:
                    r = row._mapping
                    s = wanted[r["path"]]
                    if (r["size"], r["mtime_ns"], r["inode"], r["etag"]) == (
                        s.size,
                        s.mtime_ns,
                        s.inode,
                        s.etag,
                    ):
                        found[s.path] = r["hash"]
        return found

    def remember(self, datastore: str, hashed: Sequence[HashedFile]) -> None:
        """Store (or replace) the hashes of files just read."""
        rows = [
            {
                "datastore": datastore,
                "path": h.signature.path,
                "size": h.signature.size,
                "mtime_ns": h.signature.mtime_ns,
                "inode": h.signature.inode,
                "etag": h.signature.etag,
                "hash": h.content_hash,
            }
            for h in hashed
        ]
        # an upsert: two processes remembering one path never collide on its key
        with self.catalog.write() as conn:
            upsert(conn, content_hashes, rows, ["datastore", "path"])
