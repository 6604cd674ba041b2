"""report speed: contacts per author, UTC day / month and type kept on write; history by type and
time

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

`activity_daily` holds, per author, UTC day and activity type, how many typed history
records there are; `activity_monthly` the same per UTC month. Triggers on `activities` keep
them in step with every insert, correction (author, type or time changed) and deletion (a
cascade from a deleted client included), so a year of contacts per manager is read from the
months wholly inside it, the days of the months cut by its ends, and the partial days at its
edges (local midnight is not UTC midnight) from the history itself — a few thousand rows
instead of a million. The index on (type, time, client) serves the marketing report's
campaign touches; the type joins the index on (client, time), so "was the client contacted
since …" (coverage of the base) is answered from the index; the one on the clients' creation
time and classifiers answers the marketing report's new clients. `clients.last_contact_at` (the
latest typed record by anyone, kept by the same triggers) answers it from the clients alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTED = "{row}.author_id IS NOT NULL AND {row}.type_id IS NOT NULL"

# (table, the UTC day or month of a record) on SQLite and on PostgreSQL.
GRAINS = (("activity_daily", "date({row}.occurred_at)", "{row}.occurred_at::date"),
          ("activity_monthly", "date({row}.occurred_at, 'start of month')",
           "date_trunc('month', {row}.occurred_at)::date"))
SQLITE_ADD = " ".join(
    f"INSERT INTO {table} (author_id, day, type_id, n) "
    f"VALUES (new.author_id, {day.format(row='new')}, new.type_id, 1) "
    "ON CONFLICT (author_id, day, type_id) DO UPDATE SET n = n + 1;"
    for table, day, _ in GRAINS)
SQLITE_SUB = " ".join(
    f"UPDATE {table} SET n = n - 1 WHERE author_id = old.author_id "
    f"AND day = {day.format(row='old')} AND type_id = old.type_id;"
    for table, day, _ in GRAINS)
SQLITE_UP = (
    "CREATE TRIGGER activity_daily_insert AFTER INSERT ON activities "
    f"WHEN {_COUNTED.format(row='new')} BEGIN {SQLITE_ADD} END",
    "CREATE TRIGGER activity_daily_delete AFTER DELETE ON activities "
    f"WHEN {_COUNTED.format(row='old')} BEGIN {SQLITE_SUB} END",
    "CREATE TRIGGER activity_daily_update_old AFTER UPDATE OF author_id, type_id, occurred_at "
    f"ON activities WHEN {_COUNTED.format(row='old')} BEGIN {SQLITE_SUB} END",
    "CREATE TRIGGER activity_daily_update_new AFTER UPDATE OF author_id, type_id, occurred_at "
    f"ON activities WHEN {_COUNTED.format(row='new')} BEGIN {SQLITE_ADD} END",
    *(f"INSERT INTO {table} (author_id, day, type_id, n) "
      f"SELECT author_id, {day.format(row='activities')}, type_id, count(*) FROM activities "
      "WHERE author_id IS NOT NULL AND type_id IS NOT NULL "
      f"GROUP BY author_id, {day.format(row='activities')}, type_id"
      for table, day, _ in GRAINS),
)
# The marketing report's new clients of a period, grouped by their classifiers: the index
# alone answers it.
CREATED = ("created_at", "is_deleted", "owner_id", "source_id", "segment_id", "region_id",
           "industry_id", "campaign_id")

# clients.last_contact_at: the latest typed record of the client's history, by anyone.
_LATEST = ("(SELECT max(occurred_at) FROM activities WHERE client_id = {row}.client_id "
           "AND type_id IS NOT NULL)")
SQLITE_LAST = (
    "CREATE TRIGGER client_last_contact_insert AFTER INSERT ON activities "
    "WHEN new.type_id IS NOT NULL BEGIN UPDATE clients SET last_contact_at = new.occurred_at "
    "WHERE id = new.client_id AND (last_contact_at IS NULL "
    "OR last_contact_at < new.occurred_at); END",
    "CREATE TRIGGER client_last_contact_delete AFTER DELETE ON activities "
    "WHEN old.type_id IS NOT NULL BEGIN UPDATE clients SET last_contact_at = "
    f"{_LATEST.format(row='old')} WHERE id = old.client_id; END",
    "CREATE TRIGGER client_last_contact_update AFTER UPDATE OF client_id, type_id, occurred_at "
    "ON activities BEGIN "
    f"UPDATE clients SET last_contact_at = {_LATEST.format(row='old')} "
    "WHERE id = old.client_id; "
    f"UPDATE clients SET last_contact_at = {_LATEST.format(row='new')} "
    "WHERE id = new.client_id; END",
)
SQLITE_DOWN = (
    "DROP TRIGGER client_last_contact_insert",
    "DROP TRIGGER client_last_contact_delete",
    "DROP TRIGGER client_last_contact_update",
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
      UPDATE activity_monthly SET n = n - 1 WHERE author_id = OLD.author_id
        AND day = date_trunc('month', OLD.occurred_at)::date AND type_id = OLD.type_id;
    END IF;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    UPDATE clients SET last_contact_at = (SELECT max(occurred_at) FROM activities
      WHERE client_id = OLD.client_id AND type_id IS NOT NULL) WHERE id = OLD.client_id;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    UPDATE clients SET last_contact_at = (SELECT max(occurred_at) FROM activities
      WHERE client_id = NEW.client_id AND type_id IS NOT NULL) WHERE id = NEW.client_id;
  ELSIF TG_OP = 'INSERT' AND NEW.type_id IS NOT NULL THEN
    UPDATE clients SET last_contact_at = NEW.occurred_at WHERE id = NEW.client_id
      AND (last_contact_at IS NULL OR last_contact_at < NEW.occurred_at);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    IF NEW.author_id IS NOT NULL AND NEW.type_id IS NOT NULL THEN
      INSERT INTO activity_daily (author_id, day, type_id, n)
        VALUES (NEW.author_id, NEW.occurred_at::date, NEW.type_id, 1)
        ON CONFLICT (author_id, day, type_id) DO UPDATE SET n = activity_daily.n + 1;
      INSERT INTO activity_monthly (author_id, day, type_id, n)
        VALUES (NEW.author_id, date_trunc('month', NEW.occurred_at)::date, NEW.type_id, 1)
        ON CONFLICT (author_id, day, type_id) DO UPDATE SET n = activity_monthly.n + 1;
    END IF;
  END IF;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER activity_daily_sync AFTER INSERT OR DELETE "
    "OR UPDATE OF author_id, client_id, type_id, occurred_at ON activities "
    "FOR EACH ROW EXECUTE FUNCTION activity_daily_sync()",
    *(f"INSERT INTO {table} (author_id, day, type_id, n) "
      f"SELECT author_id, {day.format(row='activities')}, type_id, count(*) FROM activities "
      "WHERE author_id IS NOT NULL AND type_id IS NOT NULL "
      f"GROUP BY author_id, {day.format(row='activities')}, type_id"
      for table, _, day in GRAINS),
)
PG_DOWN = (
    "DROP TRIGGER activity_daily_sync ON activities",
    "DROP FUNCTION activity_daily_sync()",
)


def upgrade() -> None:
    op.create_index("ix_activities_type_time", "activities",
                    ["type_id", "occurred_at", "client_id"])
    # ix_activities_client_time already has the type (0009).
    # recreate="never": a copy-and-drop of clients would fire its ON DELETE CASCADEs (0006).
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.add_column(sa.Column("last_contact_at", sa.DateTime(timezone=False)))
    op.execute("UPDATE clients SET last_contact_at = (SELECT max(occurred_at) FROM activities "
               "WHERE client_id = clients.id AND type_id IS NOT NULL)")
    for table, _, _ in GRAINS:
        op.create_table(
            table,
            sa.Column("author_id", sa.Integer(), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),  # a month: its first day
            sa.Column("type_id", sa.Integer(), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("author_id", "day", "type_id", name=f"pk_{table}"),
            sqlite_with_rowid=False,  # the key is the table: a period's rows read in order
        )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in (*SQLITE_UP, *SQLITE_LAST) if sqlite else PG_UP:
        op.execute(statement)
    op.create_index("ix_clients_owner_last_contact", "clients",
                    ["owner_id", "is_deleted", "last_contact_at"])
    op.create_index("ix_clients_created", "clients", [*CREATED])


def downgrade() -> None:
    op.drop_index("ix_clients_created", table_name="clients")
    op.drop_index("ix_clients_owner_last_contact", table_name="clients")
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else PG_DOWN:
        op.execute(statement)
    for table, _, _ in GRAINS:
        op.drop_table(table)
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.drop_column("last_contact_at")
    op.drop_index("ix_activities_type_time", table_name="activities")
