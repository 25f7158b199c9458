"""The runs list a page filters: by experiment, by status and by a text search.

The text matches a run whose id starts with it, whose experiment or description
(the name a page shows beside the id; the SDK's display name is the id) contains
it, or one of whose tags has it in its key or value; case does not matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.catalog.run_labels import descriptions_and_tags
from dataferry.catalog.status import RunStatus
from dataferry.errors import RunSearchError
from dataferry.execution.views.run_list import list_runs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.execution.views.model import RunSummary

_STATUSES = tuple(str(s) for s in RunStatus)
SCANNED = 10_000  # the newest runs a search looks through
MAX_TEXT = 200  # longer than any id, name or tag a person types


def search_runs(
    workspace: Workspace,
    *,
    experiment: str | None = None,
    status: str | None = None,
    text: str | None = None,
    limit: int = 50,
) -> list[RunSummary]:
    """The newest ``limit`` runs (of the last ``SCANNED``) that pass every filter
    given; None or an empty string filters nothing.

    Raises:
        RunSearchError: ``status`` is no run status, or ``text`` is over
            ``MAX_TEXT`` characters.
        CatalogError: the catalog database failed the read.
    """
    if status and status not in _STATUSES:
        raise RunSearchError(
            f"status {status!r} is no run status; pick one of {', '.join(_STATUSES)}."
        )
    needle = (text or "").strip().lower()
    if len(needle) > MAX_TEXT:
        raise RunSearchError(
            f"the search text is {len(needle)} characters; pass at most {MAX_TEXT}."
        )
    found = list_runs(workspace, experiment=experiment or None, limit=SCANNED)
    if status:
        found = [r for r in found if r.status == status]
    if needle:
        found = _matching(workspace, found, needle)
    return found[:limit]


def _matching(
    workspace: Workspace, found: list[RunSummary], needle: str
) -> list[RunSummary]:
    extra = descriptions_and_tags(workspace.catalog, [r.id for r in found])
    return [
        r
        for r in found
        if r.id.lower().startswith(needle)
        or needle in r.experiment.lower()
        or _has(needle, *extra.get(r.id, (None, {})))
    ]


def _has(needle: str, description: str | None, tags: Mapping[str, Any]) -> bool:
    words = [description or "", *(f"{k}={v}" for k, v in tags.items())]
    return any(needle in w.lower() for w in words)
