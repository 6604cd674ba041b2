"""a version number of the classifiers, bumped by triggers on every change

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

Classifiers and stages change rarely and are read on almost every tap: each worker keeps
them in memory (crm/classifiers.py) and reloads them when this number differs from the one
it loaded them at. The number is read with the actor, on every update, at no extra
statement. Triggers bump it on any insert, update or delete, so an edit by any worker, a
migration or a hand-made SQL statement invalidates every worker's copy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("classifier_items", "stages")
BUMP = "UPDATE cache_versions SET version = version + 1 WHERE name = 'classifiers'"


def upgrade() -> None:
    op.create_table(
        "cache_versions",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO cache_versions (name, version) VALUES ('classifiers', 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION bump_classifiers_version() RETURNS trigger AS $$ "
            f"BEGIN {BUMP}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_classifiers_version()"
            )
    else:
        for table in TABLES:
            for action in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_version_{action.lower()} AFTER {action} "
                    f"ON {table} BEGIN {BUMP}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_version ON {table}")
        op.execute("DROP FUNCTION bump_classifiers_version()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_version_{action}")
    op.drop_table("cache_versions")
