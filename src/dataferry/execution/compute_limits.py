"""How many steps of a run may run at once, given the compute targets its steps name.

A recorded target runs its steps on this machine (``runs_on == "local"``) and at most
``max_nodes`` of them at once. The scheduler has one limit per run, so when every step
names a recorded target the run's limit is the sum of their sizes (exact when the
steps share one target, the common case), never more than the workspace's own limit.
A step with no target, ``local`` or a name no target is recorded under runs as before:
bounded only by the workspace's limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.catalog.compute_store import ComputeStore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dataferry.catalog.sql_catalog import SqlCatalog


def concurrency_limit(
    catalog: SqlCatalog, targets: Iterable[str | None], limit: int
) -> int:
    """The run's limit: ``limit``, lowered to the total size of the targets named.

    Args:
        catalog: the workspace's catalog (its compute targets).
        targets: each step's ``compute_target`` (None when it names none).
        limit: the workspace's limit (``max_concurrency`` or the CPU count).
    """
    names = set(targets)
    if not names or None in names or "local" in names:
        return limit
    sizes = {t.name: t.max_nodes for t in ComputeStore(catalog).list()}
    if not names <= sizes.keys():
        return limit
    return max(1, min(limit, sum(sizes[name] for name in names if name)))
