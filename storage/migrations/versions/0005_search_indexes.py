"""search and digest indexes: trigram search over clients, planned contacts by client,
activities by author and time

SQLite gets an FTS5 `trigram` table over clients.search_text and clients.phone_digits
(external content: the text is stored once, in clients; triggers keep the index in step);
PostgreSQL gets pg_trgm GIN indexes on the same columns. Both serve `LIKE '%…%'` from the
index, which is what storage/repo/clients.py asks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE clients_fts USING fts5("
    "search_text, phone_digits, content='clients', content_rowid='id', tokenize='trigram')",
    "INSERT INTO clients_fts(clients_fts) VALUES ('rebuild')",
    "CREATE TRIGGER clients_fts_insert AFTER INSERT ON clients BEGIN "
    "INSERT INTO clients_fts(rowid, search_text, phone_digits) "
    "VALUES (new.id, new.search_text, new.phone_digits); END",
    "CREATE TRIGGER clients_fts_delete AFTER DELETE ON clients BEGIN "
    "INSERT INTO clients_fts(clients_fts, rowid, search_text, phone_digits) "
    "VALUES ('delete', old.id, old.search_text, old.phone_digits); END",
    "CREATE TRIGGER clients_fts_update AFTER UPDATE OF search_text, phone_digits ON clients "
    "BEGIN "
    "INSERT INTO clients_fts(clients_fts, rowid, search_text, phone_digits) "
    "VALUES ('delete', old.id, old.search_text, old.phone_digits); "
    "INSERT INTO clients_fts(rowid, search_text, phone_digits) "
    "VALUES (new.id, new.search_text, new.phone_digits); END",
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS clients_fts_update",
    "DROP TRIGGER IF EXISTS clients_fts_delete",
    "DROP TRIGGER IF EXISTS clients_fts_insert",
    "DROP TABLE IF EXISTS clients_fts",
)
POSTGRES_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_clients_search_trgm ON clients USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX ix_clients_phone_trgm ON clients USING gin (phone_digits gin_trgm_ops)",
)
# The extension stays: something else in the database may use it.
POSTGRES_DOWN = (
    "DROP INDEX IF EXISTS ix_clients_phone_trgm",
    "DROP INDEX IF EXISTS ix_clients_search_trgm",
)


def upgrade() -> None:
    op.create_index(
        "ix_planned_contacts_client_id", "planned_contacts", ["client_id"], unique=False
    )
    op.create_index(
        "ix_activities_author_time", "activities", ["author_id", "occurred_at"], unique=False
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index("ix_activities_author_time", table_name="activities")
    op.drop_index("ix_planned_contacts_client_id", table_name="planned_contacts")
