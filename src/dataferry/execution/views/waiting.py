"""Waiting until something holds: the one loop every waiter uses.

Given an ``EventWatcher`` of the runs it waits on, a waiter blocks on it between
reads where the catalog pushes events (PostgreSQL's NOTIFY) and reads again as soon
as one arrives; where it does not (SQLite), or without one, it polls.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol, TypeVar

from dataferry.errors import WaitArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

# A waiter wakes within this share of the time it has already waited (at least every
# FIRST_POLL_S, at most every poll_s): a short run is seen to end within milliseconds,
# and a long one is not read more often than it needs.
FIRST_POLL_S = 0.002
LATENESS = 0.05
# Pushed, a waiter reads again at least this often without news: what no event
# announces (a driver that died, a timeout) is still seen.
RECHECK_S = 5.0


class News(Protocol):
    """What wakes a waiter early: ``dataferry.catalog.event_watch.EventWatcher``."""

    @property
    def pushed(self) -> bool:
        """True where ``wait`` blocks until news; False where the waiter must poll."""

    def wait(self, timeout_s: float) -> bool:
        """Block until news (True) or ``timeout_s`` passes (False)."""


def next_poll_s(waited_s: float, poll_s: float) -> float:
    """How long to sleep after ``waited_s`` seconds of waiting, ``poll_s`` at most."""
    return min(poll_s, max(FIRST_POLL_S, waited_s * LATENESS))


def wait_until(
    read: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout_s: float | None = None,
    poll_s: float = 0.1,
    on_poll: Callable[[T], None] | None = None,
    news: News | None = None,
    refresh_s: float = RECHECK_S,
) -> T:
    """Read until ``done(value)`` or ``timeout_s`` has passed; return the last value.

    Each round reads, hands the value to ``on_poll`` (to show progress), then stops if
    it is done or the time is up, else sleeps: a few milliseconds at first, then a
    twentieth of the time waited so far, at most ``poll_s`` (never past the deadline).
    With ``news`` that is pushed, it instead blocks until news arrives or ``refresh_s``
    passes (what is read besides the catalog's events, such as log files, is read
    that often); open ``news`` before calling, so nothing is missed before the first
    read.
    The value is read at least once, also with ``timeout_s=0``; ``None`` waits
    without limit. A timeout is not an error here: the caller looks at the value.

    Raises:
        WaitArgumentError: ``timeout_s`` is negative, or ``poll_s`` or ``refresh_s``
            is not positive.
        Whatever ``read`` or ``on_poll`` raise.
    """
    _check(timeout_s, poll_s, refresh_s)
    pushed = news is not None and news.pushed
    start = time.monotonic()
    deadline = None if timeout_s is None else start + timeout_s
    while True:
        value = read()
        if on_poll is not None:
            on_poll(value)
        if done(value):
            return value
        now = time.monotonic()
        pause = refresh_s if pushed else next_poll_s(now - start, poll_s)
        if deadline is not None:
            if now >= deadline:
                return value
            pause = min(pause, deadline - now)
        if pushed and news is not None:
            news.wait(pause)
        else:
            time.sleep(pause)


def _check(timeout_s: float | None, poll_s: float, refresh_s: float) -> None:
    if timeout_s is not None and not timeout_s >= 0:
        raise WaitArgumentError(
            f"timeout of {timeout_s!r} s: pass a number of seconds >= 0, or None "
            "to wait without limit."
        )
    for name, seconds in (("poll interval", poll_s), ("refresh interval", refresh_s)):
        if not seconds > 0:
            raise WaitArgumentError(
                f"{name} of {seconds!r} s: pass a number of seconds > 0."
            )


class Every:
    """True once per ``period_s`` of monotonic time (for checks rarer than the poll)."""

    def __init__(self, period_s: float) -> None:
        self._period_s = period_s
        self._next = time.monotonic() + period_s

    def due(self) -> bool:
        """True if a period has passed since the last time this was True."""
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self._period_s
        return True
