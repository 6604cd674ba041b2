"""scheduler_state: since when the scheduler runs and when it last ran

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("up_since", storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_tick", storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_state")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_state")
