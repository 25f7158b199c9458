"""local datastore folders, snapshot folders and local dataset sources kept relative to
the workspace folder, so a second machine opening the catalog resolves them in its own
copy of the folder; what lies outside stays absolute

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-20 10:00:00.000000
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from alembic import op

from dataferry.catalog.sql_catalog import fingerprint_of

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# the built-in default datastore lives at <workspace folder>/datastores/<name>: the
# one record of where the workspace folder was when the catalog was written
_BUILTIN = "workspaceblobstore"
_HOME_SETTING = "local_datastores_home"  # data.machine_paths.HOME_SETTING


class _T:
    """The columns this migration reads and writes, typed so JSON binds on either
    database (a class: the migration files' module level holds only literals)."""

    settings = sa.table("settings", sa.column("key"), sa.column("value", sa.JSON))
    datastores = sa.table(
        "datastores",
        sa.column("name"),
        sa.column("kind"),
        sa.column("options", sa.JSON),
    )
    runs = sa.table("runs", sa.column("id"), sa.column("definition", sa.JSON))
    datasets = sa.table(
        "datasets",
        sa.column("id"),
        sa.column("kind"),
        sa.column("definition", sa.JSON),
        sa.column("fingerprint"),
    )


def upgrade() -> None:
    conn = op.get_bind()
    folder = _workspace_folder(conn)
    if folder is None:  # no built-in datastore with a path: nothing to rewrite
        return
    _rewrite_datastores(conn, folder)
    for run_id, definition in conn.execute(sa.select(_T.runs)).all():
        new = _portable(definition, folder)
        if new != definition:
            conn.execute(
                _T.runs.update().where(_T.runs.c.id == run_id).values(definition=new)
            )
    for ds_id, kind, definition, _ in conn.execute(sa.select(_T.datasets)).all():
        new = _portable(definition, folder)
        if new != definition:
            # the fingerprint save_dataset_in computes: an equal save finds this row
            found = fingerprint_of({"kind": kind, "definition": new})
            conn.execute(
                _T.datasets.update()
                .where(_T.datasets.c.id == ds_id)
                .values(definition=new, fingerprint=found)
            )
    home = select_home(conn)
    if home is None:
        # the folder the absolute paths named; this host is the best record of its
        # machine there is (the migration runs where the catalog is opened)
        mine = {"host": socket.gethostname(), "folder": folder}
        conn.execute(_T.settings.insert().values(key=_HOME_SETTING, value=mine))


def downgrade() -> None:
    """The built-in datastores' folders are put back absolute (the only paths 0012's
    code resolves against nothing); other relative paths stay as they are."""
    conn = op.get_bind()
    home = select_home(conn)
    if home is None:
        return
    for name, options in _local_datastores(conn):
        path = str(options.get("path", ""))
        if path and not path.startswith("/"):
            options["path"] = f"{home['folder']}/{path}"
            _set_options(conn, name, options)


def select_home(conn: sa.Connection) -> dict[str, Any] | None:
    """The recorded home of the workspace's local datastores, if any."""
    found = conn.execute(
        sa.select(_T.settings.c.value).where(_T.settings.c.key == _HOME_SETTING)
    ).scalar()
    return found if isinstance(found, dict) else None


def _local_datastores(conn: sa.Connection) -> list[tuple[str, dict[str, Any]]]:
    rows = conn.execute(
        sa.select(_T.datastores.c.name, _T.datastores.c.options).where(
            _T.datastores.c.kind == "local"
        )
    ).all()
    return [(name, dict(options)) for name, options in rows]


def _set_options(conn: sa.Connection, name: str, options: dict[str, Any]) -> None:
    conn.execute(
        _T.datastores.update()
        .where(_T.datastores.c.name == name)
        .values(options=options)
    )


def _rewrite_datastores(conn: sa.Connection, folder: str) -> None:
    for name, options in _local_datastores(conn):
        path = str(options.get("path", ""))
        if _inside(path, folder):
            options["path"] = os.path.relpath(path, folder)
            _set_options(conn, name, options)


def _portable(value: Any, folder: str) -> Any:
    """``value`` with every ``snapshot`` folder under the workspace folder and every
    ``{"local": ...}`` source in its project made relative to the workspace folder."""
    if isinstance(value, list):
        return [_portable(v, folder) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "snapshot" and isinstance(item, str) and _inside(item, folder):
            out[key] = os.path.relpath(item, folder)
        elif key == "local" and isinstance(item, str) and len(value) == 1:
            project = str(PurePosixPath(folder).parent)
            inside = _inside(item, project)
            out[key] = os.path.relpath(item, folder) if inside else item
        else:
            out[key] = _portable(item, folder)
    return out


def _inside(path: str, folder: str) -> bool:
    return path.startswith("/") and (path == folder or path.startswith(f"{folder}/"))


def _workspace_folder(conn: sa.Connection) -> str | None:
    row = conn.execute(
        sa.text("SELECT kind, options FROM datastores WHERE name = :n"),
        {"n": _BUILTIN},
    ).first()
    if row is None or row[0] != "local":
        return None
    options = row[1] if isinstance(row[1], dict) else json.loads(row[1])
    path = PurePosixPath(str(options.get("path", "")))
    if path.parent.name != "datastores" or not path.is_absolute():
        return None
    return str(path.parent.parent)
