"""Registering Azure Blob / ADLS Gen2 datastores against a real Azurite."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from servers.azurite import ACCOUNT, KEY, free_port

from dataferry import Datastore
from dataferry.data.datastore import AzureBlobDatastore, AzureDataLakeGen2Datastore
from dataferry.errors import (
    DatastoreAuthenticationError,
    DatastoreError,
    DatastoreUnreachableError,
    StorageError,
)

if TYPE_CHECKING:
    from servers.azurite import Azurite

    from dataferry import Workspace

pytestmark = pytest.mark.server

# a well-formed key Azurite does not accept (base64 of a recognisable text)
WRONG_KEY = "RkFLRS1LRVktZGF0YWZlcnJ5LXRlc3QtMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="


def registrations(ws: Workspace) -> set[str]:
    return {s.name for s in ws.catalog.list_datastores()}


def host(azurite: Azurite) -> str:
    return f"127.0.0.1:{azurite.port}"


class TestBlobRegistration:
    def test_create_if_not_exists_creates_the_container(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        store = Datastore.register_azure_blob_container(
            workspace,
            "blob",
            blob_container,
            ACCOUNT,
            account_key=KEY,
            protocol="http",
            endpoint=host(azurite),
            create_if_not_exists=True,
        )

        assert type(store) is AzureBlobDatastore
        assert store.location.fs.exists(blob_container)

    @pytest.mark.parametrize(
        "how",
        ["protocol+host", "full-url", "connection-string", "localhost"],
    )
    def test_every_way_to_point_at_the_emulator(
        self, workspace: Workspace, azurite: Azurite, blob_container: str, how: str
    ) -> None:
        kwargs: dict[str, str] = {
            "protocol+host": {"protocol": "http", "endpoint": host(azurite)},
            "full-url": {"endpoint": azurite.endpoint},
            "connection-string": {"connection_string": azurite.connection_string},
            "localhost": {"protocol": "http", "endpoint": f"localhost:{azurite.port}"},
        }[how]
        if how != "connection-string":
            kwargs["account_key"] = KEY

        store = Datastore.register_azure_blob_container(
            workspace,
            "blob",
            blob_container,
            ACCOUNT,
            create_if_not_exists=True,
            **kwargs,
        )
        store.location.fs.pipe_file(f"{blob_container}/x.txt", b"hi")

        again = Datastore.get(workspace, "blob")
        assert again.location.fs.cat_file(f"{blob_container}/x.txt") == b"hi"

    def test_missing_container_fails_without_create(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        with pytest.raises(
            StorageError,
            match=f"datastore 'blob': container '{blob_container}' does not exist at "
            f"http://{host(azurite)}/{ACCOUNT}; pass create_if_not_exists=True",
        ):
            Datastore.register_azure_blob_container(
                workspace,
                "blob",
                blob_container,
                ACCOUNT,
                account_key=KEY,
                endpoint=azurite.endpoint,
            )
        assert "blob" not in registrations(workspace)

    @pytest.mark.parametrize("create", [False, True])
    def test_a_wrong_key_fails_at_registration(
        self, workspace: Workspace, azurite: Azurite, blob_container: str, create: bool
    ) -> None:
        Datastore.register_azure_blob_container(
            workspace,
            "made",
            blob_container,
            ACCOUNT,
            account_key=KEY,
            endpoint=azurite.endpoint,
            create_if_not_exists=True,
        )
        with pytest.raises(
            DatastoreAuthenticationError,
            match=r"datastore 'wrongkey': http://127\.0\.0\.1:\d+/devstoreaccount1 "
            r"refused its credentials \(HTTP 403",
        ) as caught:
            Datastore.register_azure_blob_container(
                workspace,
                "wrongkey",
                blob_container,
                ACCOUNT,
                account_key=WRONG_KEY,
                endpoint=azurite.endpoint,
                create_if_not_exists=create,
            )
        assert WRONG_KEY not in str(caught.value)
        assert "wrongkey" not in registrations(workspace)
        assert isinstance(caught.value, PermissionError)

    def test_a_wrong_key_on_a_missing_container_is_still_refused(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        # a 403 must never read as "missing" (and so never be created past)
        with pytest.raises(DatastoreAuthenticationError, match="'wrongkey'"):
            Datastore.register_azure_blob_container(
                workspace,
                "wrongkey",
                blob_container,
                ACCOUNT,
                account_key=WRONG_KEY,
                endpoint=azurite.endpoint,
            )

    def test_skip_validation_registers_without_asking(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        store = Datastore.register_azure_blob_container(
            workspace,
            "later",
            blob_container,
            ACCOUNT,
            account_key=WRONG_KEY,
            endpoint=azurite.endpoint,
            skip_validation=True,
        )
        assert store.name in registrations(workspace)

    def test_the_registration_keeps_no_secret(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        Datastore.register_azure_blob_container(
            workspace,
            "blob",
            blob_container,
            ACCOUNT,
            connection_string=azurite.connection_string,
            create_if_not_exists=True,
        )
        spec = workspace.catalog.get_datastore("blob")
        assert KEY not in repr(spec)
        assert spec.secret_keys == ("connection_string",)


class TestUnreachable:
    @pytest.mark.parametrize("endpoint", ["url", "host"])
    def test_a_closed_port_is_a_typed_error_within_seconds(
        self, workspace: Workspace, endpoint: str
    ) -> None:
        port = free_port()
        kwargs = (
            {"endpoint": f"http://127.0.0.1:{port}/{ACCOUNT}"}
            if endpoint == "url"
            else {"endpoint": f"127.0.0.1:{port}", "protocol": "http"}
        )
        started = time.monotonic()
        with pytest.raises(
            DatastoreUnreachableError,
            match=rf"datastore 'gone': no answer from http://127\.0\.0\.1:{port}/"
            rf"{ACCOUNT} within 3 s \(connect\)",
        ):
            Datastore.register_azure_blob_container(
                workspace, "gone", "box", ACCOUNT, account_key=KEY, **kwargs
            )
        assert time.monotonic() - started < 10
        assert "gone" not in registrations(workspace)

    def test_a_closed_port_fails_reads_within_seconds(
        self, workspace: Workspace
    ) -> None:
        port = free_port()
        store = Datastore.register_azure_blob_container(
            workspace,
            "gone",
            "box",
            ACCOUNT,
            account_key=KEY,
            endpoint=f"http://127.0.0.1:{port}/{ACCOUNT}",
            skip_validation=True,
        )
        started = time.monotonic()
        with pytest.raises(StorageError, match="datastore 'gone': cannot list 'a'"):
            store.location.resolve("a")
        assert time.monotonic() - started < 15


class TestDataLakeGen2:
    def test_account_key_on_the_blob_endpoint(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        store = Datastore.register_azure_data_lake_gen2(
            workspace,
            "lake",
            blob_container,
            ACCOUNT,
            protocol="http",
            endpoint=host(azurite),
            account_key=KEY,
            create_if_not_exists=True,
        )
        assert type(store) is AzureDataLakeGen2Datastore
        store.location.fs.pipe_file(f"{blob_container}/d/x.txt", b"lake")
        assert store.location.resolve("d") == [f"{blob_container}/d/x.txt"]

    def test_a_wrong_key_fails_at_registration(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        with pytest.raises(DatastoreAuthenticationError, match="datastore 'lake'"):
            Datastore.register_azure_data_lake_gen2(
                workspace,
                "lake",
                blob_container,
                ACCOUNT,
                endpoint=azurite.endpoint,
                account_key=WRONG_KEY,
            )

    def test_principal_and_key_together_are_refused(self, workspace: Workspace) -> None:
        with pytest.raises(
            DatastoreError,
            match="datastore 'lake': give either a service principal",
        ):
            Datastore.register_azure_data_lake_gen2(
                workspace,
                "lake",
                "fs",
                ACCOUNT,
                tenant_id="t",
                client_id="c",
                client_secret="s",
                account_key=KEY,
            )

    def test_principal_needs_tenant_and_client(self, workspace: Workspace) -> None:
        with pytest.raises(DatastoreError, match="needs tenant_id and client_id"):
            Datastore.register_azure_data_lake_gen2(
                workspace, "lake", "fs", ACCOUNT, client_secret="s"
            )


class TestOneLocationPerDatastore:
    def test_lookups_share_one_filesystem(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        Datastore.register_azure_blob_container(
            workspace,
            "blob",
            blob_container,
            ACCOUNT,
            account_key=KEY,
            endpoint=azurite.endpoint,
            create_if_not_exists=True,
        )
        first = Datastore.get(workspace, "blob").location
        assert Datastore.get(workspace, "BLOB").location is first
        assert workspace.datastores["blob"].location is first

    def test_re_registering_makes_a_new_one(
        self, workspace: Workspace, azurite: Azurite, blob_container: str
    ) -> None:
        register = Datastore.register_azure_blob_container
        register(
            workspace, "blob", blob_container, ACCOUNT, account_key=KEY,
            endpoint=azurite.endpoint, create_if_not_exists=True,
        )  # fmt: skip
        first = Datastore.get(workspace, "blob").location
        register(
            workspace, "blob", blob_container, ACCOUNT, account_key=KEY,
            endpoint=azurite.endpoint, overwrite=True,
        )  # fmt: skip
        assert Datastore.get(workspace, "blob").location is not first
