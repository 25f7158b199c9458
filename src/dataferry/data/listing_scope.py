"""One listing of a dataset's sources for the whole of a step's preparation.

A step's preparation resolves each input twice: to fingerprint it and to bind it. A
folder of 10,000 files took a glob, a stat and a commit-marker check per file each
time (seconds). Inside :func:`one_listing` the second resolve of the same sources
answers with the first one's files, so the fingerprint also describes exactly the
files the step is given (two listings a moment apart could differ). Outside it,
every resolve lists afresh. A failed resolve is not kept: it fails again. A reader
that found an output overwritten while it read (``whole_read``) calls
:func:`forget_listings` before it lists again, so it never gets the old listing.

The scope is a context variable, so it holds for the thread (a preparation's worker)
that entered it and for nobody else.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from dataferry.data.sources import ResolvedFile

_LISTINGS: ContextVar[dict[str, list[ResolvedFile]] | None] = ContextVar(
    "dataferry_listings", default=None
)


@contextmanager
def one_listing() -> Iterator[None]:
    """Within this block, equal sources of one workspace are listed once.

    Inputs: none. Yields: nothing. Raises: nothing of its own.
    """
    token = _LISTINGS.set({})
    try:
        yield
    finally:
        _LISTINGS.reset(token)


def listed_once(
    sources: Sequence[Any],
    workspace_path: str | None,
    resolve: Callable[[], list[ResolvedFile]],
) -> list[ResolvedFile]:
    """``resolve()``, or the files it gave for the same sources earlier in this scope.

    Inputs: the sources (plain JSON-able dicts), the workspace folder they are
    resolved in, and the resolving function. Output: a new list of the files.
    Raises: whatever ``resolve`` raises.
    """
    kept = _LISTINGS.get()
    if kept is None:
        return resolve()
    key = json.dumps([workspace_path, list(sources)], sort_keys=True, default=str)
    if key not in kept:
        kept[key] = resolve()
    return list(kept[key])


def forget_listings() -> None:
    """Make the next resolve of every source in this scope list afresh (and keep that).

    Inputs: none. Output: none. Raises: nothing. Outside a scope it does nothing.
    """
    kept = _LISTINGS.get()
    if kept is not None:
        kept.clear()
