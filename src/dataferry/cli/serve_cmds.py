"""``dataferry serve``: the workspace's server (JSON API, REST submit of published
pipelines). Starlette and uvicorn are imported only when it starts."""

from __future__ import annotations

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to bind.",
)
@click.option(
    "--schedule-tick",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between checks for due schedules.",
)
def serve(host: str, port: int, schedule_tick: float) -> None:
    """Serve the workspace: runs and events as JSON, published pipelines' REST
    endpoints, and due schedules fired in the background. Off the default loopback address every request needs the bearer token
    printed at start (the one get_authentication_header() returns), or the cookie the
    page gets by signing in with it (/?token=... or its sign-in form)."""
    import socket

    from dataferry._extras import import_extra

    import_extra("starlette", "serve", "dataferry serve")
    uvicorn = import_extra("uvicorn", "serve", "dataferry serve")

    from dataferry.cli.serve_app import DEFAULT_HOSTS, build_app
    from dataferry.data.authentication import workspace_token
    from dataferry.errors import ServeError
    from dataferry.execution.serve_settings import record_server_url

    if not host.strip():  # '' would bind every address under an unusable URL
        raise ServeError("--host is empty; pass an address such as 127.0.0.1.")
    workspace = current_workspace()
    try:  # bound here so a taken port is a typed error, and port 0 gets one
        sock = socket.create_server((host, port))
    except OSError as exc:
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc}; pick another --port or --host."
        ) from exc
    bound = sock.getsockname()[1]
    url = f"http://{host}:{bound}"
    record_server_url(workspace, url)
    render.say(f"Serving workspace {workspace.name} on {url}")
    if host not in DEFAULT_HOSTS:
        token = workspace_token(workspace)
        render.say(f"Every request needs: Authorization: Bearer {token}")
        # the page signs in once from the address, then keeps an HttpOnly cookie
        render.say(f"In a browser, open {url}/?token={token}")
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(workspace, host=host, schedule_tick=schedule_tick),
            log_level="warning",
        )
    )
    server.run(sockets=[sock])
