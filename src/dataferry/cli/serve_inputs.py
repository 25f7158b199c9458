"""Reading what a caller of ``dataferry serve`` sends: the body (bounded, JSON only)
and whole numbers in query strings and headers (bounded to what the catalog stores).

Each refusal is a typed :class:`~dataferry.errors.ServeRequestError` the application
answers with a 4xx in the SDK's error shape, before anything is read from or written
to the catalog.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dataferry.errors import (
    RequestMediaTypeError,
    RequestTooLargeError,
    ServeRequestError,
)

if TYPE_CHECKING:
    from starlette.requests import Request

    from dataferry.errors import DataferryError

MAX_BODY_BYTES = 1024 * 1024  # a submit body is a few assignments: 1 MiB is ample
MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL BIGINT store


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, read in chunks so that an oversized one is never held.

    Raises:
        RequestTooLargeError: the body (or its Content-Length) is over ``limit``.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(
        f"the request body is over {limit} bytes; send only the submit's fields "
        "(ExperimentName, ParameterAssignments, ...)."
    )


def json_object(raw: bytes, content_type: str) -> dict[str, Any]:
    """``raw`` read as a JSON object; an empty body is ``{}``.

    A missing Content-Type is read as JSON (clients that post a string set none).

    Raises:
        RequestMediaTypeError: a Content-Type is given and is not JSON.
        ServeRequestError: the body is not UTF-8 JSON, is nested too deeply, or is
            not an object.
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise RequestMediaTypeError(
            f"Content-Type {media!r} is not supported; send the body as "
            "application/json."
        )
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        # RecursionError: a body nested thousands deep; ValueError covers bad
        # UTF-8, bad syntax and integers longer than Python reads
        raise ServeRequestError(
            f"the request body is not JSON ({type(exc).__name__}); send a JSON "
            'object such as {"ExperimentName": "my-exp"}.'
        ) from None
    if not isinstance(body, dict):
        raise ServeRequestError(
            f"the request body is a JSON {type(body).__name__}, not an object; send "
            '{"ExperimentName": ..., "ParameterAssignments": {...}}.'
        )
    return body


def whole_number(
    text: str,
    name: str,
    error: type[DataferryError],
    *,
    minimum: int = 0,
    maximum: int = MAX_ID,
) -> int:
    """``text`` (a query value or header named ``name``) as an int within
    ``[minimum, maximum]``.

    Raises:
        error: ``text`` is not a whole number, or is out of range.
    """
    value = text.strip()
    digits = value[1:] if value[:1] in "+-" else value
    # isdecimal first: int() also reads '1_000' and would convert 4,300+ digits slowly
    if not digits.isascii() or not digits.isdecimal() or len(digits) > 19:
        # the example is in range: 'pass one such as 0' misleads where 0 is refused
        example = min(max(minimum, 0), maximum)
        raise error(
            f"{name}={text!r} is not a whole number; pass one such as {example}."
        )
    number = int(value)
    if not minimum <= number <= maximum:
        raise error(f"{name}={number} is out of range; pass {minimum} to {maximum}.")
    return number
