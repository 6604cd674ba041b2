"""report speed: the marketing report's new clients and campaign touches per classifier value
and UTC day, and the funnel's stays in a stage, kept on write

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02

`marketing_daily` holds, per client classifier (kind: source, segment, region, industry,
campaign), value (0: not set on the card) and UTC day, how many clients were created that
day (deleted ones left out) and how many history records of the type «campaign touch» were
logged that day on clients of that value. Everyone's marketing report over a year reads a
few thousand of its rows (the whole UTC days of the period) instead of every client and
every touch joined to its client; the hours at the period's ends (a local midnight is not a
UTC one) still come from the tables themselves.

Triggers keep it exact:
* on `clients` — a new client counts on its creation day; a correction of the creation
  time, of `is_deleted` or of a classifier moves its count, and a changed classifier moves
  the client's touches day by day to the new value; before a client row is deleted its count
  and its touches are taken off (its history goes with it by ON DELETE CASCADE, by when the
  client row is gone, so the history's triggers find no client and count nothing again);
* on `activities` — a touch inserted, deleted or corrected (type, time, client) counts
  towards the values its client has.
The touch type is the `activity_type` classifier item with code `campaign_touch`
(crm.reports.marketing.TOUCH).

`deal_stage_stays` holds each stay of a deal in a stage that has ended: the stage event that
ended it (moved on, won, lost), the stage's code, when, the deal's owner and the stay's length
in milliseconds from the deal's stage event before (or its opening) — what the funnel's
"time per stage" used to compute with a window over every stage event of the period's deals.
Any write of a deal's stage event (insert, correction, deletion, the deal cleared by SET NULL)
recomputes that deal's rows, and so does a change of the deal's owner or opening time: a deal
has a handful of events, so it is a few rows each time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("source", "segment", "region", "industry", "campaign")
TOUCH = ("(SELECT id FROM classifier_items WHERE kind = 'activity_type' "
         "AND code = 'campaign_touch')")
# The UTC day of a stored (naive UTC) time, per dialect.
DAY = {"sqlite": "date({})", "postgresql": "({})::date"}


def _add(dialect: str, kind: str, value: str, day: str, new: str, touches: str,
         rest: str = "WHERE true") -> str:
    """Add (new, touches) to the row of (kind, value, day); `rest` is the FROM / WHERE /
    GROUP BY of the SELECT the figures come from (SQLite needs a WHERE before ON CONFLICT)."""
    t = "marketing_daily." if dialect == "postgresql" else ""
    return (f"INSERT INTO marketing_daily (kind, value, day, new_clients, touches) "
            f"SELECT '{kind}', coalesce({value}, 0), {DAY[dialect].format(day)}, {new}, "
            f"{touches} {rest} ON CONFLICT (kind, value, day) DO UPDATE SET "
            f"new_clients = {t}new_clients + excluded.new_clients, "
            f"touches = {t}touches + excluded.touches;")


def _client_count(dialect: str, row: str, sign: str) -> list[str]:
    """± the client `row` (new / old) on its creation day, unless deleted."""
    return [_add(dialect, k, f"{row}.{k}_id", f"{row}.created_at", sign, "0",
                 f"WHERE NOT {row}.is_deleted") for k in KINDS]


def _client_touches(dialect: str, row: str, sign: str, only_changed: bool) -> list[str]:
    """± the touches of the client `row` (new / old), day by day, towards its values; with
    only_changed, only for the classifiers the update changed."""
    day = DAY[dialect].format("a.occurred_at")
    out = []
    for k in KINDS:
        changed = f" AND old.{k}_id IS DISTINCT FROM new.{k}_id" if only_changed else ""
        if dialect == "sqlite":
            changed = changed.replace("IS DISTINCT FROM", "IS NOT")
        out.append(_add(dialect, k, f"{row}.{k}_id", "a.occurred_at", "0",
                        f"{sign}count(*)",
                        f"FROM activities a WHERE a.client_id = {row}.id "
                        f"AND a.type_id = {TOUCH}{changed} GROUP BY {day}"))
    return out


def _touch(dialect: str, row: str, sign: str) -> list[str]:
    """± one touch `row` (new / old) towards the values of its client."""
    return [_add(dialect, k, f"c.{k}_id", f"{row}.occurred_at", "0", f"{sign}1",
                 f"FROM clients c WHERE c.id = {row}.client_id AND {row}.type_id = {TOUCH}")
            for k in KINDS]


CLIENT_COLS = "created_at, is_deleted, " + ", ".join(f"{k}_id" for k in KINDS)


def _sqlite_up() -> list[str]:
    def trigger(name: str, when: str, body: list[str]) -> str:
        return f"CREATE TRIGGER {name} {when} BEGIN {' '.join(body)} END"

    s = "sqlite"
    return [
        trigger("marketing_client_insert", "AFTER INSERT ON clients",
                _client_count(s, "new", "1")),
        trigger("marketing_client_delete", "BEFORE DELETE ON clients",
                _client_count(s, "old", "-1") + _client_touches(s, "old", "-", False)),
        trigger("marketing_client_update", f"AFTER UPDATE OF {CLIENT_COLS} ON clients",
                _client_count(s, "old", "-1") + _client_count(s, "new", "1")
                + _client_touches(s, "old", "-", True) + _client_touches(s, "new", "", True)),
        trigger("marketing_touch_insert", "AFTER INSERT ON activities", _touch(s, "new", "")),
        trigger("marketing_touch_delete", "AFTER DELETE ON activities", _touch(s, "old", "-")),
        trigger("marketing_touch_update_old",
                "AFTER UPDATE OF client_id, type_id, occurred_at ON activities",
                _touch(s, "old", "-")),
        trigger("marketing_touch_update_new",
                "AFTER UPDATE OF client_id, type_id, occurred_at ON activities",
                _touch(s, "new", "")),
    ]


SQLITE_DOWN = ("marketing_client_insert", "marketing_client_delete", "marketing_client_update",
               "marketing_touch_insert", "marketing_touch_delete", "marketing_touch_update_old",
               "marketing_touch_update_new")


def _pg_up() -> list[str]:
    p = "postgresql"

    def block(lines: list[str]) -> str:
        return "\n    ".join(lines)

    clients = f"""CREATE FUNCTION marketing_client_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {block(_client_count(p, "NEW", "1"))}
  ELSIF TG_OP = 'DELETE' THEN
    {block(_client_count(p, "OLD", "-1"))}
    {block(_client_touches(p, "OLD", "-", False))}
    RETURN OLD;
  ELSE
    {block(_client_count(p, "OLD", "-1"))}
    {block(_client_count(p, "NEW", "1"))}
    {block(_client_touches(p, "OLD", "-", True))}
    {block(_client_touches(p, "NEW", "", True))}
  END IF;
  RETURN NULL;
END $$""".replace("old.", "OLD.").replace("new.", "NEW.")
    touches = f"""CREATE FUNCTION marketing_touch_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    {block(_touch(p, "OLD", "-"))}
  END IF;
  IF TG_OP <> 'DELETE' THEN
    {block(_touch(p, "NEW", ""))}
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
        "OR UPDATE OF client_id, type_id, occurred_at ON activities "
        "FOR EACH ROW EXECUTE FUNCTION marketing_touch_sync()",
    ]


PG_DOWN = (
    "DROP TRIGGER marketing_touch_sync ON activities",
    "DROP FUNCTION marketing_touch_sync()",
    "DROP TRIGGER marketing_client_gone ON clients",
    "DROP TRIGGER marketing_client_sync ON clients",
    "DROP FUNCTION marketing_client_sync()",
)


def _backfill(dialect: str) -> list[str]:
    out = []
    for k in KINDS:
        day = DAY[dialect].format("created_at")
        out.append(_add(dialect, k, f"{k}_id", "created_at", "count(*)", "0",
                        f"FROM clients WHERE NOT is_deleted GROUP BY coalesce({k}_id, 0), {day}"))
        day = DAY[dialect].format("a.occurred_at")
        out.append(_add(dialect, k, f"c.{k}_id", "a.occurred_at", "0", "count(*)",
                        f"FROM activities a JOIN clients c ON c.id = a.client_id "
                        f"WHERE a.type_id = {TOUCH} GROUP BY coalesce(c.{k}_id, 0), {day}"))
    return [s.rstrip(";") for s in out]


# The history events that put a deal into a stage or take it out of one, and those that end
# a stay (storage.repo.reports.STAGE_EVENTS, LEAVING_EVENTS).
STAGE_EVENTS = ("deal_created", "stage_changed", "deal_won", "deal_lost", "deal_reopened")
LEAVING_EVENTS = ("stage_changed", "deal_won", "deal_lost")
# Exact milliseconds since the epoch of a naive UTC time (storage.repo.reports.epoch_ms).
EPOCH_MS = {"sqlite": "CAST((julianday({0}) - 2440587.5) * 86400000 + 0.5 AS BIGINT)",
            "postgresql": "CAST(floor(extract(epoch FROM {0}) * 1000) AS BIGINT)"}
JSON_TEXT = {"sqlite": "json_extract({0}, '$.{1}')", "postgresql": "({0} ->> '{1}')"}


def _names(events: tuple[str, ...]) -> str:
    return ", ".join(f"'{e}'" for e in events)


def _stays(dialect: str, deal: str | None) -> str:
    """The INSERT of the stays of the deal `deal` (an SQL expression), or of every deal."""
    epoch = EPOCH_MS[dialect]
    js = JSON_TEXT[dialect]
    where = f"a.deal_id = {deal}" if deal else "a.deal_id IS NOT NULL"
    part = "" if deal else "PARTITION BY a.deal_id "
    return (
        "INSERT INTO deal_stage_stays (activity_id, deal_id, owner_id, left_at, code, ms) "
        f"SELECT id, deal_id, owner_id, at, code, {epoch.format('at')} - "
        f"{epoch.format('since')} FROM (SELECT a.id, a.deal_id, d.owner_id, a.event, "
        "a.occurred_at AS at, coalesce(lag(a.occurred_at) OVER "
        f"({part}ORDER BY a.occurred_at, a.id), d.opened_at) AS since, "
        f"coalesce({js.format('a.details', 'from')}, {js.format('a.details', 'stage')}) "
        "AS code FROM activities a JOIN deals d ON d.id = a.deal_id "
        f"WHERE {where} AND a.event IN ({_names(STAGE_EVENTS)})) s "
        f"WHERE event IN ({_names(LEAVING_EVENTS)}) AND code IS NOT NULL"
    )


def _redo(dialect: str, deal: str) -> list[str]:
    return [f"DELETE FROM deal_stage_stays WHERE deal_id = {deal};", _stays(dialect, deal) + ";"]


def _stays_sqlite_up() -> list[str]:
    s = "sqlite"
    stage = f"IN ({_names(STAGE_EVENTS)})"
    return [
        f"CREATE TRIGGER stays_insert AFTER INSERT ON activities WHEN new.event {stage} "
        f"AND new.deal_id IS NOT NULL BEGIN {' '.join(_redo(s, 'new.deal_id'))} END",
        f"CREATE TRIGGER stays_delete AFTER DELETE ON activities WHEN old.event {stage} "
        f"AND old.deal_id IS NOT NULL BEGIN {' '.join(_redo(s, 'old.deal_id'))} END",
        "CREATE TRIGGER stays_update AFTER UPDATE OF deal_id, event, occurred_at, details "
        f"ON activities WHEN old.event {stage} OR new.event {stage} BEGIN "
        f"{' '.join(_redo(s, 'old.deal_id') + _redo(s, 'new.deal_id'))} END",
        "CREATE TRIGGER stays_deal_update AFTER UPDATE OF owner_id, opened_at ON deals "
        f"BEGIN {' '.join(_redo(s, 'new.id'))} END",
        "CREATE TRIGGER stays_deal_delete AFTER DELETE ON deals "
        "BEGIN DELETE FROM deal_stage_stays WHERE deal_id = old.id; END",
    ]


STAYS_SQLITE_DOWN = ("stays_insert", "stays_delete", "stays_update", "stays_deal_update",
                     "stays_deal_delete")


def _stays_pg_up() -> list[str]:
    p = "postgresql"
    stage = f"IN ({_names(STAGE_EVENTS)})"
    return [
        f"""CREATE FUNCTION stays_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.event {stage} AND OLD.deal_id IS NOT NULL THEN
    {' '.join(_redo(p, 'OLD.deal_id'))}
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.deal_id IS NOT NULL
      AND (NEW.event {stage} OR (TG_OP = 'UPDATE' AND OLD.event {stage})) THEN
    {' '.join(_redo(p, 'NEW.deal_id'))}
  END IF;
  RETURN NULL;
END $$""",
        "CREATE TRIGGER stays_sync AFTER INSERT OR DELETE OR UPDATE OF deal_id, event, "
        "occurred_at, details ON activities FOR EACH ROW EXECUTE FUNCTION stays_sync()",
        f"""CREATE FUNCTION stays_deal_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM deal_stage_stays WHERE deal_id = OLD.id;
  ELSE
    {' '.join(_redo(p, 'NEW.id'))}
  END IF;
  RETURN NULL;
END $$""",
        "CREATE TRIGGER stays_deal_sync AFTER DELETE OR UPDATE OF owner_id, opened_at ON deals "
        "FOR EACH ROW EXECUTE FUNCTION stays_deal_sync()",
    ]


STAYS_PG_DOWN = (
    "DROP TRIGGER stays_deal_sync ON deals",
    "DROP FUNCTION stays_deal_sync()",
    "DROP TRIGGER stays_sync ON activities",
    "DROP FUNCTION stays_sync()",
)


def upgrade() -> None:
    op.create_table(
        "marketing_daily",
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),  # a classifier item id; 0: not set
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("new_clients", sa.Integer(), nullable=False),
        sa.Column("touches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", "day", name="pk_marketing_daily"),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    for statement in _backfill(dialect):
        op.execute(statement)
    for statement in _sqlite_up() if dialect == "sqlite" else _pg_up():
        op.execute(statement)
    op.create_table(
        "deal_stage_stays",
        sa.Column("activity_id", sa.Integer(), nullable=False),  # the event ending the stay
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=False), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name="pk_deal_stage_stays"),
    )
    op.create_index("ix_deal_stage_stays_owner_left", "deal_stage_stays",
                    ["owner_id", "left_at", "code", "ms"])
    op.create_index("ix_deal_stage_stays_deal", "deal_stage_stays", ["deal_id"])
    op.execute(_stays(dialect, None))
    for statement in _stays_sqlite_up() if dialect == "sqlite" else _stays_pg_up():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in STAYS_SQLITE_DOWN:
            op.execute(f"DROP TRIGGER {name}")
    else:
        for statement in STAYS_PG_DOWN:
            op.execute(statement)
    op.drop_table("deal_stage_stays")
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_DOWN:
            op.execute(f"DROP TRIGGER {name}")
    else:
        for statement in PG_DOWN:
            op.execute(statement)
    op.drop_table("marketing_daily")
