"""``catalog.warm_up``: the catalog's code run once in memory, leaving nothing behind
(issue 8, item 6: what the local agent's spare child runs while it waits)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dataferry.catalog import sql_catalog
from dataferry.catalog.warm_up import warm_up

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_warm_up_reads_back_its_row_and_leaves_no_file_or_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    kept = list(sql_catalog._ENGINES)
    assert warm_up() == 1
    # a database of its own each time: the row of the first call is gone
    assert warm_up() == 1
    assert os.listdir(tmp_path) == []
    assert list(sql_catalog._ENGINES) == kept


def test_warm_up_opens_no_workspace_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even with a catalog URL in the environment (a submitting script's), nothing
    but its private in-memory database is touched."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("DATAFERRY_CATALOG_URL", url)
    assert warm_up() == 1
    assert not (tmp_path / "catalog.db").exists()
