"""Fixtures shared by every test: an isolated home, a fresh workspace, sample files."""

# ruff: noqa: E402 (the bytecode setting below comes before the first dataferry import)

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# The test processes write bytecode even under PYTHONDONTWRITEBYTECODE: pytest then
# keeps its assertion-rewritten test modules (rewriting them all costs each xdist
# worker about 6 s of CPU per run), and the drivers, agents and helpers the tests
# start read dataferry's compiled modules instead of compiling them again each (a
# third of a driver's import). Only these git-ignored __pycache__ folders are
# written; the started processes keep the environment's setting.
sys.dont_write_bytecode = False

import pytest

from dataferry import Datastore, Workspace
from dataferry.catalog import SqlCatalog
from dataferry.data.config import DEFAULT_WORKSPACE_DIR

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from servers.azurite import Azurite, RestartableAzurite
    from servers.postgres import Postgres
    from servers.ray_cluster import RayHead


@pytest.fixture(scope="session", autouse=True)
def local_agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The local agents this session's submissions start listen in a folder of the
    session's own, and are stopped when it ends (the runs' drivers are not)."""
    from dataferry.execution.agent_client import stop_agents

    folder = tmp_path_factory.mktemp("agents")
    os.chmod(folder, 0o700)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAFERRY_RUNTIME_DIR", str(folder))
        patch.setenv("DATAFERRY_AGENT_IDLE_S", "300")
        yield folder
        stop_agents()


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep ~/.dataferry (the name -> workspace index) out of the user's home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DATAFERRY_HOME", str(home))
    monkeypatch.delenv("DATAFERRY_CATALOG_URL", raising=False)
    return home


@pytest.fixture(scope="session")
def migrated_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite catalog at the head schema revision, made once per session."""
    path = tmp_path_factory.mktemp("catalog") / "catalog.db"
    SqlCatalog(
        f"sqlite:///{path}"
    ).close()  # the last close folds the WAL into the file
    return path


@pytest.fixture
def new_catalog(migrated_catalog: Path) -> Callable[[Path], str]:
    """``new_catalog(path)``: the URL of a SQLite catalog at ``path`` at the head
    revision, a copy of ``migrated_catalog`` (migrating one takes 25 times as long);
    a catalog already at ``path`` is kept."""

    def make(path: Path) -> str:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(migrated_catalog, path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture(scope="session")
def workspace_catalog(
    tmp_path_factory: pytest.TempPathFactory, migrated_catalog: Path
) -> Path:
    """A SQLite catalog at the head revision that already holds the built-in
    datastores, made once per session. Their folders are stored relative to the
    workspace folder, so a copy serves any workspace."""
    project = tmp_path_factory.mktemp("workspace-template")
    folder = project / DEFAULT_WORKSPACE_DIR
    folder.mkdir()
    shutil.copyfile(migrated_catalog, folder / "catalog.db")
    with pytest.MonkeyPatch.context() as patch:  # keep the template out of the index
        patch.setenv("DATAFERRY_HOME", str(project / "home"))
        Workspace.create("template-ws", project, show_output=False).close()
    return folder / "catalog.db"


@pytest.fixture
def workspace(tmp_path: Path, workspace_catalog: Path) -> Iterator[Workspace]:
    """A new workspace in ``tmp_path/project`` with the built-in datastores.

    Its catalog starts as a copy of ``workspace_catalog``: running the migrations and
    registering the built-in datastores for every test was most of the quick tests'
    time, and tests/catalog and tests/data check both.
    """
    folder = tmp_path / "project" / DEFAULT_WORKSPACE_DIR
    folder.mkdir(parents=True)
    shutil.copyfile(workspace_catalog, folder / "catalog.db")
    ws = Workspace.create("test-ws", tmp_path / "project", show_output=False)
    assert ws.catalog_url == f"sqlite:///{folder / 'catalog.db'}"
    yield ws
    ws.close()


@pytest.fixture
def blobstore(workspace: Workspace) -> Datastore:
    """The default datastore (a local folder)."""
    return workspace.get_default_datastore()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One azurite-blob for the session (installed on first use), stopped at its end.

    Fails, not skips, when npm is missing: CI has Node 20 and npm.
    """
    from servers.azurite import AzuriteUnavailable, running_azurite

    try:
        with running_azurite(tmp_path_factory.mktemp("azurite")) as server:
            yield server
    except AzuriteUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL 15 for the session (installed with apt-get on first use) on a
    free loopback port, with a template database migrated to head; stopped at its end.

    Fails, not skips, when it cannot start: CI runs as root on Debian 12.
    """
    from servers.postgres import PostgresUnavailable, running_postgres

    try:
        with running_postgres() as server:
            server.execute('CREATE DATABASE "migrated"')
            SqlCatalog(server.url("migrated")).close()  # no session left on it
            yield server
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def ray_head() -> Iterator[RayHead]:
    """One Ray head for the session on a free loopback port (servers.ray_cluster),
    stopped by pid at its end. Fails, not skips, when Ray is missing: it is in [dev].
    """
    from servers.ray_cluster import RayUnavailable, running_ray_head

    try:
        with running_ray_head() as head:
            yield head
    except RayUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.server)])
def catalog_url(
    request: pytest.FixtureRequest, tmp_path: Path, new_catalog: Callable[[Path], str]
) -> str:
    """The URL of a fresh catalog database at the head revision, on SQLite and on
    PostgreSQL, each a copy of the session's migrated template."""
    if request.param == "sqlite":
        return new_catalog(tmp_path / "catalog.db")
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database(template="migrated")


@pytest.fixture
def catalog_workspace(tmp_path: Path, catalog_url: str) -> Iterator[Workspace]:
    """``workspace`` with its catalog on SQLite and on PostgreSQL (``catalog_url``): a
    module overrides ``workspace`` with it to run its tests on both databases."""
    ws = Workspace.create(
        "test-ws", tmp_path / "project", show_output=False, catalog_url=catalog_url
    )
    yield ws
    ws.close()


@pytest.fixture
def restartable_azurite(tmp_path: Path) -> Iterator[RestartableAzurite]:
    """An azurite-blob of the test's own (own port and folder) that the test may stop,
    pause and start again: for fault tests. Stopped when the test ends."""
    from servers.azurite import AzuriteUnavailable, RestartableAzurite

    try:
        with RestartableAzurite(tmp_path / "azurite-own") as server:
            yield server
    except AzuriteUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def blob_container(azurite: Azurite) -> str:
    """A fresh, not yet created, container name on the session's Azurite."""
    import uuid

    return f"c{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store_root(blobstore: Datastore) -> Path:
    """The folder behind the default datastore."""
    return Path(blobstore.location.root)
