"""Showing a run as it goes: its feed of lines under a live summary on a terminal,
plain timestamped lines off it (a pipe, a CI log, ``| tee``).

On a terminal (rich): each line is printed above a live area holding the summary
(steps done of total, elapsed, an estimate from earlier runs) and the step table.
Off a terminal: each line is written and flushed as it happens, with the summary every
``PLAIN_SUMMARY_S`` seconds, so a long run is never silent; nothing is redrawn or folded.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

from dataferry.execution.run_feed import RunFeed

if TYPE_CHECKING:
    from collections.abc import Collection

    from rich.console import Console

    from dataferry.data.workspace import Workspace
    from dataferry.execution.run_feed import FeedLine
    from dataferry.execution.views import RunDetail

PLAIN_SUMMARY_S = 15.0  # off a terminal, the summary is repeated this often


class RunDisplay:
    """Shows one run (``only``: the step runs of it with those ids) on ``console`` or
    ``file``.

    ``console`` (rich) decides terminal or not by its own test; without it the lines go
    to ``file`` (default: ``sys.stdout`` when shown), plain unless it is a terminal.
    Call ``show()`` after each look at the run, and ``close()`` once it has ended.
    """

    def __init__(
        self,
        workspace: Workspace,
        run_id: str,
        *,
        only: str | Collection[str] | None = None,
        console: Console | None = None,
        file: IO[str] | None = None,
    ) -> None:
        self.feed = RunFeed(workspace, run_id, only=only)
        self._console = console
        self._file = file
        self._live: Any = None
        self._closed = False
        self._next_summary = time.monotonic() + PLAIN_SUMMARY_S

    @property
    def is_terminal(self) -> bool:
        """True when the lines go to a terminal (a live view), False for a pipe."""
        if self._console is not None:
            return bool(self._console.is_terminal)
        return self.out.isatty()

    @property
    def out(self) -> IO[str]:
        """The stream the plain lines go to."""
        if self._console is not None:
            return self._console.file
        return self._file or sys.stdout

    def show(self) -> None:
        """Read what happened since the last call and show it.

        Raises:
            RunNotFoundError: no run has that id.
        """
        lines = self.feed.poll()
        if self.is_terminal and not self._closed:
            self._show_live(lines)
        else:
            self._show_plain(lines)

    def look(self) -> RunDetail:
        """``show()``, then return the run as read for it.

        Raises:
            RunNotFoundError: no run has that id.
        """
        self.show()
        assert self.feed.detail is not None  # show() read it
        return self.feed.detail

    def stop(self) -> None:
        """Stop the live view as it is (the watcher was interrupted)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def close(self) -> None:
        """Show the last lines and the final summary; stop the live view."""
        self.show()
        self._closed = True  # lines read after this are printed as they come
        if self._live is not None:
            self._live.update(self._live_area(), refresh=True)
            self._live.stop()
            self._live = None
        else:
            self._write(f"{_clock()} [run] {self.feed.headline()}")

    def _show_plain(self, lines: list[FeedLine]) -> None:
        for line in lines:
            self._write(line.plain())
        if time.monotonic() >= self._next_summary:
            self._next_summary = time.monotonic() + PLAIN_SUMMARY_S
            self._write(f"{_clock()} [run] {self.feed.summary()}")

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _show_live(self, lines: list[FeedLine]) -> None:
        from rich.text import Text

        if self._live is None:
            from rich.live import Live

            self._live = Live(
                self._live_area(), console=self._console, refresh_per_second=4
            )
            self._live.start()
        for line in lines:  # Text: a step's output is never read as rich markup
            self._live.console.print(Text(line.plain()))
        self._live.update(self._live_area())

    def _live_area(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        from dataferry.execution.watch import detail_table

        run = self.feed.detail
        summary = Text(self.feed.summary(), style="bold")
        return Group(summary, detail_table(run)) if run is not None else summary


def _clock() -> str:
    return time.strftime("%H:%M:%S")
