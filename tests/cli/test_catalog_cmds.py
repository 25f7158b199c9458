"""``dataferry catalog check|migrate|export|import`` and the errors they exit with."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest
from servers.azurite import free_port

from dataferry.catalog import SqlCatalog, migrate
from dataferry.catalog.sql_catalog import CONNECT_TIMEOUT_S, server_connect_args
from dataferry.errors import CatalogUnavailableError

HEAD = migrate.HEAD_REVISION  # the messages name the newest revision

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from click.testing import CliRunner, Result

    from dataferry import Workspace

    from .conftest import Invoke


def said(result: Result) -> str:
    """The command's output with line folding undone."""
    return " ".join(result.output.split())


def _catalog_at(path: Path, revision: str) -> str:
    """A SQLite catalog brought to ``revision`` by alembic, as an older dataferry did."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()
    return url


def _stamp(path: Path, revision: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_check_says_the_revision_of_a_current_catalog(run: Invoke) -> None:
    result = run("catalog", "check")
    assert result.exit_code == 0
    assert f"schema revision {HEAD} (current)" in said(result)
    document = json.loads(run("catalog", "check", "--json").output)
    assert document["revision"] == document["head"] == HEAD
    assert document["current"] is True
    assert document["url"].endswith("catalog.db")


def test_an_old_catalog_is_named_then_migrated(run: Invoke, tmp_path: Path) -> None:
    url = _catalog_at(tmp_path / "old.db", "0006")
    result = run("catalog", "check", "--url", url)
    assert result.exit_code == 1
    assert (
        f"the catalog {url} is at schema revision '0006'; this dataferry expects "
        f"'{HEAD}'. Run `dataferry catalog migrate` to upgrade it." in said(result)
    )
    result = run("catalog", "migrate", "--url", url)
    assert result.exit_code == 0
    assert f"catalog {url}: migrated from 0006 to {HEAD}" in said(result)
    assert run("catalog", "check", "--url", url).exit_code == 0
    again = run("catalog", "migrate", "--url", url)
    assert f"catalog {url}: already at schema revision {HEAD}" in said(again)


def test_check_of_a_missing_file_creates_nothing(run: Invoke, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = run("catalog", "check", "--url", url)
    assert result.exit_code == 1
    assert f"the catalog {url} is empty; this dataferry expects '{HEAD}'" in said(
        result
    )
    assert not (tmp_path / "none.db").exists()
    assert f"migrated from empty to {HEAD}" in said(
        run("catalog", "migrate", "--url", url)
    )


@pytest.mark.parametrize("command", ["check", "migrate"])
def test_a_newer_schema_is_refused_untouched(
    run: Invoke, tmp_path: Path, command: str
) -> None:
    path = tmp_path / "new.db"
    SqlCatalog(f"sqlite:///{path}").close()
    _stamp(path, "0099")
    result = run("catalog", command, "--url", f"sqlite:///{path}")
    assert result.exit_code == 1
    assert (
        "the catalog is at schema revision '0099', newer than this dataferry knows "
        f"('{HEAD}'); upgrade dataferry to open it." in said(result)
    )
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("0099",)
        ]


@pytest.mark.parametrize("command", ["check", "migrate"])
def test_an_unreachable_server_is_named(run: Invoke, command: str) -> None:
    url = f"postgresql+psycopg://dataferry:secret@127.0.0.1:{free_port()}/catalog"
    result = run("catalog", command, "--url", url)
    assert result.exit_code == 1
    text = said(result)
    assert "(catalog postgresql+psycopg://dataferry:***@127.0.0.1:" in text
    assert "check that the database server is running and reachable" in text
    assert "secret" not in text


def test_a_server_that_never_answers_fails_within_the_connect_timeout(
    run: Invoke, silent_server: int
) -> None:
    url = f"postgresql+psycopg://u@127.0.0.1:{silent_server}/c?connect_timeout=1"
    started = time.monotonic()
    result = run("catalog", "check", "--url", url)
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    assert "cannot read the catalog's schema revision" in said(result)


def test_connections_to_a_server_have_a_bounded_timeout() -> None:
    assert server_connect_args("postgresql+psycopg://u@h/db") == {
        "connect_timeout": CONNECT_TIMEOUT_S
    }
    assert server_connect_args("postgresql+psycopg://u@h/db?connect_timeout=3") == {}
    assert server_connect_args("sqlite:///x.db") == {}


def test_opening_an_unreachable_catalog_is_a_typed_error() -> None:
    url = f"postgresql+psycopg://u@127.0.0.1:{free_port()}/c"
    with pytest.raises(CatalogUnavailableError, match=r"cannot open the catalog"):
        SqlCatalog(url)


def test_export_then_import_into_a_new_catalog(
    run: Invoke, workspace: Workspace, tmp_path: Path
) -> None:
    file = tmp_path / "catalog.jsonl"
    result = run("catalog", "export", str(file))
    assert result.exit_code == 0
    header = json.loads(file.read_text().splitlines()[0])
    rows = sum(header["tables"].values())
    tables = len(header["tables"])
    assert f"exported {rows} rows of {tables} tables to {file}" in said(result)
    target = f"sqlite:///{tmp_path / 'moved.db'}"
    result = run("catalog", "import", str(file), "--url", target)
    assert result.exit_code == 0
    assert f"imported {rows} rows of {tables} tables" in said(result)

    again = run("catalog", "export", str(file))
    assert again.exit_code == 2
    assert "the file exists; name a new file or remove it first" in said(again)
    twice = run("catalog", "import", str(file), "--url", target)
    assert twice.exit_code == 2
    assert "already holds rows (" in said(twice)


def test_check_lists_absolute_paths_of_a_shared_workspace(
    cli: CliRunner, tmp_path: Path
) -> None:
    from dataferry import Dataset
    from dataferry import Workspace as Ws
    from dataferry.cli import app

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    ws = Ws.create("team", tmp_path / "a", catalog_url=url, show_output=False)
    outside = tmp_path / "far.csv"
    outside.write_text("x\n1\n")
    (tmp_path / "a" / "in.csv").write_text("x\n2\n")
    Dataset.Tabular.from_delimited_files(str(outside)).register(ws, "far")
    Dataset.Tabular.from_delimited_files(str(tmp_path / "a" / "in.csv")).register(
        ws, "near"
    )
    far_id = Dataset.get_by_name(ws, "far").id
    ws.close()

    result = cli.invoke(app, ["-w", str(tmp_path / "a"), "catalog", "check"])
    assert result.exit_code == 1
    assert (
        "the shared catalog keeps 1 absolute local path(s), which other machines "
        f"sharing it do not have: dataset {far_id}: {outside} Move that data onto a "
        "shared datastore" in said(result)
    )
    # the same catalog by --url (no workspace to judge sharing by): revision only
    plain = cli.invoke(app, ["catalog", "check", "--url", url])
    assert plain.exit_code == 0, plain.output


def test_check_of_an_unshared_workspace_ignores_absolute_paths(
    run: Invoke, workspace: Workspace, tmp_path: Path
) -> None:
    from dataferry import Dataset

    outside = tmp_path / "far.csv"
    outside.write_text("x\n1\n")
    Dataset.Tabular.from_delimited_files(str(outside)).register(workspace, "far")
    result = run("catalog", "check")
    assert result.exit_code == 0
    assert f"schema revision {HEAD} (current)" in said(result)
