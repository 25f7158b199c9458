"""Records as a table that fits the terminal: columns elided in the middle, as pandas
does (the first and last columns stay, a ``…`` column stands for the others), and a
dataset's schema (names, types) with its row count."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

CELL_MAX = 24  # a wide cell is cut (with …) rather than pushing other columns out
_FRAME = 3  # a column's padding and border in a rich table
_ELIDED = "…"


def fit_columns(widths: Sequence[int], available: int) -> tuple[list[int], int | None]:
    """Which columns fit in ``available`` characters: taken alternately from the left
    and the right, as pandas does; and where the ``…`` column goes (None: all fit).

    ``widths`` are the columns' text widths. At least the first column is kept.
    """
    if sum(w + _FRAME for w in widths) + 1 <= available:
        return list(range(len(widths))), None
    budget = available - 1 - (len(_ELIDED) + _FRAME)
    left: list[int] = []
    right: list[int] = []
    i, j = 0, len(widths) - 1
    while i <= j:
        take_left = len(left) <= len(right)
        index = i if take_left else j
        cost = widths[index] + _FRAME
        if cost > budget:
            break
        budget -= cost
        if take_left:
            left.append(i)
            i += 1
        else:
            right.insert(0, j)
            j -= 1
    if not left:
        left = [0]
    return left + right, len(left)


def print_records(frame: Any, *, title: str, width: int) -> None:
    """Print a pandas DataFrame's rows (index left out) in ``width`` characters, the
    middle columns elided if they do not all fit; the caption counts what is hidden."""
    from rich.table import Table
    from rich.text import Text

    names = [str(c) for c in frame.columns]
    rows = [
        [render.format_value(v) for v in row]
        for row in frame.itertuples(index=False, name=None)
    ]
    widths = [
        min(max([len(name), *(len(r[i]) for r in rows)]), CELL_MAX)
        for i, name in enumerate(names)
    ]
    shown, gap = fit_columns(widths, width)
    caption = f"{len(rows)} row(s) x {len(names)} column(s)"
    if gap is not None:
        caption += (
            f"; {len(names) - len(shown)} not shown: pick columns with --columns a,b"
        )
    table = Table(title=title, title_justify="left")
    order: list[int | None] = [*shown]
    if gap is not None:
        order.insert(gap, None)
    for index in order:
        header = _ELIDED if index is None else names[index]
        table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=CELL_MAX)
    for row in rows:
        table.add_row(*(Text(_ELIDED if i is None else row[i]) for i in order))
    render.stdout().print(table)
    render.say(caption)  # a line of its own: a caption would fold under a narrow table


def pick_columns(given: str, present: Sequence[str], where: str) -> list[str]:
    """``'a,b'`` as a list of column names of ``present``.

    Raises:
        click.BadParameter: a name is empty or not a column (with a close match).
    """
    names = [name.strip() for name in given.split(",")]
    for name in names:
        if name in present:
            continue
        close = difflib.get_close_matches(name, present, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise click.BadParameter(
            f"{where} has no column '{name}'; its columns are "
            f"{', '.join(present)}.{hint}",
            param_hint="--columns",
        )
    return names


def schema_and_rows(dataset: Any) -> tuple[pa.Schema, int]:
    """A tabular dataset's schema after its transforms, and its row count (read in
    batches: bounded memory)."""
    schema = None
    rows = 0
    for batch in dataset.to_record_batches():
        schema = schema or batch.schema
        rows += batch.num_rows
    if schema is None:  # no batch at all: the empty table still has its columns
        schema = dataset.to_arrow().schema
    return schema, rows
