"""Who may call ``dataferry serve``: the bearer header, or the page's cookie.

A browser's EventSource cannot send a header, so the page takes the workspace token
once, from the login form (``POST /login``) or ``/?token=...`` on its first load, and
the server answers with an HttpOnly, SameSite=Strict cookie holding it (the token
then leaves the address bar: a redirect to ``/``). Every route accepts the bearer
header or that cookie; a wrong one of either is a 401, even where no token is needed.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from dataferry.cli.serve_inputs import read_body
from dataferry.data.authentication import is_workspace_token
from dataferry.errors import RequestTooLargeError

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from dataferry.data.workspace import Workspace

COOKIE = "dataferry_token"
_LOGIN_BODY = 4096  # a form with one token field


def credentials(workspace: Workspace, request: Request) -> bool | None:
    """True: the request carries the workspace token (header or cookie); False: it
    carries a wrong one; None: it carries none."""
    header = request.headers.get("authorization")
    cookie = request.cookies.get(COOKIE)
    if header is None and cookie is None:
        return None
    # both given: both must be right (a stale cookie is not hidden by a header)
    return all(
        is_workspace_token(workspace, value)
        for value in (header, None if cookie is None else f"Bearer {cookie}")
        if value is not None
    )


def signed_in(token: str) -> Response:
    """A redirect to the page that sets the cookie (after the token was checked)."""
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def login_form(message: str) -> Response:
    """The 401 a browser sees without a token: a form asking for it."""
    return HTMLResponse(
        "<!doctype html><title>dataferry: sign in</title>"
        f'<p id="login-message">{html.escape(message)}</p>'
        '<form method="post" action="/login">'
        '<input id="token" name="token" type="password" autocomplete="off">'
        '<button id="sign-in">Sign in</button></form>',
        status_code=401,
    )


def token_query(workspace: Workspace, request: Request) -> Response | None:
    """For ``/?token=...``: the sign-in redirect, or the form again if it is wrong;
    None when the address has no token."""
    token = request.query_params.get("token")
    if token is None:
        return None
    if is_workspace_token(workspace, f"Bearer {token}"):
        return signed_in(token)
    return login_form("wrong token: paste the one dataferry serve printed at start")


async def login(workspace: Workspace, request: Request) -> Response:
    """``POST /login`` with the form's ``token`` field: signed in, or a 401 form."""
    try:
        body = await read_body(request, _LOGIN_BODY)
    except RequestTooLargeError:
        return HTMLResponse(
            f"the sign-in form is over {_LOGIN_BODY} bytes: send only the token",
            status_code=413,
        )
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    token = (fields.get("token") or [""])[0].strip()
    if token and is_workspace_token(workspace, f"Bearer {token}"):
        return signed_in(token)
    return login_form("wrong token: paste the one dataferry serve printed at start")


def auth_routes(
    workspace: Workspace, *, open_reads: bool, page: Callable[[], Response]
) -> list[Route]:
    """``/`` (the page, or the login form it needs) and ``POST /login``.

    ``open_reads``: whether reading needs no token (the loopback default);
    ``page`` answers the page itself.
    """

    async def home(request: Request) -> Response:
        answer = token_query(workspace, request)
        if answer is not None:
            return answer
        known = credentials(workspace, request)
        if known is False or (known is None and not open_reads):
            return login_form(
                "this server needs its token: paste the one dataferry serve printed"
            )
        return page()

    async def sign_in(request: Request) -> Response:
        return await login(workspace, request)

    return [Route("/", home), Route("/login", sign_in, methods=["POST"])]
