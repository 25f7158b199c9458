"""The page's data routes of ``dataferry serve``: registered datasets (list, versions,
schema, preview, profile, lineage) and a run's metrics with their images.

Every route reads through the read model (``dataferry.execution.views``) and is
wrapped by the application's token check (``guard``); bad input is a typed refusal
the application answers with a 4xx in the SDK's error shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import FileResponse, Response
from starlette.routing import Route

from dataferry.cli.serve_inputs import whole_number
from dataferry.errors import DatasetPreviewError
from dataferry.execution import views

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from dataferry.data.workspace import Workspace

    Handler = Callable[[Request, bytes], Response]
    Guard = Callable[[Handler], Callable[[Request], Awaitable[Response]]]
    Encode = Callable[[object], Response]

DATASET = "/api/datasets/{name}"


def data_routes(workspace: Workspace, guard: Guard, encode: Encode) -> list[Route]:
    """The dataset and metric routes; ``guard`` checks the caller, ``encode`` makes
    JSON. A dataset route takes ``?version=N`` (default: the latest)."""

    def version(request: Request) -> str:
        return request.query_params.get("version", "latest")

    def datasets(request: Request, body: bytes) -> Response:
        return encode(views.list_datasets(workspace))

    def versions(request: Request, body: bytes) -> Response:
        return encode(views.dataset_versions(workspace, request.path_params["name"]))

    def schema(request: Request, body: bytes) -> Response:
        name = request.path_params["name"]
        return encode(views.dataset_schema(workspace, name, version(request)))

    def preview(request: Request, body: bytes) -> Response:
        rows = whole_number(
            request.query_params.get("rows", "20"),
            "rows",
            DatasetPreviewError,
            minimum=1,
            maximum=views.MAX_PREVIEW_ROWS,
        )
        name = request.path_params["name"]
        return encode(views.dataset_preview(workspace, name, version(request), rows))

    def profile(request: Request, body: bytes) -> Response:
        name = request.path_params["name"]
        return encode(views.dataset_profile(workspace, name, version(request)))

    def lineage(request: Request, body: bytes) -> Response:
        name = request.path_params["name"]
        return encode(views.dataset_lineage(workspace, name, version(request)))

    def metrics(request: Request, body: bytes) -> Response:
        step = request.query_params.get("step")
        run_id = request.path_params["run_id"]
        return encode(views.run_metrics(workspace, run_id, step))

    def image(request: Request, body: bytes) -> Response:
        params = request.path_params
        path, media = views.metric_file(
            workspace, params["run_id"], params["owner"], params["name"]
        )
        # nosniff: the browser takes the type we checked, never guesses another
        headers = {"X-Content-Type-Options": "nosniff"}
        return FileResponse(path, media_type=media, headers=headers)

    return [
        Route("/api/datasets", guard(datasets)),
        Route(f"{DATASET}/versions", guard(versions)),
        Route(f"{DATASET}/schema", guard(schema)),
        Route(f"{DATASET}/preview", guard(preview)),
        Route(f"{DATASET}/profile", guard(profile)),
        Route(f"{DATASET}/lineage", guard(lineage)),
        Route("/api/runs/{run_id}/metrics", guard(metrics)),
        Route("/api/runs/{run_id}/files/{owner}/{name:path}", guard(image)),
    ]
