"""a merged client points at the client it was merged into

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

A merge archives the duplicate (is_deleted) and keeps `merged_into_id`, so its card, still
reachable by id for heads and admins, says where its history went. A plain nullable column:
no foreign key, which SQLite could only add by recreating `clients` (see 0006).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.drop_column("merged_into_id")
