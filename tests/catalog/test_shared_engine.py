"""Catalogs of one database share an engine (its compiled statements), safely."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from dataferry.catalog import SqlCatalog
from dataferry.catalog.sql_catalog import after_fork_in_child, prepare_fork

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def test_opening_a_database_again_finds_its_statements_compiled(
    tmp_path: Path, new_catalog: Callable[[Path], str]
) -> None:
    url = new_catalog(tmp_path / "ws" / "catalog.db")
    first = SqlCatalog(url)
    first.set_setting("k", 1)
    assert first.get_setting("k") == 1
    first.close()
    compiled = dict(first.engine._compiled_cache or {})
    again = SqlCatalog(url)
    assert again.engine is first.engine
    assert again.get_setting("k") == 1
    assert dict(again.engine._compiled_cache or {}) == compiled  # nothing compiled
    again.close()


def test_a_database_made_again_at_a_path_is_read_afresh(
    tmp_path: Path, new_catalog: Callable[[Path], str]
) -> None:
    url = new_catalog(tmp_path / "ws" / "catalog.db")
    old = SqlCatalog(url)
    old.set_setting("k", "old")  # its connection stays open: ``old`` is not closed
    shutil.rmtree(tmp_path / "ws")
    new = SqlCatalog(new_catalog(tmp_path / "ws" / "catalog.db"))
    assert new.get_setting("k") is None
    new.set_setting("k", "new")
    assert SqlCatalog(url).get_setting("k") == "new"
    assert old.get_setting("k") == "new"  # the old object reads the new file too
    new.close()


def test_a_fork_finds_every_database_and_keeps_compiled_statements(
    tmp_path: Path, new_catalog: Callable[[Path], str]
) -> None:
    kept = [
        SqlCatalog(new_catalog(tmp_path / f"ws{i}" / "catalog.db")) for i in range(3)
    ]
    for catalog in kept:
        catalog.get_setting("k")
    released = prepare_fork()
    for catalog in kept:
        assert catalog.engine.url.database in released
        assert catalog.engine.pool.checkedin() == 0
    after_fork_in_child()
    assert [c.get_setting("k", "none") for c in kept] == ["none"] * 3
