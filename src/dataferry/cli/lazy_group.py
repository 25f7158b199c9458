"""A click group that imports a subcommand's module only when that subcommand runs.

``dataferry runs list`` then loads the ``runs`` commands and nothing of the other
fifteen groups (their modules pull in rich, the data layer's option tables, ...).
``--help`` still lists every command: each lazy entry carries its short help, so
listing does not import the module either. ``tests/cli/test_lazy_commands.py``
checks that every entry's help is the loaded command's own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class LazyEntry:
    """Where a subcommand lives and what ``--help`` says of it before it is imported.

    ``target`` is ``"package.module:attribute"`` naming a ``click.Command``; ``help``
    is the first paragraph of that command's help text.
    """

    target: str
    help: str


class LazyGroup(click.Group):
    """A ``click.Group`` whose ``lazy`` subcommands are imported on first use.

    Args (beyond ``click.Group``'s): ``lazy`` maps a subcommand name to its
    ``LazyEntry``. Raises ``TypeError`` on first use if a target is not a
    ``click.Command`` (a wrong table entry, a programming error).
    """

    def __init__(
        self, *args: Any, lazy: Mapping[str, LazyEntry] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyEntry] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Loaded and not yet loaded subcommands, sorted as click sorts them."""
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand ``cmd_name``, importing its module the first time."""
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(_load(self.lazy[cmd_name].target), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(
        self, ctx: click.Context, formatter: click.HelpFormatter
    ) -> None:
        """The "Commands" section of ``--help``, importing no lazy subcommand."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            # a stand-in shortens the help exactly as the real command would
            command = self.commands.get(name) or click.Command(
                name, help=self.lazy[name].help
            )
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _load(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"lazy command {target} is a {type(command).__name__}")
    return command
