"""Datastore registrations: names, where secrets come from, the lazy kind registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry.errors import (
    DatastoreError,
    InvalidNameError,
    SecretNotFoundError,
    UnknownProtocolError,
)
from dataferry.storage import KINDS, DatastoreSpec, SecretStore, open_location
from dataferry.storage.spec import validate_datastore_name

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("abc", "abc"),
        ("Training_Data", "training_data"),
        ("A1_", "a1_"),
        ("x" * 255, "x" * 255),
    ],
)
def test_valid_names_are_lower_cased(name: str, expected: str) -> None:
    assert validate_datastore_name(name) == expected


@pytest.mark.parametrize(
    "name",
    ["", "has-dash", "has space", "dot.ted", "x" * 256, "ünï", None, 3],
    ids=["empty", "dash", "space", "dot", "long", "unicode", "none", "int"],
)
def test_invalid_names(name: object) -> None:
    with pytest.raises(InvalidNameError, match="invalid datastore name"):
        validate_datastore_name(name)


@pytest.fixture
def secrets(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "secrets.json")


class TestSecrets:
    def test_none_needed(self, secrets: SecretStore) -> None:
        assert DatastoreSpec("s", "local", {"path": "/"}).secrets(secrets) == {}

    def test_from_the_secrets_file(self, secrets: SecretStore) -> None:
        secrets.put("s", {"account_key": "k"})
        spec = DatastoreSpec("s", "azure_blob", {}, ("account_key",))

        assert spec.secrets(secrets) == {"account_key": "k"}

    def test_from_the_environment(
        self, secrets: SecretStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DF_SPEC_KEY", "from-env")
        spec = DatastoreSpec("s", "azure_blob", {}, (), {"account_key": "DF_SPEC_KEY"})

        assert spec.secrets(secrets) == {"account_key": "from-env"}

    def test_unset_environment_variable_is_named(
        self, secrets: SecretStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("DF_SPEC_UNSET", raising=False)
        spec = DatastoreSpec("s", "azure_blob", {}, (), {"sas_token": "DF_SPEC_UNSET"})

        with pytest.raises(
            SecretNotFoundError, match=r"sas_token .*DF_SPEC_UNSET, which is not set"
        ):
            spec.secrets(secrets)

    def test_missing_from_the_secrets_file(self, secrets: SecretStore) -> None:
        spec = DatastoreSpec("s", "azure_blob", {}, ("account_key",))

        with pytest.raises(
            SecretNotFoundError, match=r"needs its account_key.*overwrite=True"
        ):
            spec.secrets(secrets)


class TestOpenLocation:
    def test_local(self, secrets: SecretStore, tmp_path: Path) -> None:
        loc = open_location(
            DatastoreSpec("l", "local", {"path": str(tmp_path) + "/"}), secrets
        )

        assert loc.root == str(tmp_path)
        assert loc.is_local

    def test_memory_url(self, secrets: SecretStore) -> None:
        loc = open_location(
            DatastoreSpec("m", "fsspec", {"url": "memory://spec-bucket/pre"}), secrets
        )

        assert loc.root == "/spec-bucket/pre"
        assert not loc.is_local

    def test_unknown_protocol(self, secrets: SecretStore) -> None:
        with pytest.raises(UnknownProtocolError, match="'nosuchproto' is not known"):
            open_location(
                DatastoreSpec("m", "fsspec", {"url": "nosuchproto://x"}), secrets
            )

    def test_unknown_kind(self, secrets: SecretStore) -> None:
        with pytest.raises(DatastoreError, match="unknown datastore kind 'ftp-ish'"):
            open_location(DatastoreSpec("m", "ftp-ish", {}), secrets)

    def test_missing_secret_is_reported_before_the_backend_is_imported(
        self, secrets: SecretStore
    ) -> None:
        spec = DatastoreSpec(
            "b", "azure_blob", {"container_name": "c"}, (), {"k": "DF_NONE"}
        )

        with pytest.raises(SecretNotFoundError, match="DF_NONE"):
            open_location(spec, secrets)

    def test_file_share_without_key(self, secrets: SecretStore) -> None:
        spec = DatastoreSpec(
            "f", "azure_file", {"file_share_name": "s", "account_name": "a"}
        )

        with pytest.raises(DatastoreError, match="needs the account key"):
            open_location(spec, secrets)


def test_kinds_are_read_only() -> None:
    assert set(KINDS) >= {
        "local",
        "azure_blob",
        "azure_data_lake_gen2",
        "azure_file",
        "fsspec",
    }
    with pytest.raises(TypeError, match="does not support item assignment"):
        KINDS["x"] = ("a:b", "")  # type: ignore[index]
