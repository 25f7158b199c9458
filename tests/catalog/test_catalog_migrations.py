"""The catalog schema: migrations applied on open, revision checks, SQLite settings."""

from __future__ import annotations

import ast
import sqlite3
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import inspect, text

from dataferry.catalog import SqlCatalog, migrate
from dataferry.catalog.schema import metadata
from dataferry.errors import CatalogError, CatalogVersionError

if TYPE_CHECKING:
    from pathlib import Path

VERSIONS = migrate.MIGRATIONS / "versions"


def revisions() -> dict[str, str | None]:
    """revision -> down_revision, read from every file in migrations/versions."""
    found: dict[str, str | None] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for target in targets:
                    if isinstance(target, ast.Name) and node.value is not None:
                        values[target.id] = ast.literal_eval(node.value)
        assert "revision" in values, f"{path.name} has no revision"
        found[str(values["revision"])] = values.get("down_revision")  # type: ignore[assignment]
    return found


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def catalog(db_url: str) -> SqlCatalog:
    cat = SqlCatalog(db_url)
    yield cat  # type: ignore[misc]
    cat.close()


class TestRevisions:
    def test_head_revision_is_the_newest_migration_file(self) -> None:
        found = revisions()
        parents = {down for down in found.values() if down is not None}
        heads = [rev for rev in found if rev not in parents]

        assert heads == [migrate.HEAD_REVISION]

    def test_every_migration_file_is_a_known_revision(self) -> None:
        assert set(revisions()) == migrate._KNOWN

    def test_migrations_form_one_chain(self) -> None:
        found = revisions()
        roots = [rev for rev, down in found.items() if down is None]
        assert len(roots) == 1
        chain, rev = [], migrate.HEAD_REVISION
        while rev is not None:
            chain.append(rev)
            rev = found[rev]  # type: ignore[assignment]
        assert sorted(chain) == sorted(found)


class TestOpen:
    def test_new_database_is_migrated_to_head(self, catalog: SqlCatalog) -> None:
        with catalog.read() as conn:
            assert migrate.current_revision(conn) == migrate.HEAD_REVISION

    @pytest.mark.parametrize(
        "table",
        [
            "runs",
            "step_runs",
            "outputs",
            "leases",
            "lineage",
            "metrics",
            "datastores",
            "datasets",
            "dataset_versions",
            "settings",
            "experiments",
            "content_hashes",
            "events",
        ],
    )
    def test_tables_exist(self, catalog: SqlCatalog, table: str) -> None:
        with catalog.read() as conn:
            assert inspect(conn).has_table(table)

    def test_migrations_match_the_schema_module(self, catalog: SqlCatalog) -> None:
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        with catalog.read() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)

        assert diff == []

    def test_sqlite_runs_in_wal_mode(self, catalog: SqlCatalog) -> None:
        with catalog.read() as conn:
            mode = conn.execute(text("PRAGMA journal_mode")).scalar()
            fks = conn.execute(text("PRAGMA foreign_keys")).scalar()

        assert mode == "wal"
        assert fks == 1

    def test_wal_mode_is_persistent_in_the_file(
        self, catalog: SqlCatalog, tmp_path: Path
    ) -> None:
        with sqlite3.connect(tmp_path / "catalog.db") as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    def test_reopening_keeps_data_and_revision(self, db_url: str) -> None:
        first = SqlCatalog(db_url)
        first.set_setting("k", {"v": 1})
        first.close()

        second = SqlCatalog(db_url)

        assert second.get_setting("k") == {"v": 1}
        with second.read() as conn:
            assert migrate.current_revision(conn) == migrate.HEAD_REVISION
        second.close()

    def test_newer_revision_is_refused(self, db_url: str, tmp_path: Path) -> None:
        SqlCatalog(db_url).close()
        with sqlite3.connect(tmp_path / "catalog.db") as raw:
            raw.execute("UPDATE alembic_version SET version_num = '9999'")

        with pytest.raises(
            CatalogVersionError, match=r"'9999', newer than .*upgrade dataferry"
        ):
            SqlCatalog(db_url)

    def test_newer_revision_leaves_the_database_untouched(
        self, db_url: str, tmp_path: Path
    ) -> None:
        SqlCatalog(db_url).close()
        with sqlite3.connect(tmp_path / "catalog.db") as raw:
            raw.execute("UPDATE alembic_version SET version_num = '9999'")
            raw.execute("CREATE TABLE from_the_future (x INTEGER)")

        with pytest.raises(CatalogVersionError, match="9999"):
            SqlCatalog(db_url)

        with sqlite3.connect(tmp_path / "catalog.db") as raw:
            assert raw.execute(
                "SELECT version_num FROM alembic_version"
            ).fetchall() == [("9999",)]

    def test_version_error_is_a_catalog_error(self) -> None:
        assert issubclass(CatalogVersionError, CatalogError)

    def test_unopenable_database(self, tmp_path: Path) -> None:
        folder = tmp_path / "is-a-folder.db"
        folder.mkdir()

        with pytest.raises(CatalogError, match="cannot open the catalog"):
            SqlCatalog(f"sqlite:///{folder}")


def _catalog_at(db_url: str, revision: str) -> None:
    """Bring an empty database to ``revision`` with alembic, as an older dataferry did."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


class TestUpgradeTo0003:
    """A 0002 catalog with runs in it gains events, lineage bindings and version
    producers, and its runs read and move on as before."""

    @pytest.fixture
    def old_catalog(self, db_url: str, tmp_path: Path) -> str:
        _catalog_at(db_url, "0002")
        stamp = "2026-12-01 10:00:00.000000"
        details = (
            '{"inputs": {"raw": {"mode": "mount", "value": "/x"}}, "registered": []}'
        )
        with sqlite3.connect(tmp_path / "catalog.db") as raw:
            raw.execute("INSERT INTO experiments VALUES ('exp', ?)", (stamp,))
            raw.execute(
                "INSERT INTO runs (id, experiment, status, tags, parameters, options, "
                "definition, created_at) VALUES "
                "('r1', 'exp', 'Running', '{}', '{}', '{}', '{}', ?)",
                (stamp,),
            )
            raw.execute(
                "INSERT INTO step_runs (id, run_id, step_name, node_id, status, details, "
                "created_at) VALUES ('s1', 'r1', 'prep', 'n1', 'Running', ?, ?)",
                (details, stamp),
            )
            raw.execute(
                "INSERT INTO lineage (step_run_id, role, name, datastore, path) "
                "VALUES ('s1', 'input', 'raw', 'blob', 'in')"
            )
        return db_url

    def test_the_old_runs_read_and_move_on(self, old_catalog: str) -> None:
        from dataferry.catalog.run_store import RunStore
        from dataferry.catalog.status import RunStatus, StepStatus

        catalog = SqlCatalog(old_catalog)
        store = RunStore(catalog)

        with catalog.read() as conn:
            assert migrate.current_revision(conn) == migrate.HEAD_REVISION
            assert inspect(conn).has_table("events")
        assert store.get_run("r1").status == "Running"
        assert store.get_step_run("s1").details["inputs"]["raw"]["mode"] == "mount"
        (row,) = store.lineage_of("s1")
        assert (row["name"], row["mode"], row["value"]) == ("raw", None, None)
        assert store.events_since("r1") == []  # no history was recorded before

        store.move_step("s1", StepStatus.FAILED)
        store.move_run("r1", RunStatus.FAILED)

        assert [(e.step_name, e.kind, e.payload) for e in store.events_since("r1")] == [
            ("prep", "step_status", {"from": "Running", "to": "Failed"}),
            (None, "run_status", {"from": "Running", "to": "Failed"}),
        ]
        catalog.close()

    def test_versions_registered_before_have_no_producer_output(
        self, old_catalog: str
    ) -> None:
        catalog = SqlCatalog(old_catalog)
        record = catalog.save_dataset("file", {"sources": []})
        catalog.register_version(
            "d", record.id, description=None, tags=None, create_new_version=True
        )

        (version,) = catalog.list_versions("d")

        assert (version.version, version.producer_output) == (1, None)
        catalog.close()
