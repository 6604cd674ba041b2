"""leads and their distribution: a lead's team, the per-team rule, managers' territories

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

A lead is a live client without an owner. `clients.lead_team_id` is the team whose queue it
waits in (None: the admins' queue); `clients.lead_alerted_at` is set when its head was told
nobody took it (once). `lead_rules` holds a team's distribution rule and its round-robin
cursor (the last manager given a lead); `user_territories` the regions a manager takes leads
of under the "by region" rule. Plain nullable columns on `clients`, no foreign keys: SQLite
could only add them by recreating the table (see 0006, 0008).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.add_column(sa.Column("lead_team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("lead_alerted_at", storage.types.UTCDateTime(), nullable=True))
    # The queue: live clients without an owner.
    op.create_index("ix_clients_leads", "clients", ["owner_id", "is_deleted", "lead_team_id"])
    op.create_table(
        "lead_rules",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("cursor_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"],
                                name=op.f("fk_lead_rules_team_id_teams"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_lead_rules")),
    )
    op.create_table(
        "user_territories",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_user_territories_user_id_users"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["region_id"], ["classifier_items.id"],
                                name=op.f("fk_user_territories_region_id_classifier_items")),
        sa.PrimaryKeyConstraint("user_id", "region_id", name=op.f("pk_user_territories")),
    )


def downgrade() -> None:
    op.drop_table("user_territories")
    op.drop_table("lead_rules")
    op.drop_index("ix_clients_leads", table_name="clients")
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.drop_column("lead_alerted_at")
        batch.drop_column("lead_team_id")
