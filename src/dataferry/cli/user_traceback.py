"""How ``dataferry run`` shows an error raised by the user's pipeline file: the
traceback from the file's first frame on, without the CLI's and runpy's frames above
it, so the first line shown is the user's own code."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType


def from_user_file(exc: BaseException, script: Path) -> TracebackType | None:
    """The part of ``exc``'s traceback that starts in ``script``; None if no frame
    of it is in ``script`` (the error is dataferry's own, not the file's)."""
    target = str(script.resolve())
    tb = exc.__traceback__
    while tb is not None:
        if str(Path(tb.tb_frame.f_code.co_filename).resolve()) == target:
            return tb
        tb = tb.tb_next
    return None


def raised_by_file(exc: BaseException, script: Path) -> bool:
    """True if ``exc`` came from running ``script``: a frame of it raised (directly
    or through what it called), or it does not compile."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return Path(exc.filename).resolve() == script.resolve()
    return from_user_file(exc, script) is not None


def format_user_error(exc: BaseException, script: Path) -> str:
    """The traceback as Python prints it, from the file's first frame on (a file that
    does not compile: only the error, pointing at the line)."""
    if isinstance(exc, SyntaxError):
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        tb = from_user_file(exc, script)
        lines = traceback.format_exception(type(exc), exc, tb)
    return "".join(lines).rstrip("\n")
