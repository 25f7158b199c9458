"""SqlCatalog: settings, datastore registrations, dataset definitions and versions."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

import pytest

from dataferry.catalog import SqlCatalog, fingerprint_of
from dataferry.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    DatastoreExistsError,
    DatastoreNotFoundError,
)
from dataferry.storage import DatastoreSpec

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DEFINITION = {
    "sources": [{"datastore": "s", "path": "a"}],
    "format": None,
    "transforms": [],
}


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SqlCatalog]:
    cat = SqlCatalog(catalog_url)
    yield cat
    cat.close()


def spec(name: str = "store", **options: object) -> DatastoreSpec:
    return DatastoreSpec(name, "local", {"path": "/data", **options})


def test_kept_datastores_are_read_once_and_follow_own_changes(
    catalog: SqlCatalog, tmp_path: Path
) -> None:
    """A driver keeps each datastore as first read; changes through the same catalog
    object still show, another process's re-registration does not."""
    catalog.add_datastore(spec("store", path="/a"))
    catalog.keep_datastores()
    assert catalog.get_datastore("Store").options["path"] == "/a"
    other = SqlCatalog(catalog.url)
    try:
        other.add_datastore(spec("store", path="/b"), overwrite=True)
        assert catalog.get_datastore("store").options["path"] == "/a"
        assert other.get_datastore("store").options["path"] == "/b"
    finally:
        other.close()
    catalog.add_datastore(spec("store", path="/c"), overwrite=True)
    assert catalog.get_datastore("STORE").options["path"] == "/c"
    catalog.remove_datastore("store")
    with pytest.raises(DatastoreNotFoundError, match="store"):
        catalog.get_datastore("store")


class TestSettings:
    def test_default_then_set_then_replace(self, catalog: SqlCatalog) -> None:
        assert catalog.get_setting("default_datastore", "x") == "x"

        catalog.set_setting("default_datastore", "a")
        catalog.set_setting("default_datastore", "b")

        assert catalog.get_setting("default_datastore") == "b"


class TestDatastores:
    def test_add_get_list(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(spec("b"))
        catalog.add_datastore(spec("a", extra=1))

        assert catalog.get_datastore("a").options == {"path": "/data", "extra": 1}
        assert [s.name for s in catalog.list_datastores()] == ["a", "b"]

    def test_lookup_is_case_insensitive(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(spec("store"))

        assert catalog.get_datastore("STORE").name == "store"

    def test_secret_names_and_env_round_trip(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(
            DatastoreSpec(
                "s", "azure_blob", {"a": 1}, ("account_key",), {"sas_token": "VAR"}
            )
        )

        got = catalog.get_datastore("s")

        assert got.secret_keys == ("account_key",)
        assert dict(got.secret_env) == {"sas_token": "VAR"}

    def test_add_twice(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(spec())

        with pytest.raises(DatastoreExistsError, match="'store' is already registered"):
            catalog.add_datastore(spec(other=2))

        assert "other" not in catalog.get_datastore("store").options

    def test_overwrite(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(spec())
        catalog.add_datastore(spec(other=2), overwrite=True)

        assert catalog.get_datastore("store").options["other"] == 2
        assert len(catalog.list_datastores()) == 1

    def test_unknown_suggests_a_close_name(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(spec("training_data"))

        with pytest.raises(
            DatastoreNotFoundError,
            match=r"no datastore named 'trainingdata'.*Did you mean 'training_data'\?"
            r".*Registered: training_data\.",
        ):
            catalog.get_datastore("trainingdata")

    def test_remove(self, catalog: SqlCatalog) -> None:
        catalog.add_datastore(spec())
        catalog.remove_datastore("STORE")

        assert catalog.list_datastores() == []
        with pytest.raises(DatastoreNotFoundError, match="Registered: none"):
            catalog.remove_datastore("store")


class TestDatasets:
    def test_identical_definitions_share_one_id(self, catalog: SqlCatalog) -> None:
        a = catalog.save_dataset("file", DEFINITION)
        b = catalog.save_dataset("file", dict(DEFINITION))
        c = catalog.save_dataset("tabular", DEFINITION)

        assert a.id == b.id
        assert c.id != a.id
        assert a.fingerprint == fingerprint_of(
            {"kind": "file", "definition": DEFINITION}
        )

    def test_get_dataset(self, catalog: SqlCatalog) -> None:
        saved = catalog.save_dataset("file", DEFINITION)

        got = catalog.get_dataset(saved.id)

        assert got.definition == DEFINITION
        assert got.created_at.tzinfo is not None
        assert got.created_at.utcoffset() == UTC.utcoffset(None)

    def test_get_unknown_dataset(self, catalog: SqlCatalog) -> None:
        with pytest.raises(
            DatasetNotFoundError, match='Cannot find dataset with id "nope"'
        ):
            catalog.get_dataset("nope")

    def test_versions_count_up(self, catalog: SqlCatalog) -> None:
        ds = catalog.save_dataset("file", DEFINITION).id

        versions = [
            catalog.register_version(
                "n", ds, description=None, tags=None, create_new_version=True
            ).version
            for _ in range(3)
        ]

        assert versions == [1, 2, 3]
        assert [v.version for v in catalog.list_versions("n")] == [1, 2, 3]
        assert catalog.get_version("n").version == 3
        assert catalog.get_version("n", 2).version == 2

    def test_name_taken(self, catalog: SqlCatalog) -> None:
        ds = catalog.save_dataset("file", DEFINITION).id
        catalog.register_version(
            "n", ds, description=None, tags=None, create_new_version=False
        )

        with pytest.raises(
            DatasetExistsError,
            match='There is already a dataset registered under name "n"',
        ):
            catalog.register_version(
                "n", ds, description=None, tags=None, create_new_version=False
            )

        assert len(catalog.list_versions("n")) == 1

    def test_description_tags_and_producer(self, catalog: SqlCatalog) -> None:
        ds = catalog.save_dataset("file", DEFINITION).id
        catalog.register_version(
            "n",
            ds,
            description="d",
            tags={"k": "v"},
            create_new_version=False,
            producer_step_run_id="sr-1",
        )

        got = catalog.get_version("n", 1)

        assert (got.description, dict(got.tags), got.producer_step_run_id) == (
            "d",
            {"k": "v"},
            "sr-1",
        )

    def test_missing_version_names_the_latest(self, catalog: SqlCatalog) -> None:
        ds = catalog.save_dataset("file", DEFINITION).id
        catalog.register_version(
            "n", ds, description=None, tags=None, create_new_version=True
        )

        with pytest.raises(
            DatasetNotFoundError,
            match=r"\(version: 5\).*The latest version is 1; pass version=1",
        ):
            catalog.get_version("n", 5)

    def test_missing_name_suggests_a_close_one(self, catalog: SqlCatalog) -> None:
        ds = catalog.save_dataset("file", DEFINITION).id
        catalog.register_version(
            "flowers", ds, description=None, tags=None, create_new_version=True
        )

        with pytest.raises(DatasetNotFoundError, match="Did you mean 'flowers'"):
            catalog.get_version("flower")

    def test_latest_versions_and_versions_of_dataset(self, catalog: SqlCatalog) -> None:
        a = catalog.save_dataset("file", DEFINITION).id
        b = catalog.save_dataset("tabular", DEFINITION).id
        for name, ds in [("x", a), ("x", b), ("y", a)]:
            catalog.register_version(
                name, ds, description=None, tags=None, create_new_version=True
            )

        latest = {(v.name, v.version) for v in catalog.latest_versions()}
        assert latest == {("x", 2), ("y", 1)}
        assert [(v.name, v.version) for v in catalog.versions_of_dataset(a)] == [
            ("x", 1),
            ("y", 1),
        ]
