"""Fixtures for the command-line tests: a runner, and datasets in the workspace."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    FileDataset,
    TabularDataset,
    Workspace,
)
from dataferry.cli import app

if TYPE_CHECKING:
    from pathlib import Path

Invoke = Callable[..., Result]


@pytest.fixture
def cli() -> CliRunner:
    """A runner whose terminal is wide enough that table cells are never folded."""
    return CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def project(workspace: Workspace) -> Path:
    """The folder holding the test workspace's ``.azureml/config.json``."""
    return workspace.path.parent


@pytest.fixture
def run(cli: CliRunner, project: Path) -> Invoke:
    """``run("dataset", "list")``: invoke ``dataferry -w <project> ...``."""

    def invoke(*args: str) -> Result:
        return cli.invoke(app, ["-w", str(project), *args], catch_exceptions=False)

    return invoke


def _write_sales(path: Path, ids: range) -> None:
    # tests/conftest.py's write_csv cannot be imported here: every conftest.py outside a
    # package is the module "conftest", so ours would shadow it.
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{i},{i * 0.5},item{i}" for i in ids]
    path.write_text("\n".join(["id,value,label", *rows]) + "\n")


@pytest.fixture
def sales(
    workspace: Workspace, blobstore: Datastore, store_root: Path
) -> TabularDataset:
    """Tabular 'sales': version 1 is part1.csv (5 rows), version 2 adds part2 (3)."""
    _write_sales(store_root / "sales" / "part1.csv", range(5))
    _write_sales(store_root / "sales" / "part2.csv", range(5, 8))
    Dataset.Tabular.from_delimited_files(
        DataPath(blobstore, "sales/part1.csv")
    ).register(workspace, "sales", description="first day")
    both = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "sales/*.csv"))
    return both.register(
        workspace,
        "sales",
        description="daily sales",
        tags={"team": "ml"},
        create_new_version=True,
    )


@pytest.fixture
def images(workspace: Workspace, blobstore: Datastore, store_root: Path) -> FileDataset:
    """File dataset 'images': three files under images/ on the default datastore."""
    for rel in ("a.png", "b.png", "sub/c.png"):
        target = store_root / "images" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rel.encode())
    return Dataset.File.from_files(DataPath(blobstore, "images")).register(
        workspace, "images"
    )
