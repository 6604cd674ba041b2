"""client location (lat/lon, indexed for «Nearby») and the «Visit» activity type

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIT = ("activity_type", "visit", "Визит", "Visit")
# Where an activity type is referred to from (as of 0005); a downgrade keeps it if in use.
TYPE_REFS = [("activities", "type_id"), ("planned_contacts", "type_id")]


# Never recreate `clients` on SQLite (see 0004): activities, deals and plans point at it, and
# batch mode's copy-and-drop under foreign_keys=ON would fire their ON DELETE CASCADE. Adding
# and (3.35+) dropping a plain nullable column happen in place.


def upgrade() -> None:
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.add_column(sa.Column("lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lon", sa.Float(), nullable=True))
    op.create_index("ix_clients_lat_lon", "clients", ["lat", "lon"])
    conn = op.get_bind()
    kind, code, ru, en = VISIT
    # After a downgrade that kept the type (visits refer to it) it is still there: once only.
    have = conn.execute(
        sa.text("SELECT 1 FROM classifier_items WHERE kind = :kind AND code = :code"),
        {"kind": kind, "code": code},
    ).first()
    if have is None:
        order = conn.execute(
            sa.text("SELECT COALESCE(MAX(sort_order), 0) FROM classifier_items "
                    "WHERE kind = :kind"), {"kind": kind},
        ).scalar_one()
        items = sa.table(
            "classifier_items",
            sa.column("kind", sa.String),
            sa.column("code", sa.String),
            sa.column("name_ru", sa.String),
            sa.column("name_en", sa.String),
            sa.column("sort_order", sa.Integer),
            sa.column("is_active", sa.Boolean),
        )
        op.bulk_insert(items, [{"kind": kind, "code": code, "name_ru": ru, "name_en": en,
                                "sort_order": int(order) + 10, "is_active": True}])


def downgrade() -> None:
    """The coordinates go; the «Visit» type goes only if no record or plan refers to it
    (visits already in the history stay, typed, as data — the rule of 0002)."""
    conn = op.get_bind()
    unused = " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM {ref} WHERE {ref}.{column} = classifier_items.id)"
        for ref, column in TYPE_REFS
    )
    kind, code, _ru, _en = VISIT
    conn.execute(
        sa.text(f"DELETE FROM classifier_items WHERE kind = :kind AND code = :code AND {unused}"),
        {"kind": kind, "code": code},
    )
    op.drop_index("ix_clients_lat_lon", table_name="clients")
    with op.batch_alter_table("clients", recreate="never") as batch:
        batch.drop_column("lon")
        batch.drop_column("lat")
