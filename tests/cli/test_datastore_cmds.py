"""``dataferry datastore list | show | add``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from click.testing import Result

from dataferry import Datastore, Workspace

if TYPE_CHECKING:
    from pathlib import Path

Invoke = Callable[..., Result]


def _row(output: str, name: str) -> str:
    """The table line that starts with ``name``."""
    return next(line for line in output.splitlines() if f" {name} " in line)


class TestList:
    def test_builtins_with_the_default_marked(self, run: Invoke) -> None:
        result = run("datastore", "list")
        assert result.exit_code == 0, result.output
        assert "*" in _row(result.stdout, "workspaceblobstore")
        assert "*" not in _row(result.stdout, "workspacefilestore")
        assert "Local" in _row(result.stdout, "workspacefilestore")

    def test_shows_where_each_one_points(self, run: Invoke, tmp_path: Path) -> None:
        run("datastore", "add", "raw", "--local", str(tmp_path / "raw"))
        run("datastore", "add", "mem", "--url", "memory://list-test/x")
        result = run("datastore", "list")
        assert str(tmp_path / "raw") in _row(result.stdout, "raw")
        assert "memory://list-test/x" in _row(result.stdout, "mem")
        assert "Fsspec" in _row(result.stdout, "mem")


class TestShow:
    def test_registration_and_top_level_entries(
        self, run: Invoke, store_root: Path
    ) -> None:
        for rel in ("b.txt", "a.txt", "c.txt", "folder/inner.txt"):
            (store_root / rel).parent.mkdir(parents=True, exist_ok=True)
            (store_root / rel).write_text("12345")
        result = run("datastore", "show", "workspaceblobstore", "-n", "3")
        assert result.exit_code == 0, result.output
        assert f"path              {store_root}" in result.stdout
        assert "workspaceblobstore:/ (3 of 4 entries)" in result.stdout
        names = [
            line.split("│")[1].strip()
            for line in result.stdout.splitlines()
            if line.startswith("│")
        ]
        assert names == ["folder", "a.txt", "b.txt"]  # folders first, then by name
        assert "inner.txt" not in result.stdout
        assert "5" in _row(result.stdout, "a.txt")

    def test_empty_datastore(self, run: Invoke) -> None:
        result = run("datastore", "show", "workspacefilestore")
        assert result.exit_code == 0, result.output
        assert "workspacefilestore:/ is empty." in result.stdout

    def test_unknown_datastore_exits_3(self, run: Invoke) -> None:
        result = run("datastore", "show", "workspaceblobstor")
        assert result.exit_code == 3
        assert result.stderr.startswith("Error: no datastore named 'workspaceblobstor'")
        assert "Did you mean 'workspaceblobstore'?" in result.stderr

    def test_never_shows_a_secret(self, run: Invoke, workspace: Workspace) -> None:
        Datastore.register_azure_blob_container(
            workspace,
            "blob",
            "box",
            "acct",
            account_key="SUPERSECRETKEY==",
            skip_validation=True,
        )
        result = run("datastore", "show", "blob", "--no-contents")
        assert result.exit_code == 0, result.output
        assert "SUPERSECRETKEY==" not in result.output
        assert "account_key" in _row(result.stdout, "secrets")
        assert "az://acct/box" in run("datastore", "list").stdout


class TestAddLocal:
    def test_registers_a_folder(
        self, run: Invoke, workspace: Workspace, tmp_path: Path
    ) -> None:
        result = run("datastore", "add", "Raw_Data", "--local", str(tmp_path / "raw"))
        assert result.exit_code == 0, result.output
        assert (
            f"Registered datastore 'raw_data' (Local) at {tmp_path / 'raw'}"
            in result.stdout
        )
        assert (tmp_path / "raw").is_dir()
        assert Datastore.get(workspace, "raw_data")._describe()["path"] == str(
            tmp_path / "raw"
        )

    def test_set_default(
        self, run: Invoke, workspace: Workspace, tmp_path: Path
    ) -> None:
        result = run(
            "datastore", "add", "raw", "--local", str(tmp_path), "--set-default"
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.rstrip().endswith("(default)")
        assert workspace.get_default_datastore().name == "raw"
        assert "*" in _row(run("datastore", "list").stdout, "raw")

    def test_existing_name_needs_overwrite(self, run: Invoke, tmp_path: Path) -> None:
        run("datastore", "add", "raw", "--local", str(tmp_path / "a"))
        again = run("datastore", "add", "raw", "--local", str(tmp_path / "b"))
        assert again.exit_code == 2
        assert "Error: a datastore named 'raw' is already registered" in again.stderr
        replaced = run(
            "datastore", "add", "raw", "--local", str(tmp_path / "b"), "--overwrite"
        )
        assert replaced.exit_code == 0, replaced.output
        assert str(tmp_path / "b") in _row(run("datastore", "list").stdout, "raw")

    def test_bad_name_exits_2(self, run: Invoke, tmp_path: Path) -> None:
        result = run("datastore", "add", "raw-data", "--local", str(tmp_path))
        assert result.exit_code == 2
        assert result.stderr.startswith("Error: invalid datastore name 'raw-data'")


class TestAddUrl:
    def test_options_and_secret_env(self, run: Invoke, workspace: Workspace) -> None:
        result = run(
            "datastore",
            "add",
            "mem",
            "--url",
            "memory://add-test/root",
            "--option",
            "anon=true",
            "--option",
            "label=x=y",
            "--secret-env",
            "token=MY_TOKEN",
        )
        assert result.exit_code == 0, result.output
        assert "Warning: environment variable MY_TOKEN is not set now" in result.stderr
        described = Datastore.get(workspace, "mem")._describe()
        assert described["storage_options"] == {"anon": True, "label": "x=y"}
        assert described["secrets_from_env"] == {"token": "MY_TOKEN"}

    def test_refuses_a_credential_as_a_value(self, run: Invoke) -> None:
        result = run(
            "datastore", "add", "s3", "--url", "memory://x", "--option", "secret=abc"
        )
        assert result.exit_code == 2
        assert "--option secret=... looks like a credential" in result.stderr
        assert "--secret-env secret=VAR" in result.stderr

    def test_malformed_option(self, run: Invoke) -> None:
        result = run("datastore", "add", "m", "--url", "memory://x", "--option", "anon")
        assert result.exit_code == 2
        assert "'anon' is not KEY=VALUE" in result.stderr

    def test_unknown_protocol_exits_2(self, run: Invoke) -> None:
        result = run("datastore", "add", "q", "--url", "nosuchproto://bucket")
        assert result.exit_code == 2
        assert (
            "Error: datastore 'q': fsspec cannot open 'nosuchproto' URLs"
            in result.stderr
        )


class TestAddAzureBlob:
    def test_registers_with_env_var_names(
        self, run: Invoke, workspace: Workspace
    ) -> None:
        result = run(
            "datastore",
            "add",
            "blob",
            "--azure-blob",
            "--account-name",
            "acct",
            "--container",
            "box",
            "--account-key-env",
            "AZ_KEY",
            "--skip-validation",
        )
        assert result.exit_code == 0, result.output
        assert (
            "Registered datastore 'blob' (AzureBlob) at az://acct/box" in result.stdout
        )
        described = Datastore.get(workspace, "blob")._describe()
        assert described["secrets_from_env"] == {"account_key": "AZ_KEY"}
        assert described["secrets"] == []

    def test_emulator_endpoint_is_shown_as_url(self, run: Invoke) -> None:
        run(
            "datastore",
            "add",
            "blob",
            "--azure-blob",
            "--account-name",
            "devstoreaccount1",
            "--container",
            "box",
            "--endpoint",
            "http://127.0.0.1:10000/devstoreaccount1",
            "--skip-validation",
        )
        listed = run("datastore", "list").stdout
        assert "http://127.0.0.1:10000/devstoreaccount1/box" in _row(listed, "blob")

    def test_failed_validation_registers_nothing(self, run: Invoke) -> None:
        result = run(
            "datastore",
            "add",
            "blob",
            "--azure-blob",
            "--account-name",
            "acct",
            "--container",
            "box",
            "--sas-token-env",
            "DATAFERRY_TEST_UNSET_VAR",
        )
        assert result.exit_code == 3
        assert (
            "environment variable DATAFERRY_TEST_UNSET_VAR, which is not set"
            in result.stderr
        )
        assert " blob " not in run("datastore", "list").stdout

    def test_needs_account_and_container(self, run: Invoke) -> None:
        result = run(
            "datastore", "add", "blob", "--azure-blob", "--account-name", "acct"
        )
        assert result.exit_code == 2
        assert "--azure-blob needs --account-name and --container" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --local PATH, --url URL or --azure-blob"),
        (["--local", ".", "--url", "memory://x"], "give exactly one of"),
        (
            ["--local", ".", "--container", "c"],
            "--container applies to --azure-blob only",
        ),
        (["--local", ".", "--option", "a=1"], "--option applies to --url only"),
        (
            ["--url", "memory://x", "--account-key-env", "K"],
            "--account-key-env applies to --azure-blob",
        ),
        (["--azure-blob", "--secret-env", "a=B"], "--secret-env applies to --url only"),
    ],
    ids=[
        "no-kind",
        "two-kinds",
        "azure-option-on-local",
        "url-option-on-local",
        "azure-option-on-url",
        "url-option-on-azure",
    ],
)
def test_add_usage_errors(run: Invoke, args: list[str], message: str) -> None:
    result = run("datastore", "add", "name", *args)
    assert result.exit_code == 2
    assert message in result.stderr
