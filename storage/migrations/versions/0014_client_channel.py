"""the client's own channel: deep links, linked Telegram contacts with consent, and the
Telegram message id of a history record (written once)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import CleanString, UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "client_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("used_by_tg_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE",
                                name=op.f("fk_client_links_client_id_clients")),
        sa.ForeignKeyConstraint(["contact_id"], ["contact_persons.id"], ondelete="CASCADE",
                                name=op.f("fk_client_links_contact_id_contact_persons")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_client_links_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_client_links_token_hash")),
    )
    op.create_index(op.f("ix_client_links_client_id"), "client_links", ["client_id"])
    op.create_table(
        "client_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tg_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("tg_name", CleanString(200), nullable=False),
        sa.Column("tg_username", CleanString(64), nullable=True),
        sa.Column("locale", sa.String(8), nullable=False),
        sa.Column("consent", sa.String(16), nullable=False),
        sa.Column("consent_at", UTCDateTime(), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE",
                                name=op.f("fk_client_channels_client_id_clients")),
        sa.ForeignKeyConstraint(["contact_id"], ["contact_persons.id"], ondelete="SET NULL",
                                name=op.f("fk_client_channels_contact_id_contact_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_channels")),
        sa.UniqueConstraint("tg_id", name=op.f("uq_client_channels_tg_id")),
    )
    op.create_index(op.f("ix_client_channels_client_id"), "client_channels", ["client_id"])
    op.create_index(op.f("ix_client_channels_contact_id"), "client_channels", ["contact_id"])
    # In place (never recreate `activities` on SQLite: see 0006); a unique index, not a
    # constraint, for the same reason. NULLs (every other record) never collide.
    with op.batch_alter_table("activities", recreate="never") as batch:
        batch.add_column(sa.Column("tg_chat_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("tg_message_id", sa.BigInteger(), nullable=True))
    op.create_index("uq_activities_tg_message", "activities", ["tg_chat_id", "tg_message_id"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_activities_tg_message", table_name="activities")
    with op.batch_alter_table("activities", recreate="never") as batch:
        batch.drop_column("tg_message_id")
        batch.drop_column("tg_chat_id")
    op.drop_index(op.f("ix_client_channels_contact_id"), table_name="client_channels")
    op.drop_index(op.f("ix_client_channels_client_id"), table_name="client_channels")
    op.drop_table("client_channels")
    op.drop_index(op.f("ix_client_links_client_id"), table_name="client_links")
    op.drop_table("client_links")
