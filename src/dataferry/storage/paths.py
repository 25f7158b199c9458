"""The one spelling of a path on a datastore, and the rule that it stays inside the root.

Every datastore path (a DataPath, a dataset source, an output destination, an upload
target) goes through :func:`normalise_datastore_path` where it enters, so leases, reuse
and lineage compare one spelling of each place: ``shared/./x``, ``shared//x/`` and
``shared/x`` are one folder. Pure: no I/O, and nothing imported but the errors, so the
pipeline layer may use it.
"""

from __future__ import annotations

import re

from dataferry.errors import DatastorePathError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")  # C:/data, after backslashes became slashes


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
