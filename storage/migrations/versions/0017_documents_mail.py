"""standard documents (a library of named files with versions) and the e-mail consent of
contact persons (unsubscribed, bounced; the unsubscribe token)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import CleanString, UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("email", CleanString(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", CleanString(300), nullable=True),
        sa.Column("state_at", UTCDateTime(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contact_persons.id"], ondelete="CASCADE",
                                name=op.f("fk_email_consents_contact_id_contact_persons")),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], ondelete="CASCADE",
                                name=op.f("fk_email_consents_client_id_clients")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_consents")),
        sa.UniqueConstraint("contact_id", name=op.f("uq_email_consents_contact_id")),
        sa.UniqueConstraint("token", name=op.f("uq_email_consents_token")),
    )
    op.create_index(op.f("ix_email_consents_client_id"), "email_consents", ["client_id"])
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", CleanString(200), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_documents_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
    )
    op.create_table(
        "document_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tg_file_id", sa.String(300), nullable=False),
        sa.Column("file_name", CleanString(255), nullable=False),
        sa.Column("mime_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE",
                                name=op.f("fk_document_versions_document_id_documents")),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"],
                                name=op.f("fk_document_versions_uploaded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_versions")),
        sa.UniqueConstraint("document_id", "version",
                            name=op.f("uq_document_versions_document_id")),
    )


def downgrade() -> None:
    op.drop_table("document_versions")
    op.drop_table("documents")
    op.drop_index(op.f("ix_email_consents_client_id"), table_name="email_consents")
    op.drop_table("email_consents")
