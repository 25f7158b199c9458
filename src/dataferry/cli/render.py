"""Terminal output: rich consoles, tables and key/value panels, and the error line.

User data (names, paths, descriptions) is always printed as plain ``Text``, never as
rich markup, so a ``[bold]`` in a description is shown as typed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported inside each function: a command that prints JSON or nothing (and
# `dataferry runs list --json` start-up) never loads it

_MISSING_TYPES = frozenset({"NAType", "NaTType"})


def stdout() -> Console:
    """A console on standard output (made per call: it reads ``COLUMNS`` when made)."""
    from rich.console import Console

    return Console(highlight=False)


def say(message: str, *, style: str | None = None) -> None:
    """Print one message line to standard output, never wrapped or parsed as markup."""
    from rich.text import Text

    stdout().print(Text(message, style=style or ""), soft_wrap=True)


def print_error(message: str) -> None:
    """Print ``Error: <message>`` in red to standard error."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False).print(
        Text(f"Error: {message}", style="red"), soft_wrap=True
    )


def print_warning(message: str) -> None:
    """Print ``Warning: <message>`` in yellow to standard error."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False).print(
        Text(f"Warning: {message}", style="yellow"), soft_wrap=True
    )


def format_value(value: Any) -> str:
    """A cell's text: '' for missing values, JSON for containers, ISO for times."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if type(value).__name__ in _MISSING_TYPES:  # pandas' NA and NaT, without pandas
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, default=str, sort_keys=isinstance(value, Mapping))
    return str(value)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    caption: str | None = None,
    whole: Sequence[str] = (),
) -> None:
    """Print rows as a table; every cell goes through :func:`format_value`.

    On a terminal a cell too wide for its column folds onto more lines. Off a terminal
    (a pipe, a CI log) a cell is never folded: it stays on one line, and one too wide
    is cut with an ellipsis (``--json`` prints it whole). The ``whole`` columns (ids)
    are never folded or cut, so they can be copied; the other columns give way.
    """
    from rich.table import Table
    from rich.text import Text

    console = stdout()
    # off a terminal each cell is one line, cut at its column's width: the widest
    # columns give way first (rich narrows wrappable columns, widest first)
    one_line = not console.is_terminal
    texts = [
        [Text(format_value(v), no_wrap=one_line, overflow="ellipsis") for v in row]
        for row in rows
    ]
    table = Table(title=title, caption=caption, title_justify="left")
    for i, name in enumerate(columns):
        if name in whole:
            widest = max((t[i].cell_len for t in texts), default=0)
            table.add_column(name, no_wrap=True, min_width=max(widest, len(name)))
        else:
            table.add_column(name, overflow="ellipsis" if one_line else "fold")
    for row_texts in texts:
        table.add_row(*row_texts)
    console.print(table)


def print_key_values(pairs: Mapping[str, Any], *, title: str | None = None) -> None:
    """Print a two-column ``key  value`` table without a header."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, title_justify="left", show_header=False, box=None)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in pairs.items():
        table.add_row(Text(key), Text(format_value(value)))
    stdout().print(table)


def print_json(value: Any, *, title: str | None = None) -> None:
    """Print a JSON-able value, indented (and coloured on a terminal)."""
    from rich.json import JSON
    from rich.text import Text

    console = stdout()
    if title:
        console.print(Text(title, style="bold"))
    console.print(JSON(json.dumps(value, default=str)))


def print_dataframe(frame: Any, *, title: str | None = None) -> None:
    """Print a pandas DataFrame as a table, its index left out."""
    rows = frame.itertuples(index=False, name=None)
    caption = f"{len(frame)} row(s) x {len(frame.columns)} column(s)"
    print_table([str(c) for c in frame.columns], rows, title=title, caption=caption)
