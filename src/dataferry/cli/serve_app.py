"""The ``dataferry serve`` application: a JSON API over the read model, and the REST
submit of published pipelines. Imported only by ``dataferry serve`` (Starlette).

Who may call: a request carries ``Authorization: Bearer <workspace token>`` (what
``get_authentication_header()`` returns) or the page's sign-in cookie (``serve_auth``);
a wrong one of either is a 401. On the default loopback address
(127.0.0.1, ::1, localhost) reading needs no token; submitting always does. On any
other address, 127.0.0.2 included, every route needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dataferry.cli.serve_auth import auth_routes, credentials
from dataferry.cli.serve_data import data_routes
from dataferry.cli.serve_inputs import json_object, read_body, whole_number
from dataferry.cli.serve_pages import index_page, page_routes
from dataferry.cli.serve_views import view_routes
from dataferry.errors import (
    DataferryError,
    DatasetNotFoundError,
    EventCursorError,
    PublishedPipelineNotFoundError,
    RequestMediaTypeError,
    RequestTooLargeError,
    RunFileNotFoundError,
    RunNotFoundError,
    ServeRequestError,
)
from dataferry.execution import views
from dataferry.execution.pipeline_endpoint import submittable_version
from dataferry.execution.published import check_submittable, submit_published
from dataferry.execution.published_params import rest_overrides, rest_tags
from dataferry.execution.serve_settings import ENDPOINT_SUBMIT_PATH, SUBMIT_PATH

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from starlette.requests import Request

    from dataferry.data.workspace import Workspace

    Handler = Callable[[Request, bytes], Response]
    Endpoint = Callable[[Request], Awaitable[Response]]

DEFAULT_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_LIST = 10_000  # runs one /api/runs answer lists at most


def _json(value: Any, status: int = 200) -> Response:
    def plain(o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if isinstance(o, datetime):
            return o.isoformat()
        return str(o)

    body = json.dumps(value, default=plain)
    return Response(body, status_code=status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    """The error body the Azure ML REST API answers with."""
    return JSONResponse({"error": {"code": code, "message": message}}, status)


def build_app(
    workspace: Workspace, *, host: str, schedule_tick: float = 10.0
) -> Starlette:
    """The application serving ``workspace``; ``host`` decides who needs a token.
    Every ``schedule_tick`` seconds it fires the workspace's due schedules."""
    open_reads = host in DEFAULT_HOSTS

    def guarded(handler: Handler, *, is_read: bool) -> Endpoint:
        async def checked(request: Request) -> Response:
            known = credentials(workspace, request)
            if known is False or (known is None and not (is_read and open_reads)):
                return _error(
                    401,
                    "Unauthorized",
                    "missing or wrong bearer token: send the header "
                    "auth.get_authentication_header() returns, or sign in on the "
                    "page (its cookie)",
                )
            try:
                body = await read_body(request)
                # the catalog and the submit block: off the event loop
                return await run_in_threadpool(handler, request, body)
            except DataferryError as exc:
                return _refusal(exc, is_read=is_read)

        return checked

    def health(request: Request, body: bytes) -> Response:
        return _json({"status": "ok"})

    def runs(request: Request, body: bytes) -> Response:
        limit = whole_number(
            request.query_params.get("limit", "50"),
            "limit",
            ServeRequestError,
            minimum=1,
            maximum=MAX_LIST,
        )
        query = request.query_params
        return _json(
            views.search_runs(
                workspace,
                experiment=query.get("experiment"),
                status=query.get("status"),
                text=query.get("q"),
                limit=limit,
            )
        )

    def run(request: Request, body: bytes) -> Response:
        return _json(views.run_detail(workspace, request.path_params["run_id"]))

    def events(request: Request, body: bytes) -> Response:
        after = whole_number(
            request.query_params.get("after", "0"), "after", EventCursorError
        )
        run_id = request.query_params.get("run")
        if run_id:
            return _json(views.events_since(workspace, run_id, after))
        return _json(views.all_events_since(workspace, after))

    def submit(request: Request, body: bytes) -> Response:
        return _submit(workspace, request, body)

    def submit_to_endpoint(request: Request, body: bytes) -> Response:
        return _submit(workspace, request, body, to_endpoint=True)

    routes = [
        *auth_routes(workspace, open_reads=open_reads, page=index_page),
        Route("/api/health", guarded(health, is_read=True)),
        Route("/api/runs", guarded(runs, is_read=True)),
        Route("/api/runs/{run_id}", guarded(run, is_read=True)),
        Route("/api/events", guarded(events, is_read=True)),
        Route(
            f"{SUBMIT_PATH}/{{pipeline_id}}",
            guarded(submit, is_read=False),
            methods=["POST"],
        ),
        Route(
            f"{ENDPOINT_SUBMIT_PATH}/{{endpoint_id}}",
            guarded(submit_to_endpoint, is_read=False),
            methods=["POST"],
        ),
    ]
    routes += page_routes(workspace, lambda h: guarded(h, is_read=True), _json)
    routes += data_routes(workspace, lambda h: guarded(h, is_read=True), _json)
    routes += view_routes(workspace, lambda h: guarded(h, is_read=True), _json)
    return Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
        lifespan=_schedules(workspace, schedule_tick),
    )


def _schedules(workspace: Workspace, tick: float) -> Any:
    """A lifespan running due schedules in the background while the server is up."""
    from dataferry.execution.schedule_runner import fire_due

    async def loop() -> None:
        while True:
            try:
                now = datetime.now(UTC).replace(tzinfo=None)
                await run_in_threadpool(fire_due, workspace, now)
            except DataferryError as exc:  # e.g. the catalog briefly unreachable
                logging.getLogger(__name__).warning("schedules: %s", exc)
            await asyncio.sleep(tick)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


def _refusal(exc: DataferryError, *, is_read: bool) -> Response:
    """A typed refusal as the SDK's error body, its status by its class.

    A run or published pipeline that is not found is what the URL names: 404. A
    dataset or run file is what a read route's URL names (404) but, in a submit's
    body, a bad value of the request (400, as the SDK answers).
    """
    if isinstance(exc, (RunNotFoundError, PublishedPipelineNotFoundError)) or (
        is_read and isinstance(exc, (DatasetNotFoundError, RunFileNotFoundError))
    ):
        return _error(404, "NotFound", str(exc))
    if isinstance(exc, RequestTooLargeError):
        return _error(413, "RequestTooLarge", str(exc))
    if isinstance(exc, RequestMediaTypeError):
        return _error(415, "UnsupportedMediaType", str(exc))
    return _error(400, "UserError", str(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    # Starlette's own 404/405 (no such route, wrong method) in the SDK's shape
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    return _error(
        status,
        {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "UserError"),
        f"{request.method} {request.url.path}: {exc.detail if isinstance(exc, HTTPException) else exc}",
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # a fault of ours: the server log keeps the traceback, the caller gets no
    # internals (paths, SQL, secrets) in the body
    return _error(
        500,
        "InternalServerError",
        f"dataferry serve failed on {request.method} {request.url.path} "
        f"({type(exc).__name__}); see the server's log.",
    )


def _submit(
    workspace: Workspace, request: Request, raw: bytes, *, to_endpoint: bool = False
) -> Response:
    """POST body as the SDK sends it -> ``{"Id": <run id>}``. To an endpoint, the
    body's ``PipelineVersion`` picks the version (the default if absent)."""
    body = json_object(raw, request.headers.get("content-type", ""))
    experiment = _experiment_name(body)
    version = body.get("PipelineVersion")
    # bool is an int to isinstance: True would be read as the version 'True'
    if version is not None and (
        isinstance(version, bool) or not isinstance(version, str | int)
    ):
        raise ServeRequestError('PipelineVersion must be a string like "1"')
    pipeline_id = (
        submittable_version(
            workspace,
            request.path_params["endpoint_id"],
            None if version is None else str(version),
        )
        if to_endpoint
        else request.path_params["pipeline_id"]
    )
    # the pipeline first: a missing or disabled one is named before its parameters
    record = check_submittable(workspace, pipeline_id)
    run = submit_published(
        workspace,
        pipeline_id,
        experiment,
        rest_overrides(workspace, body, record.parameters),
        continue_on_step_failure=body.get("ContinueRunOnStepFailure"),
        tags=rest_tags(body),
        description=body.get("Description"),
        quiet=True,
    )
    return _json({"Id": run.id})


def _experiment_name(body: dict[str, Any]) -> str:
    name = body.get("ExperimentName")
    if name is None:
        raise ServeRequestError(
            "the body has no ExperimentName; send "
            '{"ExperimentName": "my-exp", "ParameterAssignments": {...}} '
            "(keys are case-sensitive)."
        )
    if not isinstance(name, str):
        raise ServeRequestError(
            f"ExperimentName must be a string, not {type(name).__name__}"
        )
    return name
