"""Alembic environment: runs on the connection dataferry hands it (see catalog.migrate)."""

from __future__ import annotations

from alembic import context

from dataferry.catalog.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` command line, for writing new revisions
    from sqlalchemy import create_engine

    engine = create_engine(
        context.config.get_main_option("sqlalchemy.url") or "sqlite://"
    )
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
)
with context.begin_transaction():
    context.run_migrations()
