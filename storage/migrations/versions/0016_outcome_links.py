"""which outcomes are offered after which kind of contact, kept in the bot

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02

Until now the pairs were a table in the code: an outcome or a kind of contact added in the
bot was offered with everything. `outcome_links` holds them; it is filled with exactly what
the code offered, so nobody sees a change until a marketer or an administrator edits a pair.
Its changes bump the classifiers' cache version like classifier_items does (0013).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The code's table as it was (crm/classifiers.py before this revision).
OUTCOMES_FOR: dict[str, tuple[str, ...]] = {
    "call": ("reached", "no_answer", "call_back", "interested", "agreed", "not_interested"),
    "meeting": ("interested", "agreed", "not_interested"),
    "demo": ("interested", "agreed", "not_interested"),
    "email": ("sent",),
    "proposal": ("sent", "interested", "not_interested"),
}
LISTED = frozenset(code for codes in OUTCOMES_FOR.values() for code in codes)
BUMP = "UPDATE cache_versions SET version = version + 1 WHERE name = 'classifiers'"


def upgrade() -> None:
    links = op.create_table(
        "outcome_links",
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["type_id"], ["classifier_items.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outcome_id"], ["classifier_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("type_id", "outcome_id"),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, kind, code FROM classifier_items "
        "WHERE kind IN ('activity_type', 'outcome') ORDER BY id")).all()
    types = [(r[0], r[2]) for r in rows if r[1] == "activity_type"]
    outcomes = [(r[0], r[2]) for r in rows if r[1] == "outcome"]
    pairs = [
        {"type_id": tid, "outcome_id": oid}
        for tid, tcode in types for oid, ocode in outcomes
        if tcode not in OUTCOMES_FOR or ocode in OUTCOMES_FOR[tcode] or ocode not in LISTED
    ]
    if pairs:
        op.bulk_insert(links, pairs)
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER outcome_links_version AFTER INSERT OR UPDATE OR DELETE "
            "ON outcome_links FOR EACH STATEMENT EXECUTE FUNCTION bump_classifiers_version()"
        )
    else:
        for action in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER outcome_links_version_{action.lower()} AFTER {action} "
                f"ON outcome_links BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outcome_links_version ON outcome_links")
    else:
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER outcome_links_version_{action}")
    op.drop_table("outcome_links")
