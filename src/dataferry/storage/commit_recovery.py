"""Settling object-store commits that were interrupted between start and marker.

Before it touches the destination, a commit writes its intent beside its staged files
(``<staging prefix>/.dataferry-commit.json``: the destination, the files staged with
their sizes, the files the output had before). A commit killed (or whose store stopped
answering) after writing ``.dataferry-committing`` leaves the output reading as
absent; whoever removes that staging prefix (``discard``, ``discard_step``: resume,
``dataferry gc``) settles it first:

- the destination still has a commit marker: nothing was published yet (the old marker
  goes before the first copy), or everything was (the new marker came last): the
  ``.dataferry-committing`` file is removed; the output is whole, old or new.
- no marker and no earlier output: rolled back, the destination is removed (the step
  did not finish, so it has no output; what is there is half-published).
- no marker over an earlier output: the publish had begun overwriting it, so the old
  output cannot come back; rolled forward from the staged files (a complete, new
  output). If the staged files are not all there, the destination is removed.
"""

from __future__ import annotations

import json
import logging
import posixpath
from typing import TYPE_CHECKING, Any

from dataferry.storage.commit_marker import INTENT, MARKER, PENDING
from dataferry.storage.retry import with_retries

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry.storage.staging_object import ObjectStoreStaging

log = logging.getLogger(__name__)


def settle_interrupted(staging: ObjectStoreStaging, prefix: str) -> list[str]:
    """Settle every interrupted commit whose intent is under the staging ``prefix``
    (relative to the root); return what was done, one line each, for people.

    A commit that cannot be settled now (the store does not answer, an unreadable
    intent) is logged and left: the staging prefix is then left too, for a later
    ``gc``, if removing it fails alike.
    """
    loc = staging.location
    base = loc.full_path(prefix)
    try:
        if not loc.fs.isdir(base):
            return []
        intents = [p for p in loc.fs.find(base) if posixpath.basename(p) == INTENT]
    except OSError as exc:
        log.warning("cannot look for interrupted commits in %s: %s", base, exc)
        return []
    done = []
    for intent in intents:
        try:
            outcome = _settle(staging, posixpath.dirname(intent), intent)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot settle the interrupted commit %s: %s", intent, exc)
            continue
        if outcome:
            log.warning("%s", outcome)
            done.append(outcome)
    return done


def _settle(staging: ObjectStoreStaging, staged: str, intent: str) -> str | None:
    loc = staging.location
    body: dict[str, Any] = json.loads(loc.fs.cat_file(intent))
    destination = str(body["destination"])
    new = {str(k): int(v) for k, v in dict(body["files"]).items()}
    old = [str(rel) for rel in body["old"]]
    final = loc.full_path(destination).rstrip("/")
    where = loc.url(destination)
    if not loc.fs.exists(f"{final}/{PENDING}"):
        return None  # it ended, or never began publishing: the output is whole
    if loc.fs.exists(f"{final}/{MARKER}"):
        loc.fs.rm_file(f"{final}/{PENDING}")
        return f"{where}: an interrupted commit had not published: the output is whole"
    if old and _all_staged(staging, staged, new):
        staging.publish(final, staged, new, old, _retried(staging, destination))
        return f"{where}: an interrupted overwrite was finished from its staged files"
    staging.remove(destination)
    return (
        f"{where}: an interrupted commit was undone (its half-published files removed)"
    )


def _all_staged(staging: ObjectStoreStaging, staged: str, new: dict[str, int]) -> bool:
    """True if every file of ``new`` is under ``staged`` with its size."""
    loc = staging.location
    found: dict[str, Any] = loc.fs.find(staged, detail=True)
    base = loc._strip(staged)
    sizes = {
        posixpath.relpath(loc._strip(p), base): int(info.get("size") or 0)
        for p, info in found.items()
    }
    return all(sizes.get(rel) == size for rel, size in new.items())


def _retried(
    staging: ObjectStoreStaging, destination: str
) -> Callable[[Callable[[], Any]], Any]:
    def call(action: Callable[[], Any]) -> Any:
        return with_retries(
            action,
            datastore=staging.location.name,
            path=destination,
            action="finish an interrupted commit to",
            after_failed_attempt=staging.location.fs.invalidate_cache,
        )

    return call
