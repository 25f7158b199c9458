"""step log folders kept relative to the workspace folder, so a second machine opening
the same catalog finds them in its own copy of the folder

Revision ID: 0012
Revises: 0008
Create Date: 2027-01-10 10:00:00.000000
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

# the built-in default datastore lives at <workspace folder>/datastores/<name>: the
# one record of where the workspace folder was when the catalog was written
_BUILTIN = "workspaceblobstore"


def upgrade() -> None:
    conn = op.get_bind()
    folder = _workspace_folder(conn)
    if folder is None:  # no built-in datastore yet: nothing was written under it
        return
    prefix = f"{folder}/"
    rows = conn.execute(
        sa.text("SELECT id, log_dir FROM step_runs WHERE log_dir LIKE :p"),
        {"p": prefix.replace("%", r"\%").replace("_", r"\_") + "%"},
    ).all()
    for step_run_id, log_dir in rows:
        if log_dir.startswith(prefix):  # LIKE's escapes differ between databases
            conn.execute(
                sa.text("UPDATE step_runs SET log_dir = :d WHERE id = :i"),
                {"d": log_dir[len(prefix) :], "i": step_run_id},
            )


def downgrade() -> None:
    conn = op.get_bind()
    folder = _workspace_folder(conn)
    if folder is None:
        return
    rows = conn.execute(sa.text("SELECT id, log_dir FROM step_runs")).all()
    for step_run_id, log_dir in rows:
        if log_dir and not log_dir.startswith("/"):
            conn.execute(
                sa.text("UPDATE step_runs SET log_dir = :d WHERE id = :i"),
                {"d": f"{folder}/{log_dir}", "i": step_run_id},
            )


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
