"""Workspace details as the SDK gives them, and authentication without any login."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from dataferry import (
    AzureCliAuthentication,
    InteractiveLoginAuthentication,
    MsiAuthentication,
    ServicePrincipalAuthentication,
    TokenAuthentication,
    Workspace,
)
from dataferry.data.authentication import is_workspace_token
from dataferry.data.workspace_details import (
    LOCAL_LOCATION,
    LOCAL_RESOURCE_GROUP,
    LOCAL_SUBSCRIPTION_ID,
)
from dataferry.errors import WorkspaceNotFoundError

if TYPE_CHECKING:
    from pathlib import Path

SDK_DETAIL_KEYS = {
    "id", "name", "identity", "location", "type", "tags", "sku", "workspaceid",
    "sdkTelemetryAppInsightsKey", "description", "friendlyName", "creationTime",
    "keyVault", "applicationInsights", "identityPrincipalId", "identityTenantId",
    "identityType", "storageAccount", "containerRegistry", "hbiWorkspace",
    "imageBuildCompute", "allowPublicAccessWhenBehindVnet", "discoveryUrl",
    "notebookInfo",
}  # fmt: skip


class TestDetails:
    def test_local_subscription_id_is_the_documented_uuid5(self) -> None:
        import uuid

        expected = uuid.uuid5(uuid.NAMESPACE_URL, "dataferry://local")
        assert str(expected) == LOCAL_SUBSCRIPTION_ID

    def test_local_values_are_strings(self, workspace: Workspace) -> None:
        assert workspace.subscription_id == LOCAL_SUBSCRIPTION_ID
        assert workspace.resource_group == LOCAL_RESOURCE_GROUP == "dataferry-local"
        assert workspace.location == LOCAL_LOCATION == "local"

    def test_stable_across_opens(self, workspace: Workspace) -> None:
        again = Workspace.from_config(workspace.path.parent)

        assert (again.subscription_id, again.resource_group, again.location) == (
            workspace.subscription_id,
            workspace.resource_group,
            workspace.location,
        )
        assert (
            again.get_details()["workspaceid"] == workspace.get_details()["workspaceid"]
        )

    def test_values_from_an_azure_config(self, tmp_path: Path) -> None:
        (tmp_path / ".azureml").mkdir()
        (tmp_path / ".azureml" / "config.json").write_text(
            json.dumps(
                {
                    "subscription_id": "sub-1",
                    "resource_group": "rg-1",
                    "workspace_name": "aml-ws",
                    "location": "westeurope",
                }
            )
        )

        ws = Workspace.from_config(tmp_path)

        assert (ws.subscription_id, ws.resource_group, ws.location) == (
            "sub-1",
            "rg-1",
            "westeurope",
        )
        assert ws.get_details()["id"] == (
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/"
            "Microsoft.MachineLearningServices/workspaces/aml-ws"
        )

    def test_create_keeps_what_it_is_given(self, tmp_path: Path) -> None:
        ws = Workspace.create(
            "given",
            tmp_path,
            subscription_id="s",
            resource_group="g",
            location="eastus",
            show_output=False,
        )

        again = Workspace.from_config(tmp_path)
        assert (again.subscription_id, again.resource_group, again.location) == (
            "s",
            "g",
            "eastus",
        )
        ws.close()

    def test_get_details_has_the_sdk_keys(self, workspace: Workspace) -> None:
        details = workspace.get_details()

        assert set(details) >= SDK_DETAIL_KEYS
        assert details["name"] == "test-ws"
        assert details["location"] == "local"
        assert details["type"] == "Microsoft.MachineLearningServices/workspaces"
        assert details["creationTime"] == workspace.created_at
        assert details["creationTime"].startswith("20")

    def test_experiments_and_environments_start_empty(
        self, workspace: Workspace
    ) -> None:
        assert workspace.experiments == {}
        assert workspace.environments == {}
        assert workspace.compute_targets == {}


class TestFinding:
    def test_get_by_name(self, workspace: Workspace) -> None:
        ws = Workspace.get("test-ws", subscription_id="s", resource_group="g")

        assert ws.path == workspace.path
        assert (ws.subscription_id, ws.resource_group) == ("s", "g")

    def test_constructor_with_the_sdk_arguments(self, workspace: Workspace) -> None:
        auth = InteractiveLoginAuthentication()

        ws = Workspace("sub", "rg", "test-ws", auth=auth)

        assert (ws.name, ws.subscription_id, ws.resource_group) == (
            "test-ws",
            "sub",
            "rg",
        )
        assert ws.path == workspace.path

    def test_unknown_name(self, workspace: Workspace) -> None:
        with pytest.raises(
            WorkspaceNotFoundError, match="no workspace named 'other' is known"
        ):
            Workspace.get("other")

    def test_write_config_then_from_config(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        elsewhere = tmp_path / "notebooks"
        elsewhere.mkdir()

        workspace.write_config(path=elsewhere)
        ws = Workspace.from_config(elsewhere)

        assert (elsewhere / ".azureml" / "config.json").is_file()
        assert ws.path == workspace.path
        assert ws.location == workspace.location


class TestAuthentication:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: InteractiveLoginAuthentication(force=True, tenant_id="t"),
            lambda: ServicePrincipalAuthentication("t", "app-id", "password"),
            lambda: AzureCliAuthentication(),
            lambda: MsiAuthentication(client_id="c"),
            lambda: TokenAuthentication(lambda audience: "x"),
        ],
        ids=["interactive", "service-principal", "cli", "msi", "token"],
    )
    def test_header_without_login(self, workspace: Workspace, make: object) -> None:
        auth = make()  # type: ignore[operator]
        Workspace.from_config(workspace.path.parent, auth=auth)

        header = auth.get_authentication_header()

        assert list(header) == ["Authorization"]
        assert header["Authorization"].startswith("Bearer ")
        assert is_workspace_token(workspace, header["Authorization"])
        assert auth.get_token("scope").token == header["Authorization"][7:]

    def test_token_is_stable_and_owner_only(self, workspace: Workspace) -> None:
        first = InteractiveLoginAuthentication()
        Workspace.from_config(workspace.path.parent, auth=first)
        second = AzureCliAuthentication()
        Workspace.from_config(workspace.path.parent, auth=second)

        assert first.get_authentication_header() == second.get_authentication_header()
        mode = stat.S_IMODE((workspace.path / "auth_token").stat().st_mode)
        assert mode == 0o600

    def test_token_is_the_same_in_another_process(self, workspace: Workspace) -> None:
        header = InteractiveLoginAuthentication()
        Workspace.from_config(workspace.path.parent, auth=header)
        code = (
            "from dataferry import Workspace, MsiAuthentication\n"
            "a = MsiAuthentication()\n"
            f"Workspace.from_config({str(workspace.path.parent)!r}, auth=a)\n"
            "print(a.get_authentication_header()['Authorization'])\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()

        assert out == header.get_authentication_header()["Authorization"]

    def test_other_tokens_are_refused(self, workspace: Workspace) -> None:
        assert not is_workspace_token(workspace, "Bearer nope")
        assert not is_workspace_token(workspace, "Basic abc")

    def test_unbound_auth_finds_the_workspace_from_the_folder(
        self, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(workspace.path.parent)

        header = ServicePrincipalAuthentication(
            "t", "i", "p"
        ).get_authentication_header()

        assert is_workspace_token(workspace, header["Authorization"])

    def test_unbound_auth_without_a_workspace(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)

        with pytest.raises(
            WorkspaceNotFoundError,
            match=r"InteractiveLoginAuthentication.get_authentication_header\(\): no "
            "workspace was opened with this authentication",
        ):
            InteractiveLoginAuthentication().get_authentication_header()
