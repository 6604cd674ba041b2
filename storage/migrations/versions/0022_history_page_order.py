"""a client's history in its page order: ix_activities_client_time holds the record's id
after its time, so a page (newest first, id breaking ties) is read from the index alone and a
far page skips index entries, not records

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_activities_client_time", table_name="activities")
    op.create_index("ix_activities_client_time", "activities",
                    ["client_id", "occurred_at", "id", "type_id"])


def downgrade() -> None:
    op.drop_index("ix_activities_client_time", table_name="activities")
    op.create_index("ix_activities_client_time", "activities",
                    ["client_id", "occurred_at", "type_id"])
