"""A run store on a fresh SQLite catalog, holding one run ``r1`` of experiment ``exp``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry.catalog import SqlCatalog
from dataferry.catalog.run_store import RunStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence


@pytest.fixture
def run_with_steps(
    catalog_url: str,
) -> Iterator[Callable[[Sequence[tuple[str, str, str]]], RunStore]]:
    """``make(steps)``: a store whose catalog (a copy of the session's migrated one)
    holds run ``r1`` with these step runs ``(step run id, node id, name)``; the
    catalog is closed at the end."""
    catalogs: list[SqlCatalog] = []

    def make(steps: Sequence[tuple[str, str, str]]) -> RunStore:
        catalog = SqlCatalog(catalog_url)
        catalogs.append(catalog)
        store = RunStore(catalog)
        store.create_run(
            "r1",
            "exp",
            {},
            parameters={},
            options={},
            tags=None,
            description=None,
            steps=steps,
        )
        return store

    yield make
    for catalog in catalogs:
        catalog.close()
