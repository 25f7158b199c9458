"""What commands share: the ``--workspace`` choice and the workspace, opened lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.data import Workspace


@dataclass
class CliState:
    """Per-invocation state, kept as the root context's ``obj``."""

    workspace_path: Path | None = None
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        """The workspace named by ``--workspace``, else the one found from the cwd.

        Raises:
            WorkspaceNotFoundError: no workspace config there or in its parents.
        """
        if self._workspace is None:
            from dataferry.data import Workspace

            self._workspace = Workspace.from_config(self.workspace_path)
        return self._workspace

    def close(self) -> None:
        """Release the workspace's catalog connections, if it was opened."""
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None


def current_workspace() -> Workspace:
    """The workspace of the running command (opened on first use)."""
    state = click.get_current_context().find_object(CliState)
    if state is None:  # a command invoked outside the ``dataferry`` group
        state = CliState()
        click.get_current_context().call_on_close(state.close)
    return state.workspace()
