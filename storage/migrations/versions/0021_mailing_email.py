"""broadcasts over e-mail: a mailing's attachment keeps its file name and, when it came
from the document library, the version whose bytes an e-mail attaches

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import CleanString

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("mailings", recreate="never") as batch:
        batch.add_column(sa.Column("attachment_name", CleanString(255), nullable=True))
        batch.add_column(sa.Column("document_version_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mailings", recreate="never") as batch:
        batch.drop_column("document_version_id")
        batch.drop_column("attachment_name")
