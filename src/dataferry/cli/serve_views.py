"""The page's run views beyond the graph: a run's timeline, two runs compared (with
their graph diff), and the id the live feed is at (a page reads the current state,
then follows the events after that id). Every route reads through the read model and is wrapped by the
application's token check (``guard``)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from starlette.routing import Route

from dataferry.errors import ServeRequestError
from dataferry.execution import views

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.responses import Response

    from dataferry.data.workspace import Workspace

    Handler = Callable[[Request, bytes], Response]
    Guard = Callable[[Handler], Callable[[Request], Awaitable[Response]]]
    Encode = Callable[[object], Response]


def view_routes(workspace: Workspace, guard: Guard, encode: Encode) -> list[Route]:
    """``/api/runs/{id}/timeline``, ``/api/compare?left=A&right=B`` (the
    comparison and, under ``graph``, the two graphs merged with each node marked) and
    ``/api/events/newest``; ``guard`` checks the caller, ``encode`` makes JSON."""

    def timeline(request: Request, body: bytes) -> Response:
        return encode(views.run_timeline(workspace, request.path_params["run_id"]))

    def compare(request: Request, body: bytes) -> Response:
        left, right = (request.query_params.get(k, "") for k in ("left", "right"))
        if not left or not right:
            raise ServeRequestError(
                "compare needs two runs: /api/compare?left=<run id>&right=<run id>"
            )
        comparison = views.compare_runs(workspace, left, right)
        graph = views.graph_diff(workspace, comparison)
        return encode({**dataclasses.asdict(comparison), "graph": graph})

    def newest(request: Request, body: bytes) -> Response:
        return encode({"id": views.newest_event_id(workspace)})

    return [
        Route("/api/runs/{run_id}/timeline", guard(timeline)),
        Route("/api/compare", guard(compare)),
        Route("/api/events/newest", guard(newest)),
    ]
