"""per-user digest settings: on/off and the local time of day

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Never recreate `users` on SQLite (batch mode would, for an expression default or a dropped
# column): its copy-and-drop runs under foreign_keys=ON, and dropping a table that other
# tables point at fails, or fires their ON DELETE actions. SQLite adds a column with a
# constant default, and (3.35+) drops a plain column, in place.


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("digest_enabled", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        # NULL: the deployment's DIGEST_TIME.
        batch.add_column(sa.Column("digest_time_min", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("digest_time_min")
        batch.drop_column("digest_enabled")
