"""broadcasts: mailings and their recipients (one row per mailing × channel × address)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import CleanString, CleanText, UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(40), nullable=False),
        sa.Column("name", CleanString(200), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("text", CleanText(), nullable=False),
        sa.Column("attachment_kind", sa.String(16), nullable=True),
        sa.Column("attachment_ref", CleanString(300), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_shown", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["classifier_items.id"], ondelete="SET NULL",
                                name=op.f("fk_mailings_campaign_id_classifier_items")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_mailings_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailings")),
        sa.UniqueConstraint("token", name=op.f("uq_mailings_token")),
    )
    op.create_index(op.f("ix_mailings_created_by_id"), "mailings", ["created_by_id"])
    op.create_index("ix_mailings_status_start", "mailings", ["status", "start_at"])
    op.create_table(
        "mailing_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailing_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("client_channel_id", sa.Integer(), nullable=True),
        sa.Column("name", CleanString(300), nullable=False),
        sa.Column("manager", CleanString(200), nullable=True),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", CleanString(500), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("tg_message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["mailing_id"], ["mailings.id"], ondelete="CASCADE",
                                name=op.f("fk_mailing_recipients_mailing_id_mailings")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE",
                                name=op.f("fk_mailing_recipients_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailing_recipients")),
        sa.UniqueConstraint("mailing_id", "channel", "address",
                            name="uq_mailing_recipients_mailing_id"),
    )
    op.create_index(op.f("ix_mailing_recipients_client_id"), "mailing_recipients",
                    ["client_id"])
    op.create_index("ix_mailing_recipients_mailing_status", "mailing_recipients",
                    ["mailing_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_mailing_recipients_mailing_status", table_name="mailing_recipients")
    op.drop_index(op.f("ix_mailing_recipients_client_id"), table_name="mailing_recipients")
    op.drop_table("mailing_recipients")
    op.drop_index("ix_mailings_status_start", table_name="mailings")
    op.drop_index(op.f("ix_mailings_created_by_id"), table_name="mailings")
    op.drop_table("mailings")
