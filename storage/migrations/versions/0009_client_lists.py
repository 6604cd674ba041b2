"""saved client lists (a named filter, private or shared with the team)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A saved list keeps the filter (JSON), never the client ids: it is run afresh each time it is
opened, in the scope of whoever opens it. One owner cannot have two lists of the same name,
which also makes a double-tapped «Save» write one row.

The history index by client and time gets the record's type too (as 0007 did for the index
by author): "no contact for N days" over 100k clients probes it without reading the rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("name", storage.types.CleanString(length=100), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name=op.f("fk_saved_lists_owner_id_users"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"],
                                name=op.f("fk_saved_lists_team_id_teams"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_lists")),
        sa.UniqueConstraint("owner_id", "name", name="uq_saved_lists_owner_id"),
    )
    op.create_index("ix_saved_lists_team_shared", "saved_lists", ["team_id", "shared"])
    # "No contact for N days" / "contacted within N days" ask, per client, for a typed
    # record since a moment: with the type in the index it is answered from the index alone.
    op.drop_index("ix_activities_client_time", table_name="activities")
    op.create_index("ix_activities_client_time", "activities",
                    ["client_id", "occurred_at", "type_id"])


def downgrade() -> None:
    op.drop_index("ix_activities_client_time", table_name="activities")
    op.create_index("ix_activities_client_time", "activities", ["client_id", "occurred_at"])
    op.drop_index("ix_saved_lists_team_shared", table_name="saved_lists")
    op.drop_table("saved_lists")
