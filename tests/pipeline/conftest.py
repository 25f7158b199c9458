"""Fixtures for building pipelines: a folder with a no-op step script, datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import DataPath, Dataset, Datastore, FileDataset, TabularDataset

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A source folder holding ``step.py`` (which does nothing)."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "step.py").write_text("print('ok')\n")
    return folder


@pytest.fixture
def files(blobstore: Datastore, store_root: Path) -> FileDataset:
    """A file dataset: two text files in ``docs/``."""
    for name in ("a", "b"):
        path = store_root / "docs" / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return Dataset.File.from_files(DataPath(blobstore, "docs"))


@pytest.fixture
def table(blobstore: Datastore, store_root: Path) -> TabularDataset:
    """A tabular dataset of three rows."""
    (store_root / "t.csv").write_text("id,label\n1,a\n2,b\n3,c\n")
    return Dataset.Tabular.from_delimited_files(DataPath(blobstore, "t.csv"))
