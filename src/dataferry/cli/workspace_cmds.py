"""``dataferry init``: make a workspace in a folder."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dataferry.cli import render

_FALLBACK_NAME = "workspace"


def default_workspace_name(folder: Path) -> str:
    """A valid workspace name from a folder's: ``'My Project!'`` -> ``'my-project'``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", folder.name.lower()).strip("-_")
    name = name[:32].rstrip("-_")
    return name if len(name) >= 2 else _FALLBACK_NAME


@click.command("init")
@click.argument(
    "path",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--name", help="Workspace name (default: the folder's name, sanitised).")
@click.option(
    "--catalog-url",
    metavar="URL",
    help="SQLAlchemy URL of a shared catalog (default: SQLite in the workspace).",
)
@click.option(
    "--exist-ok", is_flag=True, help="Open an existing workspace instead of failing."
)
def init(path: Path, name: str | None, catalog_url: str | None, exist_ok: bool) -> None:
    """Create a workspace in PATH (default: the current folder).

    Writes PATH/.azureml/config.json, so Workspace.from_config() finds it, and the
    workspace folder PATH/.dataferry with its catalog and default datastore.
    """
    from dataferry.data import Workspace
    from dataferry.data.config import CONFIG_DIRS

    folder = path.resolve()
    existed = any((folder / sub / "config.json").is_file() for sub in CONFIG_DIRS)
    ws = Workspace.create(
        name or default_workspace_name(folder),
        folder,
        catalog_url=catalog_url,
        exist_ok=exist_ok,
        show_output=False,
    )
    try:
        default_store = ws.get_default_datastore()  # opens (and creates) the catalog
        verb = "Opened existing" if existed else "Created"
        render.say(f"{verb} workspace '{ws.name}' in {ws.path}", style="green")
        render.say(f"Default datastore: {default_store.name}")
        render.say(f"Open it from Python with Workspace.from_config('{folder}').")
    finally:
        ws.close()
