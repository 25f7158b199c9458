"""PostgreSQL: every insert into ``events`` NOTIFYs its runs' newest event ids on the
``dataferry_events`` channel, in the inserting transaction (nothing on SQLite, where
watchers poll the indexed table)

A statement-level trigger with a transition table sends one notification per run
and statement, ``"<newest event id>:<run id>"`` (an executemany is a statement per
row to the trigger; a watcher needs only the run id, and drains the rest). PostgreSQL delivers it when the transaction
commits, so a watcher that is woken finds the rows committed; a rolled-back insert
notifies nobody.

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-20 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# the channel name is also dataferry.catalog.event_watch.CHANNEL
_FUNCTION = """
CREATE OR REPLACE FUNCTION dataferry_notify_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dataferry_events', max(id)::text || ':' || run_id)
    FROM inserted_events GROUP BY run_id;
    RETURN NULL;
END
$$
"""
_TRIGGER = """
CREATE TRIGGER events_notify AFTER INSERT ON events
REFERENCING NEW TABLE AS inserted_events
FOR EACH STATEMENT EXECUTE FUNCTION dataferry_notify_events()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no NOTIFY: its watchers poll
    op.execute(_FUNCTION)
    op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS dataferry_notify_events()")
