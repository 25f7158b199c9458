"""Where the workspace's ``dataferry serve`` listens: the base of REST endpoints.

``dataferry serve`` records its URL in the workspace setting ``serve.url`` when it
starts; until one has, endpoints use ``http://127.0.0.1:8765`` (serve's default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

SETTING = "serve.url"
DEFAULT_PORT = 8765
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
SUBMIT_PATH = "/pipelines/v1.0/PipelineRuns/PipelineSubmit"
ENDPOINT_SUBMIT_PATH = "/pipelines/v1.0/PipelineRuns/PipelineEndpointSubmit/Id"


def server_url(workspace: Workspace) -> str:
    """The URL the workspace's server was last started on, or the default."""
    return str(workspace.catalog.get_setting(SETTING, DEFAULT_URL))


def record_server_url(workspace: Workspace, url: str) -> None:
    """Remember ``url`` as where the workspace's server listens."""
    workspace.catalog.set_setting(SETTING, url)
