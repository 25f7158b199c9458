"""Fixtures shared by every test: an isolated home, a fresh workspace, sample files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry import Datastore, Workspace

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep ~/.dataferry (the name -> workspace index) out of the user's home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DATAFERRY_HOME", str(home))
    monkeypatch.delenv("DATAFERRY_CATALOG_URL", raising=False)
    return home


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A new workspace in ``tmp_path/project`` with the built-in datastores."""
    ws = Workspace.create("test-ws", tmp_path / "project", show_output=False)
    yield ws
    ws.close()


@pytest.fixture
def blobstore(workspace: Workspace) -> Datastore:
    """The default datastore (a local folder)."""
    return workspace.get_default_datastore()


def write_csv(
    path: Path, rows: int, *, header: str = "id,value,label", start: int = 0
) -> Path:
    """A CSV with ``rows`` rows: id (int), value (float), label (text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"{i},{i * 0.5},item{i}" for i in range(start, start + rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def store_root(blobstore: Datastore) -> Path:
    """The folder behind the default datastore."""
    return Path(blobstore.location.root)
