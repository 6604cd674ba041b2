"""indexes for the funnel report: a deal's history in time order; stage events by time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

The funnel report (crm/reports/funnel.py) reads the stage events of the deals it counts
(by deal, in time order) and finds the deals that left a stage in a period (by event and
time); without these, both scan the whole history.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only the system's events (a small part of the history): a deal's contacts are not in
    # them, so a scan by deal never wades through them.
    events = sa.text("event IS NOT NULL")
    op.create_index("ix_activities_deal_time", "activities", ["deal_id", "occurred_at"],
                    postgresql_where=events, sqlite_where=events)
    op.create_index("ix_activities_event_time", "activities", ["event", "occurred_at"],
                    postgresql_where=events, sqlite_where=events)


def downgrade() -> None:
    op.drop_index("ix_activities_event_time", table_name="activities")
    op.drop_index("ix_activities_deal_time", table_name="activities")
