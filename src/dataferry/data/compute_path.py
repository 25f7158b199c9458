"""``path_on_compute``: where a step finds an input, checked where it enters.

A relative path is relative to the step's working folder and must stay inside it; an
absolute one is taken as the user wrote it, but every step gets its own private copy of
that place (see ``execution.materialise``), so no step reaches outside its own folder.
"""

from __future__ import annotations

import posixpath

from dataferry.errors import PathOnComputeError


def check_path_on_compute(value: object, *, port: str | None = None) -> str | None:
    """Return ``value`` unchanged if it is a usable ``path_on_compute``.

    ``None`` and ``""`` mean "not given" (the step gets a private folder).

    Args:
        value: what the user passed.
        port: the input's name, for the message (``None`` where it is not known yet).

    Returns:
        The value as given (``None`` for ``None``).

    Raises:
        TypeError: ``value`` is not a string.
        PathOnComputeError: a relative path that climbs out of the working folder, a
            path that names the working folder (or ``/``) itself, or a NUL character.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(
            f"path_on_compute must be a str, not {type(value).__name__} ({value!r})"
        )
    if value == "":
        return value
    what = f"path_on_compute {value!r}" + (f" of input '{port}'" if port else "")
    if "\0" in value:
        raise PathOnComputeError(f"{what} holds a NUL character; give a plain path")
    normal = normalise_path_on_compute(value)
    if normal == ".." or normal.startswith("../"):
        raise PathOnComputeError(
            f"{what} resolves to {normal!r}, outside the step's working folder: a relative "
            "path_on_compute is taken from the working folder and must stay inside it. "
            "Give a path such as 'data/input', or an absolute path."
        )
    if normal in (".", "/"):
        where = "the working folder" if normal == "." else "the root folder '/'"
        raise PathOnComputeError(
            f"{what} names {where} itself; give a folder inside it, such as "
            f"'{'' if normal == '.' else '/'}data/input'."
        )
    return value


def normalise_path_on_compute(value: str) -> str:
    """``value`` without ``.``, ``..``, doubled or trailing slashes (``/x/../y`` -> ``/y``)."""
    normal = posixpath.normpath(value)
    if normal.startswith("//"):  # POSIX keeps a leading '//'; it is still the root
        normal = "/" + normal.lstrip("/")
    return normal


def places_overlap(a: str, b: str) -> bool:
    """True if two normalised places are the same or one lies inside the other."""
    return (
        a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")
    )
