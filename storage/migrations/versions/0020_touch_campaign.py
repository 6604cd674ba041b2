"""a history record's own campaign: a campaign touch counts towards the campaign it was made
for (a broadcast's), not the one on the client's card

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02

`activities.campaign_id` (nullable): the campaign of a campaign touch — a broadcast's
delivery carries its mailing's campaign, a touch logged by hand the client's campaign of
the moment. Back-filled for the campaign touches a broadcast wrote (their `details` name the
mailing and its campaign); other records keep NULL, and a touch without a campaign of its
own still counts towards the client's campaign.

The `marketing_daily` triggers of 0018 are replaced by ones that do the same except for the
campaign dimension's touches, which go to coalesce(the touch's campaign, the client's):
* a touch inserted, deleted or corrected (type, time, client and now its campaign) counts
  towards coalesce(its campaign, its client's) — the other dimensions towards the client's;
* a client's campaign changed moves only its touches without a campaign of their own;
* a client deleted takes its touches off where they were counted.
The campaign rows of `marketing_daily` are recomputed (new clients and touches) under the
new rule; the downgrade restores the triggers of 0018 and recomputes them under the old one.
`ix_activities_type_time` gets the column (the team figures read a touch's campaign from
the index, as they read its client before). The SQL generators below are a copy of 0018's
with the rule as a switch (`own`), so this file does not depend on the other's module.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("source", "segment", "region", "industry", "campaign")
TOUCH = ("(SELECT id FROM classifier_items WHERE kind = 'activity_type' "
         "AND code = 'campaign_touch')")
DAY = {"sqlite": "date({})", "postgresql": "({})::date"}
FK = "fk_activities_campaign_id_classifier_items"


def _add(dialect: str, kind: str, value: str, day: str, new: str, touches: str,
         rest: str = "WHERE true") -> str:
    """Add (new, touches) to the row of (kind, value, day) (as in 0018)."""
    t = "marketing_daily." if dialect == "postgresql" else ""
    return (f"INSERT INTO marketing_daily (kind, value, day, new_clients, touches) "
            f"SELECT '{kind}', coalesce({value}, 0), {DAY[dialect].format(day)}, {new}, "
            f"{touches} {rest} ON CONFLICT (kind, value, day) DO UPDATE SET "
            f"new_clients = {t}new_clients + excluded.new_clients, "
            f"touches = {t}touches + excluded.touches;")


def _client_count(dialect: str, row: str, sign: str) -> list[str]:
    return [_add(dialect, k, f"{row}.{k}_id", f"{row}.created_at", sign, "0",
                 f"WHERE NOT {row}.is_deleted") for k in KINDS]


def _client_touches(dialect: str, row: str, sign: str, only_changed: bool,
                    own: bool) -> list[str]:
    """± the touches of the client `row` (new / old), day by day, towards its values (and,
    with `own`, the campaign ones towards their own campaign when they have one)."""
    day = DAY[dialect].format("a.occurred_at")
    out = []
    for k in KINDS:
        changed = f" AND old.{k}_id IS DISTINCT FROM new.{k}_id" if only_changed else ""
        if dialect == "sqlite":
            changed = changed.replace("IS DISTINCT FROM", "IS NOT")
        value, group = f"{row}.{k}_id", day
        if own and k == "campaign":
            # A client's campaign changed: its touches with a campaign of their own stay.
            if only_changed:
                changed += " AND a.campaign_id IS NULL"
            # Grouped by the value too (one row per key for ON CONFLICT).
            value = f"coalesce(a.campaign_id, {row}.{k}_id)"
            group = f"{value}, {day}"
        out.append(_add(dialect, k, value, "a.occurred_at", "0", f"{sign}count(*)",
                        f"FROM activities a WHERE a.client_id = {row}.id "
                        f"AND a.type_id = {TOUCH}{changed} GROUP BY {group}"))
    return out


def _touch(dialect: str, row: str, sign: str, own: bool) -> list[str]:
    """± one touch `row` (new / old) towards the values of its client (and its own
    campaign, with `own`)."""
    out = []
    for k in KINDS:
        value = f"c.{k}_id"
        if own and k == "campaign":
            value = f"coalesce({row}.campaign_id, c.{k}_id)"
        out.append(_add(dialect, k, value, f"{row}.occurred_at", "0", f"{sign}1",
                        f"FROM clients c WHERE c.id = {row}.client_id "
                        f"AND {row}.type_id = {TOUCH}"))
    return out


CLIENT_COLS = "created_at, is_deleted, " + ", ".join(f"{k}_id" for k in KINDS)


def _touch_cols(own: bool) -> str:
    return "client_id, type_id, occurred_at" + (", campaign_id" if own else "")


def _sqlite_up(own: bool) -> list[str]:
    def trigger(name: str, when: str, body: list[str]) -> str:
        return f"CREATE TRIGGER {name} {when} BEGIN {' '.join(body)} END"

    s = "sqlite"
    cols = _touch_cols(own)
    return [
        trigger("marketing_client_insert", "AFTER INSERT ON clients",
                _client_count(s, "new", "1")),
        trigger("marketing_client_delete", "BEFORE DELETE ON clients",
                _client_count(s, "old", "-1") + _client_touches(s, "old", "-", False, own)),
        trigger("marketing_client_update", f"AFTER UPDATE OF {CLIENT_COLS} ON clients",
                _client_count(s, "old", "-1") + _client_count(s, "new", "1")
                + _client_touches(s, "old", "-", True, own)
                + _client_touches(s, "new", "", True, own)),
        trigger("marketing_touch_insert", "AFTER INSERT ON activities",
                _touch(s, "new", "", own)),
        trigger("marketing_touch_delete", "AFTER DELETE ON activities",
                _touch(s, "old", "-", own)),
        trigger("marketing_touch_update_old", f"AFTER UPDATE OF {cols} ON activities",
                _touch(s, "old", "-", own)),
        trigger("marketing_touch_update_new", f"AFTER UPDATE OF {cols} ON activities",
                _touch(s, "new", "", own)),
    ]


SQLITE_DOWN = ("marketing_client_insert", "marketing_client_delete", "marketing_client_update",
               "marketing_touch_insert", "marketing_touch_delete", "marketing_touch_update_old",
               "marketing_touch_update_new")


def _pg_up(own: bool) -> list[str]:
    p = "postgresql"

    def block(lines: list[str]) -> str:
        return "\n    ".join(lines)

    clients = f"""CREATE FUNCTION marketing_client_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {block(_client_count(p, "NEW", "1"))}
  ELSIF TG_OP = 'DELETE' THEN
    {block(_client_count(p, "OLD", "-1"))}
    {block(_client_touches(p, "OLD", "-", False, own))}
    RETURN OLD;
  ELSE
    {block(_client_count(p, "OLD", "-1"))}
    {block(_client_count(p, "NEW", "1"))}
    {block(_client_touches(p, "OLD", "-", True, own))}
    {block(_client_touches(p, "NEW", "", True, own))}
  END IF;
  RETURN NULL;
END $$""".replace("old.", "OLD.").replace("new.", "NEW.")
    touches = f"""CREATE FUNCTION marketing_touch_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    {block(_touch(p, "OLD", "-", own))}
  END IF;
  IF TG_OP <> 'DELETE' THEN
    {block(_touch(p, "NEW", "", own))}
  END IF;
  RETURN NULL;
END $$"""
    return [
        clients,
        "CREATE TRIGGER marketing_client_sync AFTER INSERT OR UPDATE OF "
        f"{CLIENT_COLS} ON clients FOR EACH ROW EXECUTE FUNCTION marketing_client_sync()",
        "CREATE TRIGGER marketing_client_gone BEFORE DELETE ON clients "
        "FOR EACH ROW EXECUTE FUNCTION marketing_client_sync()",
        touches,
        "CREATE TRIGGER marketing_touch_sync AFTER INSERT OR DELETE "
        f"OR UPDATE OF {_touch_cols(own)} ON activities "
        "FOR EACH ROW EXECUTE FUNCTION marketing_touch_sync()",
    ]


PG_DOWN = (
    "DROP TRIGGER marketing_touch_sync ON activities",
    "DROP FUNCTION marketing_touch_sync()",
    "DROP TRIGGER marketing_client_gone ON clients",
    "DROP TRIGGER marketing_client_sync ON clients",
    "DROP FUNCTION marketing_client_sync()",
)


def _recount_campaigns(dialect: str, own: bool) -> list[str]:
    """The campaign rows of marketing_daily from scratch, under the rule `own` or the old."""
    value = "coalesce(a.campaign_id, c.campaign_id)" if own else "c.campaign_id"
    day = DAY[dialect].format("created_at")
    out = [
        "DELETE FROM marketing_daily WHERE kind = 'campaign';",
        _add(dialect, "campaign", "campaign_id", "created_at", "count(*)", "0",
             f"FROM clients WHERE NOT is_deleted GROUP BY coalesce(campaign_id, 0), {day}"),
    ]
    day = DAY[dialect].format("a.occurred_at")
    out.append(_add(dialect, "campaign", value, "a.occurred_at", "0", "count(*)",
                    f"FROM activities a JOIN clients c ON c.id = a.client_id "
                    f"WHERE a.type_id = {TOUCH} GROUP BY coalesce({value}, 0), {day}"))
    return [s.rstrip(";") for s in out]


def _triggers(dialect: str, own: bool) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER {name}" for name in SQLITE_DOWN] + _sqlite_up(own)
    return list(PG_DOWN) + _pg_up(own)


# The campaign a broadcast's delivery recorded in its details (crm.mailings), if it is one.
BACKFILL = {
    "sqlite": "UPDATE activities SET campaign_id = CAST(json_extract(details, "
              "'$.campaign_id') AS INTEGER) WHERE type_id = {touch} "
              "AND json_type(details, '$.mailing_id') = 'integer' "
              "AND json_type(details, '$.campaign_id') = 'integer' "
              "AND CAST(json_extract(details, '$.campaign_id') AS INTEGER) IN "
              "(SELECT id FROM classifier_items WHERE kind = 'campaign')",
    "postgresql": "UPDATE activities SET campaign_id = (details ->> 'campaign_id')::integer "
                  "WHERE type_id = {touch} "
                  "AND json_typeof(details -> 'mailing_id') = 'number' "
                  "AND json_typeof(details -> 'campaign_id') = 'number' "
                  "AND (details ->> 'campaign_id') ~ '^[0-9]{{1,9}}$' "
                  "AND (details ->> 'campaign_id')::integer IN "
                  "(SELECT id FROM classifier_items WHERE kind = 'campaign')",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # SQLite adds a column with a column-level REFERENCES (and drops it again natively);
        # batch mode would rebuild the table and lose its triggers. (No ON DELETE, as on the
        # client's campaign: SQLite does not reflect a column-level one, and campaigns are
        # archived, never deleted.)
        op.execute(f"ALTER TABLE activities ADD COLUMN campaign_id INTEGER CONSTRAINT {FK} "
                   "REFERENCES classifier_items (id)")
    else:
        op.add_column("activities", sa.Column("campaign_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "activities", "classifier_items", ["campaign_id"], ["id"])
    op.execute(BACKFILL[dialect].format(touch=TOUCH))
    # The touches of a period by client read from the index alone, with their campaign too.
    op.drop_index("ix_activities_type_time", table_name="activities")
    op.create_index("ix_activities_type_time", "activities",
                    ["type_id", "occurred_at", "client_id", "campaign_id"])
    for statement in _triggers(dialect, True) + _recount_campaigns(dialect, True):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _triggers(dialect, False) + _recount_campaigns(dialect, False):
        op.execute(statement)
    op.drop_index("ix_activities_type_time", table_name="activities")
    op.create_index("ix_activities_type_time", "activities",
                    ["type_id", "occurred_at", "client_id"])
    if dialect == "sqlite":
        op.execute("ALTER TABLE activities DROP COLUMN campaign_id")
    else:
        op.drop_constraint(FK, "activities", type_="foreignkey")
        op.drop_column("activities", "campaign_id")
