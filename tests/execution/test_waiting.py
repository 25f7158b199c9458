"""The one wait loop wakes promptly: a run that ends soon is seen within milliseconds.

Pure: no run and no process, only the loop and its sleep schedule.
"""

from __future__ import annotations

import time

import pytest

from dataferry.errors import WaitArgumentError
from dataferry.execution.views import waiting


@pytest.mark.parametrize(
    ("waited", "poll", "expected"),
    [
        (0.0, 0.1, 0.002),  # at first: every few milliseconds
        (0.01, 0.1, 0.002),
        (0.2, 0.1, 0.01),  # then a twentieth of the time waited
        (1.0, 0.1, 0.05),
        (60.0, 0.1, 0.1),  # never more than the caller's interval
        (60.0, 0.001, 0.001),  # nor more than a smaller one
    ],
)
def test_the_pause_grows_with_the_time_waited(
    waited: float, poll: float, expected: float
) -> None:
    assert waiting.next_poll_s(waited, poll) == pytest.approx(expected)


def test_a_value_that_is_done_soon_is_seen_long_before_the_poll_interval() -> None:
    ready_at = time.monotonic() + 0.05
    reads: list[bool] = []

    def read() -> bool:
        reads.append(time.monotonic() >= ready_at)
        return reads[-1]

    started = time.monotonic()
    value = waiting.wait_until(read, bool, poll_s=5.0)

    assert value is True
    # with a fixed 5 s interval the second read would come only after 5 s
    assert time.monotonic() - started < 2.5
    assert len(reads) > 2


def test_a_timeout_returns_the_last_value_read() -> None:
    values = iter(range(1_000_000))

    last = waiting.wait_until(lambda: next(values), lambda _: False, timeout_s=0.05)

    assert last > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_s": -1}, r"timeout of -1 s: pass a number of seconds >= 0"),
        ({"poll_s": 0}, r"poll interval of 0 s: pass a number of seconds > 0"),
        (
            {"refresh_s": -0.5},
            r"refresh interval of -0.5 s: pass a number of seconds > 0",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(WaitArgumentError, match=message):
        waiting.wait_until(lambda: 1, bool, **kwargs)  # type: ignore[arg-type]
