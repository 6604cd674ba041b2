"""indexes for the reports: contacts by author, time and type; plans by client and status

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

They widen two indexes of 0005 (activities by author and time; planned contacts by client),
which they replace: with the type in it, a period's contacts per author and type are read
from the index alone; with the status, "is a contact planned for this client" too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_activities_author_time", table_name="activities")
    op.create_index("ix_activities_author_time", "activities",
                    ["author_id", "occurred_at", "type_id"])
    op.drop_index("ix_planned_contacts_client_id", table_name="planned_contacts")
    op.create_index("ix_planned_client_status", "planned_contacts", ["client_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_planned_client_status", table_name="planned_contacts")
    op.create_index("ix_planned_contacts_client_id", "planned_contacts", ["client_id"])
    op.drop_index("ix_activities_author_time", table_name="activities")
    op.create_index("ix_activities_author_time", "activities", ["author_id", "occurred_at"])
