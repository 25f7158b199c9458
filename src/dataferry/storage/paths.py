"""The one spelling of a path on a datastore, and the rule that it stays inside the root.

Every datastore path (a DataPath, a dataset source, an output destination, an upload
target) goes through :func:`normalise_datastore_path` where it enters, so leases, reuse
and lineage compare one spelling of each place: ``shared/./x``, ``shared//x/`` and
``shared/x`` are one folder. Pure: no I/O, and nothing imported but the errors, so the
pipeline layer may use it.
"""

from __future__ import annotations

import posixpath

from dataferry._lazy import LazyPattern
from dataferry.errors import DatastorePathError

RESERVED_PREFIX = ".dataferry-"  # staging prefixes and commit markers
_GLOB_CHARS = frozenset("*?[]")
MAX_PATH_CHARS = 1024  # Azure's limit for a blob name
MAX_SEGMENT_BYTES = 255  # a file name on most local filesystems
_URL = LazyPattern(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = LazyPattern(r"^[A-Za-z]:(/|$)")  # C:/data, after backslashes became slashes


def normalise_datastore_path(
    path: str,
    *,
    datastore: str,
    role: str = "path",
    allow_absolute: bool = True,
    fold_case: bool = False,
) -> str:
    """Return ``path`` in its one normal form, relative to the datastore's root.

    Backslashes become ``/``; empty and ``.`` segments go; ``..`` removes the segment
    before it; no leading or trailing ``/`` is kept, and the root itself is ``""``. Glob
    characters are left alone, so a glob stays a glob.

    Args:
        path: the path as given.
        datastore: the datastore's name, for the message.
        role: what the path is (``"output 'x': destination"``), for the message.
        allow_absolute: whether a leading ``/`` means "from the root" (dataset paths, as
            in Azure ML) or is refused (destinations, where ``/etc/x`` is a mistake).
        fold_case: also case-fold the result, for a datastore whose paths ignore case.
            That form is for comparing places (leases), never for writing.

    Returns:
        The normalised path (``""`` for the root).

    Raises:
        DatastorePathError: ``path`` climbs above the root with ``..``, holds a NUL, is
            a URL or a drive path, or is absolute while ``allow_absolute`` is False.
    """
    text = path.replace("\\", "/")
    where = f"{role} '{path}' on datastore '{datastore}'"
    _check_form(text, where, allow_absolute)
    kept: list[str] = []
    climbs = False
    for part in text.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            kept.append(part)
        elif kept:
            kept.pop()
        else:
            climbs = True
    if climbs:
        inside = "/".join(kept)
        raise DatastorePathError(
            f"{where} leaves the datastore's root: its '..' climbs above it. Give a "
            + (
                f"path inside the datastore, such as '{inside}'."
                if inside
                else "path inside the datastore."
            )
        )
    normal = "/".join(kept)
    return normal.casefold() if fold_case else normal


def _check_form(text: str, where: str, allow_absolute: bool) -> None:
    """Refuse what is not a path on a datastore at all."""
    if "\x00" in text:
        raise DatastorePathError(f"{where} holds a NUL character; remove it.")
    if _URL.match(text):
        raise DatastorePathError(
            f"{where} is a URL, not a path on the datastore; give the path relative to "
            "the datastore's root, or register the URL's location as a datastore."
        )
    if _DRIVE.match(text):
        raise DatastorePathError(
            f"{where} is a path on this machine, not on the datastore; give the path "
            "relative to the datastore's root."
        )
    if text.startswith("/") and not allow_absolute:
        raise DatastorePathError(
            f"{where} is absolute, but it names a place inside the datastore: write it "
            f"without the leading '/', as '{text.lstrip('/')}'."
        )


def check_written_path(normal: str, *, where: str) -> None:
    """Refuse a normalised path that data may not be written to.

    A place that is written (an output's destination, an upload's target) must be one
    a reader can name again: no glob characters (reading it back would match other
    places), no ``.dataferry-*`` part (the staging prefix and the commit markers live
    there: an output there would be hidden, or collide with another step's staging),
    no control characters or blank parts, and within the stores' length limits.

    Args:
        normal: the path, as ``normalise_datastore_path`` returned it.
        where: what and where the path is, for the message.

    Raises:
        DatastorePathError: the first rule the path breaks.
    """
    for part in normal.split("/") if normal else ():
        problem = _part_problem(part)
        if problem:
            raise DatastorePathError(f"{where} {problem}")
    if len(normal) > MAX_PATH_CHARS:
        raise DatastorePathError(
            f"{where} has {len(normal)} characters; object stores allow "
            f"{MAX_PATH_CHARS}: give a shorter path."
        )


def _part_problem(part: str) -> str:
    if part.startswith(RESERVED_PREFIX):
        return (
            f"has the part '{part}': names starting with '{RESERVED_PREFIX}' hold "
            "dataferry's staging and commit markers; choose another name."
        )
    if _GLOB_CHARS & set(part):
        return (
            f"has the glob character(s) {''.join(sorted(_GLOB_CHARS & set(part)))!r} "
            f"in '{part}': a path written to must name one place, as reading it back "
            "would treat it as a pattern; remove them."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in part):
        return "holds a control character (a newline, a tab); remove it."
    if not part.strip():
        return "has a part that is only spaces; remove it."
    if len(part.encode()) > MAX_SEGMENT_BYTES:
        return (
            f"has a part of {len(part.encode())} bytes; file names allow "
            f"{MAX_SEGMENT_BYTES}: shorten '{part[:20]}...'."
        )
    return ""


def relative_below(path: str, start: str) -> str:
    """``posixpath.relpath(path, start)``, as a slice when ``path`` is a normal path
    below the normal folder ``start`` (relpath normalises both: 20 µs a file).

    Inputs: paths as a listing gives them. Output: the relative path. Raises
    ValueError where ``posixpath.relpath`` does (an empty ``path``).
    """
    prefix = start if start.endswith("/") else start + "/"
    if start and path.startswith(prefix) and _normal(start.rstrip("/") or "/"):
        rest = path[len(prefix) :]
        # no empty, "." or ".." part (a dot file takes the slow path too)
        if rest and "//" not in rest and rest[-1] != "/" and "/." not in "/" + rest:
            return rest
    return posixpath.relpath(path, start)


def _normal(folder: str) -> bool:
    return posixpath.normpath(folder) == folder
