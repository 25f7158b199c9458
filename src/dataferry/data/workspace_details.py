"""What ``ws.get_details()``, ``ws.experiments`` and ``ws.environments`` answer.

``experiments`` and ``environments`` hand out objects of the layers above (an
``Experiment`` of the execution layer, an ``Environment`` of the pipeline layer), as
the SDK's Workspace does; the imports are made here, on use, and are the only ones
pyproject's layer contract lets this layer make upwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

# when the config names none: the same on every machine, so scripts and IDs are stable;
# uuid5(NAMESPACE_URL, "dataferry://local"), written out: ``uuid`` costs ms to import
LOCAL_SUBSCRIPTION_ID = "328a6469-8f7b-54ad-93bf-eeb91ba9a336"
LOCAL_RESOURCE_GROUP = "dataferry-local"
LOCAL_LOCATION = "local"


def arm_id(ws: Workspace) -> str:
    """The workspace's Azure Resource Manager-style id."""
    return (
        f"/subscriptions/{ws.subscription_id}/resourceGroups/{ws.resource_group}"
        f"/providers/Microsoft.MachineLearningServices/workspaces/{ws.name}"
    )


def workspace_details(ws: Workspace) -> dict[str, Any]:
    """``ws.get_details()``: the SDK's keys; Azure resources a local workspace does
    not have (key vault, registry, insights) are None."""
    return {
        "id": arm_id(ws),
        "name": ws.name,
        "identity": {"type": "None"},
        "location": ws.location,
        "type": "Microsoft.MachineLearningServices/workspaces",
        "tags": dict(ws.tags),
        "sku": ws.sku,
        "workspaceid": workspace_id(ws),
        "sdkTelemetryAppInsightsKey": None,
        "description": "",
        "friendlyName": ws.name,
        "creationTime": ws.created_at,
        "keyVault": None,
        "applicationInsights": None,
        "identityPrincipalId": None,
        "identityTenantId": None,
        "identityType": "None",
        "storageAccount": str(ws.path / "datastores"),
        "containerRegistry": None,
        "hbiWorkspace": False,
        "imageBuildCompute": None,
        "allowPublicAccessWhenBehindVnet": False,
        "discoveryUrl": None,
        "notebookInfo": None,
        "subscriptionId": ws.subscription_id,
        "resourceGroup": ws.resource_group,
        "workspaceDir": str(ws.path),
    }


def workspace_id(ws: Workspace) -> str:
    """A UUID of the workspace: the same for the same name and folder."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dataferry://{ws.name}/{ws.path}"))


def experiments(ws: Workspace) -> dict[str, Any]:
    """Every experiment that has runs, by name (``Experiment`` objects)."""
    from dataferry.execution.experiment import Experiment

    return {name: Experiment(ws, name) for name in ws.catalog.experiment_names()}


def environments(ws: Workspace) -> dict[str, Any]:
    """Every registered environment, by name; ``{}`` while none can be registered.

    Registration (``Environment.register`` / ``Environment.list``) is part of the
    environments work of issue 9; until ``Environment.list`` exists there is no
    registry to read, so this is ``{}``.
    """
    from dataferry.pipeline import runconfig

    lister = getattr(runconfig.Environment, "list", None)
    return dict(lister(ws)) if callable(lister) else {}
