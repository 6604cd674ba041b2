"""report speed: contacts per author, UTC day and type kept on write; history by type and
time

Revision ID: 0008_rep_mkt
Revises: 0007
Create Date: 2026-12-02

`activity_daily` holds, per author, UTC day and activity type, how many typed history
records there are. Triggers on `activities` keep it in step with every insert, correction
(author, type or time changed) and deletion (a cascade from a deleted client included), so
a year of contacts per manager is read from ~50 × 365 × types small rows instead of a
million history records; the report reads the partial days at the period's edges (local
midnight is not UTC midnight) from the history itself. The index on (type, time, client)
serves the marketing report's campaign touches; the type joins the index on (client, time),
so "was the client contacted since …" (coverage of the base) is answered from the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_rep_mkt"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTED = "{row}.author_id IS NOT NULL AND {row}.type_id IS NOT NULL"

SQLITE_ADD = (
    "INSERT INTO activity_daily (author_id, day, type_id, n) "
    "VALUES (new.author_id, date(new.occurred_at), new.type_id, 1) "
    "ON CONFLICT (author_id, day, type_id) DO UPDATE SET n = n + 1;"
)
SQLITE_SUB = (
    "UPDATE activity_daily SET n = n - 1 WHERE author_id = old.author_id "
    "AND day = date(old.occurred_at) AND type_id = old.type_id;"
)
SQLITE_UP = (
    "CREATE TRIGGER activity_daily_insert AFTER INSERT ON activities "
    f"WHEN {_COUNTED.format(row='new')} BEGIN {SQLITE_ADD} END",
    "CREATE TRIGGER activity_daily_delete AFTER DELETE ON activities "
    f"WHEN {_COUNTED.format(row='old')} BEGIN {SQLITE_SUB} END",
    "CREATE TRIGGER activity_daily_update_old AFTER UPDATE OF author_id, type_id, occurred_at "
    f"ON activities WHEN {_COUNTED.format(row='old')} BEGIN {SQLITE_SUB} END",
    "CREATE TRIGGER activity_daily_update_new AFTER UPDATE OF author_id, type_id, occurred_at "
    f"ON activities WHEN {_COUNTED.format(row='new')} BEGIN {SQLITE_ADD} END",
    "INSERT INTO activity_daily (author_id, day, type_id, n) "
    "SELECT author_id, date(occurred_at), type_id, count(*) FROM activities "
    "WHERE author_id IS NOT NULL AND type_id IS NOT NULL "
    "GROUP BY author_id, date(occurred_at), type_id",
)
SQLITE_DOWN = (
    "DROP TRIGGER activity_daily_insert",
    "DROP TRIGGER activity_daily_delete",
    "DROP TRIGGER activity_daily_update_old",
    "DROP TRIGGER activity_daily_update_new",
)

PG_UP = (
    """CREATE FUNCTION activity_daily_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    IF OLD.author_id IS NOT NULL AND OLD.type_id IS NOT NULL THEN
      UPDATE activity_daily SET n = n - 1 WHERE author_id = OLD.author_id
        AND day = OLD.occurred_at::date AND type_id = OLD.type_id;
    END IF;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF NEW.author_id IS NOT NULL AND NEW.type_id IS NOT NULL THEN
      INSERT INTO activity_daily (author_id, day, type_id, n)
        VALUES (NEW.author_id, NEW.occurred_at::date, NEW.type_id, 1)
        ON CONFLICT (author_id, day, type_id) DO UPDATE SET n = activity_daily.n + 1;
    END IF;
  END IF;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER activity_daily_sync AFTER INSERT OR DELETE "
    "OR UPDATE OF author_id, type_id, occurred_at ON activities "
    "FOR EACH ROW EXECUTE FUNCTION activity_daily_sync()",
    "INSERT INTO activity_daily (author_id, day, type_id, n) "
    "SELECT author_id, occurred_at::date, type_id, count(*) FROM activities "
    "WHERE author_id IS NOT NULL AND type_id IS NOT NULL "
    "GROUP BY author_id, occurred_at::date, type_id",
)
PG_DOWN = (
    "DROP TRIGGER activity_daily_sync ON activities",
    "DROP FUNCTION activity_daily_sync()",
)


def upgrade() -> None:
    op.create_table(
        "activity_daily",
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("author_id", "day", "type_id", name="pk_activity_daily"),
        sqlite_with_rowid=False,  # the key is the table: a period's rows are read in order
    )
    for statement in SQLITE_UP if op.get_bind().dialect.name == "sqlite" else PG_UP:
        op.execute(statement)
    op.create_index("ix_activities_type_time", "activities",
                    ["type_id", "occurred_at", "client_id"])
    op.drop_index("ix_activities_client_time", table_name="activities")
    op.create_index("ix_activities_client_time", "activities",
                    ["client_id", "occurred_at", "type_id"])


def downgrade() -> None:
    op.drop_index("ix_activities_client_time", table_name="activities")
    op.create_index("ix_activities_client_time", "activities", ["client_id", "occurred_at"])
    op.drop_index("ix_activities_type_time", table_name="activities")
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else PG_DOWN:
        op.execute(statement)
    op.drop_table("activity_daily")
