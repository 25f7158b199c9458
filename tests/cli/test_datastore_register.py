"""``dataferry datastore register-*`` (from the kind registry) and ``show``, on Azurite."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import click
import pytest
from servers.azurite import ACCOUNT, KEY, free_port

from dataferry.cli import app
from dataferry.data.datastore import Datastore
from dataferry.storage.kinds import KINDS

if TYPE_CHECKING:
    from click.testing import Result
    from servers.azurite import Azurite

    from dataferry import Workspace

    from .conftest import Invoke

WRONG_KEY = "RkFLRS1LRVktZGF0YWZlcnJ5LWNsaS0wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA="


def register_blob(
    run: Invoke, azurite: Azurite | None, container: str, *extra: str
) -> Result:
    endpoint = f"127.0.0.1:{azurite.port if azurite else free_port()}"
    return run(
        "datastore", "register-blob", "blob",
        "--container-name", container, "--account-name", ACCOUNT,
        "--protocol", "http", "--endpoint", endpoint,
        "--account-key-env", "DF_TEST_KEY", *extra,
    )  # fmt: skip


class TestRegistryDrivesTheCommands:
    def test_one_command_per_kind_with_the_registry_flags(self) -> None:
        group = app.get_command(click.Context(app), "datastore")
        assert isinstance(group, click.Group)
        for entry in KINDS.values():
            if not entry.cli_command:
                continue
            command = group.commands[entry.cli_command]
            flags = {p.opts[0] for p in command.params if p.opts[0].startswith("--")}
            assert flags == {f.flag for f in entry.cli_flags} | {
                "--overwrite",
                "--set-default",
            }
            # a secret is never a value on the command line
            assert not flags & {f"--{s.replace('_', '-')}" for s in entry.secret_fields}

    def test_the_sdk_classes_come_from_the_registry(self) -> None:
        for kind, cls in Datastore._kinds.items():
            assert cls.__name__ == KINDS[kind].sdk_class
            assert cls.datastore_type == KINDS[kind].datastore_type


@pytest.mark.server
class TestRegisterBlob:
    def test_registers_creates_and_shows(
        self,
        run: Invoke,
        azurite: Azurite,
        blob_container: str,
        monkeypatch: pytest.MonkeyPatch,
        workspace: Workspace,
    ) -> None:
        monkeypatch.setenv("DF_TEST_KEY", KEY)

        result = register_blob(run, azurite, blob_container, "--create-if-not-exists")

        assert result.exit_code == 0, result.output
        assert (
            f"Registered datastore 'blob' (AzureBlob) at az://{ACCOUNT}/{blob_container}"
            in result.stdout
        )
        store = Datastore.get(workspace, "blob")
        store.location.fs.pipe_file(f"{blob_container}/top/x.txt", b"x")
        shown = run("datastore", "show", "blob")
        assert shown.exit_code == 0, shown.output
        assert "Contents of blob:/ (1 of 1 entries):" in shown.stdout
        assert KEY not in shown.output + result.output

    def test_a_wrong_key_exits_2_and_registers_nothing(
        self,
        run: Invoke,
        azurite: Azurite,
        blob_container: str,
        monkeypatch: pytest.MonkeyPatch,
        workspace: Workspace,
    ) -> None:
        monkeypatch.setenv("DF_TEST_KEY", WRONG_KEY)

        result = register_blob(run, azurite, blob_container, "--create-if-not-exists")

        assert result.exit_code == 2
        assert result.stderr.startswith("Error: datastore 'blob': http://127.0.0.1:")
        assert "refused its credentials (HTTP 403" in result.stderr
        assert WRONG_KEY not in result.output
        assert "blob" not in {s.name for s in workspace.catalog.list_datastores()}

    def test_a_closed_port_exits_1_within_seconds(
        self, run: Invoke, blob_container: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DF_TEST_KEY", KEY)
        started = time.monotonic()

        result = register_blob(run, None, blob_container)

        assert result.exit_code == 1
        assert "no answer from http://127.0.0.1:" in result.stderr
        assert time.monotonic() - started < 10

    def test_show_of_an_unreachable_store_fails_within_seconds(
        self,
        run: Invoke,
        blob_container: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("DF_TEST_KEY", KEY)
        assert (
            register_blob(run, None, blob_container, "--skip-validation").exit_code == 0
        )
        started = time.monotonic()

        only = run("datastore", "show", "blob", "--no-contents")
        listed = run("datastore", "show", "blob")

        assert only.exit_code == 0, only.output
        assert blob_container in only.stdout
        assert listed.exit_code == 1
        assert "datastore 'blob': cannot list its root: no answer from" in listed.stderr
        assert time.monotonic() - started < 15

    def test_unset_key_variable_is_refused_at_registration(
        self,
        run: Invoke,
        azurite: Azurite,
        blob_container: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.delenv("DF_TEST_KEY", raising=False)

        result = register_blob(run, azurite, blob_container)

        assert result.exit_code == 3
        assert "environment variable DF_TEST_KEY is not set now" in result.stderr
        assert "reads its account_key from the environment variable DF_TEST_KEY" in (
            result.stderr
        )
