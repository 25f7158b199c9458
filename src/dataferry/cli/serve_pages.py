"""The web page of ``dataferry serve``: its static files, the JSON a page needs
beyond the run API (a run's graph, a step's log by byte range, its search and its
download), and
the live feed over Server-Sent Events (``/api/stream``), pushed by LISTEN/NOTIFY on
PostgreSQL and polled on SQLite.

Every route reads through the read model and is wrapped by the application's
token check (``guard``). The page itself is plain ES modules and SVG in
``cli/web`` (no build step).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from dataferry.cli.serve_inputs import MAX_ID, whole_number
from dataferry.errors import EventCursorError, LogOffsetError, LogSearchError
from dataferry.execution import views

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from starlette.requests import Request

    from dataferry.catalog.event_watch import EventWatcher
    from dataferry.data.workspace import Workspace

    Handler = Callable[[Request, bytes], Response]
    Guard = Callable[[Handler], Callable[[Request], Awaitable[Response]]]
    Encode = Callable[[object], Response]

WEB_DIR = Path(__file__).with_name("web")
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
POLL_S = 0.25  # on SQLite, how often the feed reads the events table
PUSH_WAIT_S = 1.0  # on PostgreSQL, how long a wait lasts before the disconnect check
HEARTBEAT_S = 15.0  # a comment line so that proxies keep an idle stream open


def page_routes(workspace: Workspace, guard: Guard, encode: Encode) -> list[Route]:
    """The page's routes; ``guard`` checks the caller, ``encode`` makes JSON."""

    def graph(request: Request, body: bytes) -> Response:
        return encode(views.run_graph(workspace, request.path_params["run_id"]))

    def log(request: Request, body: bytes) -> Response:
        query = request.query_params
        return encode(
            views.read_log_range(
                workspace,
                request.path_params["run_id"],
                request.path_params["step"],
                stream=query.get("stream", "stdout"),
                # the read model says which offsets and lengths fit a log
                offset=whole_number(
                    query.get("offset", "0"), "offset", LogOffsetError, minimum=-MAX_ID
                ),
                length=whole_number(
                    query.get("length", "65536"),
                    "length",
                    LogOffsetError,
                    minimum=-MAX_ID,
                ),
            )
        )

    def search(request: Request, body: bytes) -> Response:
        query = request.query_params
        after = whole_number(query.get("after", "0"), "after", LogOffsetError)
        limit = whole_number(
            query.get("limit", "100"), "limit", LogSearchError, minimum=-MAX_ID
        )
        params = request.path_params
        return encode(
            views.search_log(
                workspace,
                params["run_id"],
                params["step"],
                query.get("q", ""),
                stream=query.get("stream", "stdout"),
                after=after,
                limit=limit,
            )
        )

    def download(request: Request, body: bytes) -> Response:
        run_id, step = request.path_params["run_id"], request.path_params["step"]
        stream = request.query_params.get("stream", "stdout")
        path, _ = views.step_log_file(workspace, run_id, step, stream)
        name = f"{run_id}_{step}_{stream}.txt"
        if path is None or not path.exists():
            return Response(b"", media_type="text/plain", headers=_attachment(name))
        return FileResponse(path, media_type="text/plain", filename=name)

    def stream(request: Request, body: bytes) -> Response:
        cursor = request.headers.get("last-event-id") or request.query_params.get(
            "after", "0"
        )
        after = whole_number(cursor, "Last-Event-ID", EventCursorError)
        run_id = request.query_params.get("run") or None
        if run_id is not None:
            # an unknown run is a 404 now, not a stream that stays silent forever
            views.events_since(workspace, run_id, after, limit=1)
        events = _feed(workspace, request, after, run_id)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def asset(request: Request, body: bytes) -> Response:
        return _static(request.path_params["name"])

    return [
        Route("/ui/{name}", guard(asset)),
        Route("/api/stream", guard(stream)),
        Route("/api/runs/{run_id}/graph", guard(graph)),
        Route("/api/runs/{run_id}/steps/{step}/log", guard(log)),
        Route("/api/runs/{run_id}/steps/{step}/log/download", guard(download)),
        Route("/api/runs/{run_id}/steps/{step}/log/search", guard(search)),
    ]


async def _feed(
    workspace: Workspace, request: Request, after: int, run_id: str | None
) -> AsyncIterator[str]:
    """SSE messages, one per event above ``after`` (of ``run_id`` if given), oldest
    first, each with its id: a reconnecting EventSource sends the last one back as
    ``Last-Event-ID`` and misses nothing.

    On PostgreSQL the feed waits on LISTEN/NOTIFY (the watcher listens before the
    first read, so nothing committed in between is missed); on SQLite it polls every
    ``POLL_S``."""
    yield "retry: 1000\n\n"
    watcher = await run_in_threadpool(views.watch_all_events, workspace)
    try:
        idle = 0.0
        while not await request.is_disconnected():
            batch = await run_in_threadpool(
                views.all_events_since, workspace, after, limit=500
            )
            for event in batch:
                after = event.id
                if run_id is None or event.run_id == run_id:
                    yield _message(event)
            if batch:
                idle = 0.0
                continue
            idle += await _wait(watcher)
            if idle >= HEARTBEAT_S:
                idle = 0.0
                yield ": idle\n\n"
    finally:
        await run_in_threadpool(watcher.close)


async def _wait(watcher: EventWatcher) -> float:
    """Wait for news: pushed, up to ``PUSH_WAIT_S`` (then the disconnect is checked);
    else ``POLL_S``. Returns the seconds waited when nothing came (0 if woken)."""
    if not watcher.pushed:
        await asyncio.sleep(POLL_S)
        return POLL_S
    woken = await run_in_threadpool(watcher.wait, PUSH_WAIT_S)
    return 0.0 if woken else PUSH_WAIT_S


def _message(event: views.EventView) -> str:
    data = {
        "id": event.id,
        "run_id": event.run_id,
        "step_name": event.step_name,
        "kind": event.kind,
        "time": event.time.isoformat() if event.time else None,
        "payload": event.payload,
    }
    return f"id: {event.id}\ndata: {json.dumps(data, default=str)}\n\n"


def index_page() -> Response:
    """The page itself (``/``, answered after the caller's sign-in is checked)."""
    return _static("index.html")


def _static(name: str) -> Response:
    # only the page's own files: a name is never a path
    path = WEB_DIR / name
    if "/" in name or path.suffix not in TYPES or not path.is_file():
        # the application answers it in the SDK's error shape, as any 404
        raise HTTPException(404, f"no page file {name!r}")
    return FileResponse(path, media_type=TYPES[path.suffix])


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
