"""Database errors become typed ``CatalogError``s here, and only here.

Every public operation of the catalog's stores runs through ``guarded``: a database
error that is transient (a serialization failure or deadlock on PostgreSQL, SQLite's
busy lock outlasting its timeout, a lost connection) ends the transaction, which
rolled back whole, so the operation is simply run again, with backoff (tenacity). What
is still failing after the retries, and every other database error, is raised as a
``CatalogError`` subclass that names the operation and the catalog.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from dataferry.errors import CatalogBusyError, CatalogError, CatalogUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, lock_not_available
_CONTENDED = {"40001", "40P01", "55P03"}
# admin/crash shutdown, cannot connect now; class 08 is every connection exception
_LOST = {"57P01", "57P02", "57P03"}
_SQLITE_BUSY = ("database is locked", "database is busy")
# a transaction is short: eight tries over up to a minute outlast any burst of writers
_ATTEMPTS = 8
_MAX_DELAY_S = 60.0
_FIRST_WAIT_S = 0.02  # the longest wait after the first failure; it doubles each time
_MAX_WAIT_S = 1.0
# public methods that are not operations: the connection helpers and local state
_UNGUARDED = frozenset({"read", "write", "close", "keep_datastores"})
_STATE = threading.local()


def transient_kind(exc: BaseException) -> type[CatalogError] | None:
    """The error a transient database error becomes (None: not transient)."""
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return CatalogUnavailableError
    code = getattr(exc.orig, "sqlstate", None)
    if code in _CONTENDED:
        return CatalogBusyError
    if code in _LOST or (code or "").startswith("08"):
        return CatalogUnavailableError
    if isinstance(exc.orig, sqlite3.OperationalError):
        busy = any(m in str(exc.orig) for m in _SQLITE_BUSY)
        return CatalogBusyError if busy else None
    if isinstance(exc, OperationalError) and code is None:
        return CatalogUnavailableError  # psycopg: refused or dropped before a reply
    return None


def translate(exc: DBAPIError, operation: str, url: str | None) -> CatalogError:
    """The typed error for a database error raised by ``operation`` on ``url``."""
    where = ""
    if url:
        where = f" (catalog {make_url(url).render_as_string(hide_password=True)})"
    reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    kind = transient_kind(exc)
    if kind is CatalogBusyError:
        advice = "other writers kept it from finishing through every retry; try again"
    elif kind is CatalogUnavailableError:
        advice = "check that the database server is running and reachable, then retry"
    elif isinstance(exc, IntegrityError):
        advice = "it conflicts with what another writer stored; try again"
    else:
        advice = "the database refused it: check that the URL names a dataferry catalog"
    return (kind or CatalogError)(f"cannot {operation}{where}: {reason}; {advice}.")


def guarded(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run a catalog operation with transient errors retried and database errors typed.

    Nested guarded calls run as part of the outermost one (retried and named by it).
    The first argument's ``url`` (or its ``catalog.url``) names the catalog.
    """

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if getattr(_STATE, "inside", False):
                return fn(*args, **kwargs)
            _STATE.inside = True
            try:
                return _retrying(lambda: fn(*args, **kwargs))
            except DBAPIError as exc:
                raise translate(exc, operation, _url_of(args)) from exc
            finally:
                _STATE.inside = False

        return run

    return wrap


def guard_public(cls: type[T]) -> type[T]:
    """Class decorator: every public method becomes a ``guarded`` operation named
    after it (``commit_step`` -> "commit step")."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or name in _UNGUARDED or not callable(value):
            continue
        setattr(cls, name, guarded(name.replace("_", " "))(value))
    return cls


def _retrying(call: Callable[[], R]) -> R:
    """``call()``, run again with backoff while it fails transiently.

    The first attempt runs bare: nearly every call succeeds at once, and building
    tenacity's machinery costs more than a small transaction's statements. Only a
    transient failure enters it, for the remaining attempts, with the wait before
    each attempt and the overall deadline as if it had run them all.
    """
    started = time.monotonic()
    try:
        return call()
    except Exception as exc:
        if transient_kind(exc) is None:
            raise
    # before attempt 2, the wait tenacity puts after a first failure: up to 20 ms
    time.sleep(random.uniform(0, min(_FIRST_WAIT_S, _MAX_WAIT_S)))  # noqa: S311 (jitter)
    retrying = Retrying(
        retry=retry_if_exception(lambda e: transient_kind(e) is not None),
        stop=stop_after_attempt(_ATTEMPTS - 1)
        | stop_after_delay(max(_MAX_DELAY_S - (time.monotonic() - started), 0.0)),
        # its attempt k is attempt k + 1 of all: twice the wait of tenacity's k
        wait=wait_random_exponential(multiplier=2 * _FIRST_WAIT_S, max=_MAX_WAIT_S),
        reraise=True,
    )
    return retrying(call)


def _url_of(args: tuple[Any, ...]) -> str | None:
    if not args:
        return None
    owner = args[0]
    url = getattr(owner, "url", None) or getattr(
        getattr(owner, "catalog", None), "url", None
    )
    return url if isinstance(url, str) else None
