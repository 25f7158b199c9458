"""Bounded retries with backoff for the calls that move or publish data on a store.

A store that stops answering in the middle of a transfer or a commit (restarted,
overloaded, a network blip) is retried with exponential backoff for a bounded window
(tenacity); the Azure clients' own short retries sit inside each attempt. When the
window runs out the caller gets a ``StorageUnavailableError`` naming the datastore and
the path. Only "no answer" is retried: a refused credential, a missing file or a
damaged marker is not going to change by waiting.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, TypeVar

from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from dataferry.errors import StorageSettingError, StorageUnavailableError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_WINDOW_ENV = "DATAFERRY_STORAGE_RETRY_S"
RETRY_WINDOW_S = 60.0  # a restarted storage server is back well within a minute
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0


def retry_window_s() -> float:
    """How long a transfer keeps retrying a store that does not answer, in seconds:
    ``DATAFERRY_STORAGE_RETRY_S`` if set (0 disables retrying), else 60.

    Raises:
        StorageSettingError: the variable is set but is not a number >= 0.
    """
    raw = os.environ.get(RETRY_WINDOW_ENV, "").strip()
    if not raw:
        return RETRY_WINDOW_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise StorageSettingError(
            f"{RETRY_WINDOW_ENV}={raw!r} is not a number of seconds >= 0; unset it "
            f"for the default ({RETRY_WINDOW_S:g} s)."
        )
    return value


def is_transient(exc: BaseException) -> bool:
    """True for "the store did not answer" (worth waiting for); a retry window that
    already ran out inside is not retried again outside."""
    if isinstance(exc, StorageUnavailableError):
        return False
    return isinstance(exc, (ConnectionError, TimeoutError))


def with_retries(
    call: Callable[[], T],
    *,
    datastore: str,
    path: str,
    action: str,
    after_failed_attempt: Callable[[], None] | None = None,
) -> T:
    """``call()``, retried with exponential backoff while the store does not answer.

    ``after_failed_attempt`` runs after each attempt the store did not answer (to keep
    what it finished and drop what it left half-done). ``action`` and ``path`` are for the message
    ("upload to", "commit output 'x' to", ...).

    Raises:
        StorageUnavailableError: the store still did not answer after the retry
            window; names the datastore, the path and the last error.
        Exception: whatever ``call`` raised that is not "no answer", at once.
    """
    window = retry_window_s()

    def after(state: object) -> None:
        if after_failed_attempt is not None:
            after_failed_attempt()

    retrying = Retrying(
        retry=retry_if_exception(is_transient),
        stop=stop_after_delay(window),
        wait=wait_exponential(multiplier=BACKOFF_FIRST_S, max=BACKOFF_MAX_S),
        before_sleep=before_sleep_log(log, logging.WARNING),
        after=after,
        reraise=True,
    )
    try:
        return retrying(call)
    except (ConnectionError, TimeoutError) as exc:
        if isinstance(exc, StorageUnavailableError):
            raise
        raise StorageUnavailableError(
            f"datastore '{datastore}': cannot {action} '{path}': the store did not "
            f"answer, retried with backoff for {window:g} s ({exc}); check that it is "
            "running and reachable, then run again (nothing half-written was kept)."
        ) from exc
