"""``export_catalog`` / ``import_catalog``: a workspace's catalog moved from SQLite to
PostgreSQL and back, row for row, and every bad file or target refused."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import create_engine, select

from dataferry import Environment, Experiment
from dataferry.catalog import SqlCatalog
from dataferry.catalog.export_format import TABLES
from dataferry.catalog.migrate import HEAD_REVISION as HEAD
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.transfer import export_catalog, import_catalog
from dataferry.demo import build
from dataferry.errors import (
    CatalogOutdatedError,
    CatalogTargetExistsError,
    CatalogTransferError,
)
from dataferry.execution.model import Model

if TYPE_CHECKING:
    from pathlib import Path

    from servers.postgres import Postgres

    from dataferry import Workspace


def rows_of(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every catalog table at ``url``, in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: [
                    dict(r)
                    for r in conn.execute(
                        select(t).order_by(*t.primary_key.columns)
                    ).mappings()
                ]
                for t in TABLES
            }
    finally:
        engine.dispose()


@pytest.fixture
def busy_workspace(workspace: Workspace, tmp_path: Path) -> Workspace:
    """The test workspace after a real pipeline run (steps, outputs, lineage, events,
    metrics, a registered output), a model and an environment registered."""
    run = Experiment(workspace, "demo").submit(build(workspace))
    assert run.wait_for_completion(raise_on_error=False) == "Finished"
    model_file = tmp_path / "model.txt"
    model_file.write_text("weights\n")
    Model.register(workspace, str(model_file), "m", tags={"k": 1.0})
    Environment("train-env").register(workspace)
    return workspace


@pytest.mark.slow
@pytest.mark.server
def test_sqlite_to_postgresql_and_back_row_for_row(
    busy_workspace: Workspace, postgres: Postgres, tmp_path: Path
) -> None:
    source = busy_workspace.catalog_url
    busy_workspace.close()
    before = rows_of(source)
    for table in ("runs", "step_runs", "outputs", "dataset_versions", "models"):
        assert before[table], table
    assert before["environments"] and before["events"] and before["metrics"]

    counts = export_catalog(source, tmp_path / "from_sqlite.jsonl")
    assert counts == {name: len(rows) for name, rows in before.items()}
    pg = postgres.create_database()  # empty: no tables yet
    assert import_catalog(pg, tmp_path / "from_sqlite.jsonl") == counts
    assert rows_of(pg) == before

    export_catalog(pg, tmp_path / "from_pg.jsonl")
    assert (tmp_path / "from_pg.jsonl").read_bytes() == (
        tmp_path / "from_sqlite.jsonl"
    ).read_bytes()
    back = f"sqlite:///{tmp_path / 'back.db'}"
    import_catalog(back, tmp_path / "from_pg.jsonl")
    assert rows_of(back) == before


@pytest.mark.server
def test_postgresql_ids_go_on_after_the_imported_ones(
    catalog_url: str, postgres: Postgres, tmp_path: Path
) -> None:
    catalog = SqlCatalog(catalog_url)
    for n in range(3):
        RunStore(catalog).log_metric("r1", "loss", "scalar", n)
    catalog.close()
    export_catalog(catalog_url, tmp_path / "c.jsonl")
    pg = postgres.create_database()
    import_catalog(pg, tmp_path / "c.jsonl")
    moved = RunStore(SqlCatalog(pg))
    moved.log_metric("r1", "loss", "scalar", 3)  # a fourth id, not a taken one
    moved.catalog.close()
    found = [(m["id"], m["value"]) for m in rows_of(pg)["metrics"]]
    assert found == [(1, 0), (2, 1), (3, 2), (4, 3)]


@pytest.fixture
def exported(catalog_url: str, tmp_path: Path) -> Path:
    """An export of a catalog holding two settings, three metrics and the one
    (coalesced) ``metrics`` event that logging them wrote, in that file order:
    header, event, metrics, settings."""
    catalog = SqlCatalog(catalog_url)
    catalog.set_setting("default_datastore", "workspaceblobstore")
    catalog.set_setting("retention", {"days": 30.0})
    for n in range(3):
        RunStore(catalog).log_metric("r1", "loss", "scalar", n / 2)
    catalog.close()
    file = tmp_path / "catalog.jsonl"
    export_catalog(catalog_url, file)
    return file


def test_the_header_names_revision_and_counts(exported: Path) -> None:
    header = json.loads(exported.read_text().splitlines()[0])
    assert header["format"] == "dataferry-catalog"
    assert header["revision"] == HEAD
    assert header["tables"]["settings"] == 2
    assert header["tables"]["metrics"] == 3
    assert header["tables"]["events"] == 1
    assert header["tables"]["runs"] == 0
    assert len(exported.read_text().splitlines()) == 1 + 6


def test_export_never_overwrites_a_file(catalog_url: str, tmp_path: Path) -> None:
    file = tmp_path / "there.jsonl"
    file.write_text("keep me\n")
    with pytest.raises(CatalogTargetExistsError, match=r"there.jsonl: the file exists"):
        export_catalog(catalog_url, file)
    assert file.read_text() == "keep me\n"


def test_an_outdated_catalog_is_not_exported(tmp_path: Path) -> None:
    from test_catalog_migrations import _catalog_at

    url = f"sqlite:///{tmp_path / 'old.db'}"
    _catalog_at(url, "0007")
    with pytest.raises(CatalogOutdatedError, match=r"'0007'.*catalog migrate"):
        export_catalog(url, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_import_refuses_a_catalog_holding_rows(
    exported: Path, catalog_url: str
) -> None:
    with pytest.raises(
        CatalogTargetExistsError,
        match=r"already holds rows \(events: 1, metrics: 3, settings: 2\); import only "
        "into an "
        "empty catalog",
    ):
        import_catalog(catalog_url, exported)
    assert len(rows_of(catalog_url)["metrics"]) == 3


def _rewrite(file: Path, edit: Any) -> Path:
    lines = file.read_text().splitlines(keepends=True)
    file.write_text("".join(edit(lines)))
    return file


def _header_revision(lines: list[str]) -> list[str]:
    header = json.loads(lines[0])
    return [json.dumps(header | {"revision": "0007"}) + "\n", *lines[1:]]


def _bad_time(lines: list[str]) -> list[str]:
    item = json.loads(lines[2])  # the first metric
    item["row"]["created_at"] = "yesterday"
    return [*lines[:2], json.dumps(item) + "\n", *lines[3:]]


def _wrong_columns(lines: list[str]) -> list[str]:
    item = json.loads(lines[2])
    del item["row"]["step"]
    return [*lines[:2], json.dumps(item) + "\n", *lines[3:]]


def _out_of_order(lines: list[str]) -> list[str]:
    return [lines[0], *reversed(lines[1:])]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda ls: ls[:-1],
            r"catalog.jsonl: it holds other row counts than its header "
            r"says \(settings: 1 of 2\); the file was cut short or edited",
        ),
        (lambda ls: [*ls, ls[-1]], r"\(settings: 3 of 2\)"),
        (
            _header_revision,
            r"exported at schema revision '0007', and this "
            rf"dataferry's catalog is at '{HEAD}'",
        ),
        (lambda ls: ["not json\n", *ls[1:]], r"line 1: it is not JSON"),
        (
            lambda ls: ['{"format": "csv"}\n', *ls[1:]],
            r"line 1: it has no 'dataferry-catalog' header",
        ),
        (
            lambda ls: [*ls[:2], '{"table": "nope", "row": {}}\n'],
            r"line 3: it is not a row of a catalog table",
        ),
        (_wrong_columns, r"line 3: its columns are not those of metrics"),
        (_bad_time, r"line 3: created_at is not a time"),
        (
            _out_of_order,
            r"line 4: metrics rows come after settings rows, out of the dependency order",
        ),
        (lambda ls: [], r"line 1: it is not JSON"),
    ],
)
def test_a_bad_file_is_refused_before_anything_is_written(
    exported: Path, tmp_path: Path, edit: Any, message: str
) -> None:
    _rewrite(exported, edit)
    target = tmp_path / "new.db"
    with pytest.raises(CatalogTransferError, match=message):
        import_catalog(f"sqlite:///{target}", exported)
    assert not target.exists()


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogTransferError, match=r"line 1: it cannot be read"):
        import_catalog(f"sqlite:///{tmp_path / 'new.db'}", tmp_path / "none.jsonl")
