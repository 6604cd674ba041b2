"""indexes for the reports: contacts by author over a period, open plans by client

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02

(Written on a branch without 0005: when merged after it, down_revision becomes "0005".)
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Results per manager count a period's contacts by author and type: without it, a scan
    # of the whole history (1M rows) per report; with the type in it, the index alone answers.
    op.create_index("ix_activities_author_time", "activities",
                    ["author_id", "occurred_at", "type_id"])
    # Coverage asks, per client, whether a contact is planned: planned_contacts had no index
    # that starts with the client.
    op.create_index("ix_planned_client_status", "planned_contacts", ["client_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_planned_client_status", table_name="planned_contacts")
    op.drop_index("ix_activities_author_time", table_name="activities")
