"""``dataferry catalog``: check, migrate, export and import the workspace's catalog."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace

_URL_HELP = (
    "SQLAlchemy URL of the catalog database (sqlite:///FILE or "
    "postgresql+psycopg://...). Default: the workspace's catalog."
)


def _catalog_url(url: str | None) -> str:
    """``--url``, else the workspace's catalog URL (read without opening it)."""
    return url or current_workspace().catalog_url


@click.group("catalog")
def catalog() -> None:
    """The workspace's catalog database: its schema revision, upgrade, and moving it
    to another database (export to a file, import into an empty catalog)."""


@catalog.command("check")
@click.option("--url", metavar="URL", help=_URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def check(url: str | None, as_json: bool) -> None:
    """Say the catalog's schema revision and whether it is current.

    Exits 1 when it is older (run `dataferry catalog migrate`) or newer (upgrade
    dataferry) than this dataferry's, when the database cannot be reached, or when
    the workspace is shared and the catalog keeps absolute local paths (listed).
    """
    from dataferry.execution.catalog_admin import check_catalog

    found = check_catalog(_catalog_url(url))
    if url is None:  # the workspace's own catalog: its paths must suit every machine
        from dataferry.execution.catalog_admin import check_machine_paths

        check_machine_paths(current_workspace())
    if as_json:
        document = {"url": found.url, "revision": found.revision, "head": found.head}
        click.echo(json.dumps(document | {"current": found.current}))
        return
    render.say(f"catalog {found.url}: schema revision {found.revision} (current)")


@catalog.command("migrate")
@click.option("--url", metavar="URL", help=_URL_HELP)
def migrate(url: str | None) -> None:
    """Upgrade the catalog to this dataferry's schema revision (under the migrations
    lock: other processes opening it meanwhile wait, then use it)."""
    from dataferry.execution.catalog_admin import migrate_catalog

    before, after = migrate_catalog(_catalog_url(url))
    if before.revision == after.revision:
        render.say(f"catalog {after.url}: already at schema revision {after.revision}")
        return
    was = before.revision or "empty"
    render.say(f"catalog {after.url}: migrated from {was} to {after.revision}")


@catalog.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", metavar="URL", help=_URL_HELP)
def export(file: Path, url: str | None) -> None:
    """Write every table of the catalog to FILE (JSON lines: a header naming the schema
    revision and each table's count, then one line a row). FILE must not exist."""
    from dataferry.execution.catalog_admin import export_catalog

    counts = export_catalog(_catalog_url(url), file)
    render.say(
        f"exported {sum(counts.values())} rows of {len(counts)} tables to {file}"
    )


@catalog.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--url",
    metavar="URL",
    help="SQLAlchemy URL of the empty catalog to load FILE into. Default: the "
    "workspace's catalog.",
)
def import_(file: Path, url: str | None) -> None:
    """Load FILE, written by `dataferry catalog export`, into an empty catalog at the
    same schema revision; every table's count is checked before it commits."""
    from dataferry.execution.catalog_admin import import_catalog

    counts = import_catalog(_catalog_url(url), file)
    render.say(f"imported {sum(counts.values())} rows of {len(counts)} tables")
