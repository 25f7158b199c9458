"""Commit markers: what makes an output on an object store visible, and whole.

An object store cannot rename a folder, so an output is published file by file. Two
small files next to the output say what a reader may see:

- ``<output>/.dataferry-committing`` is written before the first file is published and
  removed after the marker: while it is there, the output reads as absent.
- ``<output>/.dataferry-committed`` (JSON: every file with its size and etag, and a
  commit id of its own) is written last: only the files it lists belong to the output.

An overwrite publishes onto the old files' names, so a reader that listed the output
under its old marker could read new files: such a reader keeps the marker bytes it
read (``seen``) and compares them after reading (``read_pin``); the commit id makes
every commit's marker differ, even one of identical files.

Listings of a datastore go through ``visible_files``, which applies both rules and hides
every ``.dataferry-*`` entry (markers, staging prefixes), on every kind of datastore.
"""

from __future__ import annotations

import json
import os
import posixpath
from typing import TYPE_CHECKING, Any

from dataferry.errors import DamagedDataError
from dataferry.storage.paths import RESERVED_PREFIX, relative_below

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.storage.location import StorageLocation

STAGING_DIR = ".dataferry-staging"
MARKER = ".dataferry-committed"
PENDING = ".dataferry-committing"
INTENT = ".dataferry-commit.json"  # in a staging prefix: where its commit goes
MARKER_FORMAT = 1


def is_reserved(path: str) -> bool:
    """True if any part of ``path`` is a dataferry bookkeeping entry (``.dataferry-*``)."""
    return any(part.startswith(RESERVED_PREFIX) for part in path.split("/"))


def marker_body(files: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The marker's bytes: ``{"format": 1, "commit": <new id>, "files": {relative
    path: {size, etag}}}``; two calls never give the same bytes."""
    return json.dumps(
        {
            "format": MARKER_FORMAT,
            # 128 random bits, as uuid4 gave: ``uuid`` imports ``platform``, and this
            # module is on every submitting script's import path
            "commit": os.urandom(16).hex(),
            "files": dict(sorted(files.items())),
        },
        sort_keys=True,
    ).encode()


def intent_body(destination: str, new: Mapping[str, int], old: Iterable[str]) -> bytes:
    """A commit's intent: its destination (relative to the root), the files staged
    (``{relative path: size}``) and the files the output had before."""
    body = {"destination": destination, "files": dict(new), "old": sorted(old)}
    return json.dumps(body, sort_keys=True).encode()


def read_marker(
    location: StorageLocation,
    folder_full: str,
    seen: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """The files a committed output's marker lists, ``{relative path: {size, etag}}``.

    ``seen``, if given, is told ``{marker path: the bytes read}``.

    Raises:
        DamagedDataError: the marker is not one dataferry wrote: not JSON, another
            format, or an entry that is not a relative path with a size (the message
            names the marker and what is wrong).
        FileNotFoundError: there is no marker (any more).
    """
    path = f"{folder_full.rstrip('/')}/{MARKER}"
    raw = location.fs.cat_file(path)
    if seen is not None:
        seen[path] = bytes(raw)
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("format") != MARKER_FORMAT:
            raise ValueError("it is not a format-1 marker")
        files = body.get("files")
        if not isinstance(files, dict):
            raise ValueError("its 'files' is not an object")
        for rel, entry in files.items():
            _check_entry(rel, entry)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(location, path, f"is unreadable ({exc})") from exc
    return dict(files)


def _check_entry(rel: str, entry: Any) -> None:
    """Raise ValueError unless ``rel: entry`` is one file as ``marker_body`` wrote it."""
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"the entry {rel!r} is not a path inside the output")
    size = entry.get("size") if isinstance(entry, dict) else None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"the entry {rel!r} has no size")


def _damaged(location: StorageLocation, marker: str, what: str) -> DamagedDataError:
    return DamagedDataError(
        f"datastore '{location.name}': the commit marker "
        f"'{location.relative_path(marker)}' {what}; delete the output and run the "
        "step that writes it again."
    )


def check_complete(
    location: StorageLocation, folder: str, listed: set[str], files: Mapping[str, Any]
) -> None:
    """Make sure every file a marker lists is in a whole listing of its output.

    Raises:
        DamagedDataError: a file the marker lists is missing (the output was changed
            after its commit, or a commit was damaged): it would read as partial.
    """
    missing = sorted(rel for rel in files if f"{folder}/{rel}" not in listed)
    if missing:
        raise _damaged(
            location,
            f"{folder}/{MARKER}",
            f"lists {len(missing)} file(s) that are not there, such as "
            f"'{missing[0]}', so the output is incomplete",
        )


def visible_files(
    location: StorageLocation,
    files: Iterable[str],
    markers: Iterable[str] = (),
    *,
    whole: bool = False,
    seen: dict[str, bytes] | None = None,
) -> list[str]:
    """``files`` (full paths, as listed) without what a reader must not see.

    ``markers`` are marker files found outside the listing (above a folder listed, or
    beside the files a glob matched); those in ``files`` are found there. ``whole``:
    ``files`` is a complete recursive listing of a folder, so an output whose marker is
    in it must have every file that marker lists.

    A file below a folder holding ``.dataferry-committing`` is dropped (that output is
    being committed, or its commit was interrupted); below a folder holding
    ``.dataferry-committed`` only the files that marker lists are kept (the innermost
    marker decides); ``.dataferry-*`` entries themselves are dropped. A marker removed
    between the listing and its reading (an overwrite publishing) makes its output
    read as being committed: absent. ``seen`` is told the bytes of each marker read
    (see ``read_marker``).

    Raises:
        DamagedDataError: a marker is unreadable, or (``whole``) lists a missing file.
    """
    listed = list(files)
    found = [*listed, *markers]
    pending = {posixpath.dirname(f) for f in found if posixpath.basename(f) == PENDING}
    marked = {posixpath.dirname(f) for f in found if posixpath.basename(f) == MARKER}
    allowed: dict[str, dict[str, Any]] = {}
    for folder in marked - pending:
        try:
            allowed[folder] = read_marker(location, folder, seen)
        except FileNotFoundError:
            pending.add(folder)  # an overwrite took it away since: being committed
    if whole:
        inside = set(listed)
        for folder, marked_files in allowed.items():
            if f"{folder}/{MARKER}" in inside:
                check_complete(location, folder, inside, marked_files)
    kept = []
    # the walk up to the root is made once per folder, not per file: 10,000 files
    # of one folder took 90,000 dirname calls (1 s of a step's preparation)
    verdicts: dict[str, _Verdict] = {}
    for full in listed:
        if is_reserved(location.relative_path(full)):
            continue
        folder = posixpath.dirname(full)
        verdict = verdicts.get(folder)
        if verdict is None:
            verdict = verdicts[folder] = _verdict(folder, pending, allowed)
        hidden, by = verdict
        if hidden:
            continue
        if by is None or relative_below(full, by) in allowed[by]:
            kept.append(full)
    return kept


# a folder's verdict: (hidden, the innermost folder whose marker decides its files)
_Verdict = tuple[bool, "str | None"]


def _verdict(folder: str, pending: set[str], allowed: Mapping[str, Any]) -> _Verdict:
    """Whether the files of ``folder`` are hidden (a folder above is being
    committed), else which marker's list decides them (None: no marker, all shown)."""
    by = None
    while True:
        if folder in pending:
            return True, None
        if by is None and folder in allowed:
            by = folder
        parent = posixpath.dirname(folder)
        if parent == folder:
            return False, by
        folder = parent
