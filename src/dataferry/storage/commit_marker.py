"""Commit markers: what makes an output on an object store visible, and whole.

An object store cannot rename a folder, so an output is published file by file. Two
small files next to the output say what a reader may see:

- ``<output>/.dataferry-committing`` is written before the first file is published and
  removed after the marker: while it is there, the output reads as absent.
- ``<output>/.dataferry-committed`` (JSON: every file with its size and etag) is written
  last: only the files it lists belong to the output.

Listings of a datastore go through ``visible_files``, which applies both rules and hides
every ``.dataferry-*`` entry (markers, staging prefixes), on every kind of datastore.
"""

from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING, Any

from dataferry.errors import DamagedDataError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.storage.location import StorageLocation

RESERVED_PREFIX = ".dataferry-"
STAGING_DIR = ".dataferry-staging"
MARKER = ".dataferry-committed"
PENDING = ".dataferry-committing"
MARKER_FORMAT = 1


def is_reserved(path: str) -> bool:
    """True if any part of ``path`` is a dataferry bookkeeping entry (``.dataferry-*``)."""
    return any(part.startswith(RESERVED_PREFIX) for part in path.split("/"))


def marker_body(files: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The marker's bytes: ``{"format": 1, "files": {relative path: {size, etag}}}``."""
    return json.dumps(
        {"format": MARKER_FORMAT, "files": dict(sorted(files.items()))},
        sort_keys=True,
    ).encode()


def read_marker(location: StorageLocation, folder_full: str) -> dict[str, Any]:
    """The files a committed output's marker lists, ``{relative path: {size, etag}}``.

    Raises:
        DamagedDataError: the marker is not one dataferry wrote (the message names it).
    """
    path = f"{folder_full.rstrip('/')}/{MARKER}"
    raw = location.fs.cat_file(path)
    try:
        body = json.loads(raw)
        files = body["files"]
        if body.get("format") != MARKER_FORMAT or not isinstance(files, dict):
            raise ValueError(f"format {body.get('format')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedDataError(
            f"datastore '{location.name}': the commit marker "
            f"'{location.relative_path(path)}' is unreadable ({exc}); delete the "
            "output and run the step that writes it again."
        ) from exc
    return dict(files)


def visible_files(
    location: StorageLocation, files: Iterable[str], markers: Iterable[str] = ()
) -> list[str]:
    """``files`` (full paths, as listed) without what a reader must not see.

    ``markers`` are marker files found outside the listing (above a folder listed, or
    beside the files a glob matched); those in ``files`` are found there.

    A file below a folder holding ``.dataferry-committing`` is dropped (that output is
    being committed, or its commit was interrupted); below a folder holding
    ``.dataferry-committed`` only the files that marker lists are kept (the innermost
    marker decides); ``.dataferry-*`` entries themselves are dropped.
    """
    listed = list(files)
    found = [*listed, *markers]
    pending = {posixpath.dirname(f) for f in found if posixpath.basename(f) == PENDING}
    marked = {posixpath.dirname(f) for f in found if posixpath.basename(f) == MARKER}
    allowed = {d: read_marker(location, d) for d in marked - pending}
    kept = []
    for full in listed:
        if is_reserved(location.relative_path(full)):
            continue
        if _shown(full, pending, allowed):
            kept.append(full)
    return kept


def _shown(full: str, pending: set[str], allowed: Mapping[str, Any]) -> bool:
    folder = posixpath.dirname(full)
    decided = False
    shown = True
    while True:
        if folder in pending:
            return False
        if not decided and folder in allowed:
            shown = posixpath.relpath(full, folder) in allowed[folder]
            decided = True
        parent = posixpath.dirname(folder)
        if parent == folder:
            return shown
        folder = parent
