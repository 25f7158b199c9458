"""Waiting until something holds: the one polling loop every waiter uses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

from dataferry.errors import WaitArgumentError

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

# A waiter wakes within this share of the time it has already waited (at least every
# FIRST_POLL_S, at most every poll_s): a short run is seen to end within milliseconds,
# and a long one is not read more often than it needs.
FIRST_POLL_S = 0.002
LATENESS = 0.05


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
) -> T:
    """Read until ``done(value)`` or ``timeout_s`` has passed; return the last value.

    Each round reads, hands the value to ``on_poll`` (to show progress), then stops if
    it is done or the time is up, else sleeps: a few milliseconds at first, then a
    twentieth of the time waited so far, at most ``poll_s`` (never past the deadline).
    The value is read at least once, also with ``timeout_s=0``; ``None`` waits
    without limit. A timeout is not an error here: the caller looks at the value.

    Raises:
        WaitArgumentError: ``timeout_s`` is negative or ``poll_s`` is not positive.
        Whatever ``read`` or ``on_poll`` raise.
    """
    if timeout_s is not None and not timeout_s >= 0:
        raise WaitArgumentError(
            f"timeout of {timeout_s!r} s: pass a number of seconds >= 0, or None "
            "to wait without limit."
        )
    if not poll_s > 0:
        raise WaitArgumentError(
            f"poll interval of {poll_s!r} s: pass a number of seconds > 0."
        )
    start = time.monotonic()
    deadline = None if timeout_s is None else start + timeout_s
    while True:
        value = read()
        if on_poll is not None:
            on_poll(value)
        if done(value):
            return value
        now = time.monotonic()
        pause = next_poll_s(now - start, poll_s)
        if deadline is not None:
            if now >= deadline:
                return value
            pause = min(pause, deadline - now)
        time.sleep(pause)


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
