"""Grouped queries behind the reports (crm/reports/): one row per owner (and type, reason …)
and period, never one query per manager. Each query covers the report's period and the
previous one at once; `bucket` is 0 for the current period, 1 for the previous.

Money columns hold integer minor units, so SUM is exact on both backends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import (
    Activity,
    ActivityDaily,
    ActivityMonthly,
    Client,
    Deal,
    DealStageStay,
    Invoice,
    MarketingDaily,
    Payment,
    PlannedContact,
    Stage,
)
from storage.types import Money

Span = tuple[datetime, datetime]  # [start, end) in UTC
DaySpan = tuple[date, date]  # local dates, both included


@dataclass(frozen=True, slots=True)
class Window:
    """The current period and the previous one, as UTC instants and as local dates."""

    current: Span
    previous: Span
    current_days: DaySpan
    previous_days: DaySpan


def _in(col: Any, span: Span) -> ColumnElement[bool]:
    return and_(col >= span[0], col < span[1])


def _in_days(col: Any, span: DaySpan) -> ColumnElement[bool]:
    return and_(col >= span[0], col <= span[1])


def _bucket(col: Any, w: Window) -> tuple[ColumnElement[int], ColumnElement[bool]]:
    return case((_in(col, w.current), 0), else_=1), or_(_in(col, w.current), _in(col, w.previous))


def _month_after(d: date) -> date:
    """The first day of the month after d's."""
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True, slots=True)
class _Split:
    """A span cut into whole UTC months, whole UTC days (outside those months) and the
    partial days at its ends; dates are [first, end)."""

    months: list[tuple[date, date]]
    days: list[tuple[date, date]]
    parts: list[Span]


def _split(span: Span) -> _Split:
    start, end = span[0].astimezone(UTC), span[1].astimezone(UTC)
    first = start.date() if start.timetz() == time(0, tzinfo=UTC) else (
        start.date() + timedelta(days=1))
    last = end.date()
    if first >= last:
        return _Split([], [], [span])
    parts = [p for p in ((start, datetime.combine(first, time(0), UTC)),
                         (datetime.combine(last, time(0), UTC), end)) if p[0] < p[1]]
    m0 = first if first.day == 1 else _month_after(first)
    m1 = last.replace(day=1)
    if m0 >= m1:
        return _Split([], [(first, last)], parts)
    days = [d for d in ((first, m0), (m1, last)) if d[0] < d[1]]
    return _Split([(m0, m1)], days, parts)


async def _pre_aggregated(
    s: AsyncSession, table: type[ActivityDaily] | type[ActivityMonthly], owner_ids: list[int],
    b: int, first: date, end: date, counts: dict[tuple[int, int, int], int]
) -> None:
    # One range a query: an OR of ranges makes SQLite read each author's every row.
    for r in await s.execute(
        select(table.author_id, table.type_id, func.sum(table.n))
        .where(table.author_id.in_(owner_ids), table.day >= first, table.day < end)
        .group_by(table.author_id, table.type_id)
    ):
        counts[(r[0], r[1], b)] += int(r[2] or 0)


async def contacts_by_type(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> list[tuple[int, int, int, int]]:
    """(author, type, bucket, count) of typed contacts: whole UTC months and days from the
    counts kept by triggers (activity_monthly, activity_daily), the partial days at the
    edges from the history itself."""
    counts: dict[tuple[int, int, int], int] = defaultdict(int)
    for b, span in ((0, w.current), (1, w.previous)):
        cut = _split(span)
        for first, end in cut.months:
            await _pre_aggregated(s, ActivityMonthly, owner_ids, b, first, end, counts)
        for first, end in cut.days:
            await _pre_aggregated(s, ActivityDaily, owner_ids, b, first, end, counts)
        for part in cut.parts:
            for r in await s.execute(
                select(Activity.author_id, Activity.type_id, func.count())
                .where(Activity.author_id.in_(owner_ids), Activity.type_id.is_not(None),
                       _in(Activity.occurred_at, part))
                .group_by(Activity.author_id, Activity.type_id)
            ):
                counts[(r[0] or 0, r[1] or 0, b)] += int(r[2])
    return [(a, t, b, n) for (a, t, b), n in counts.items() if n]


async def deal_counts(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> dict[tuple[int, int], tuple[int, int]]:
    """(owner, bucket) → (deals opened, deals lost)."""
    opened: dict[tuple[int, int], int] = {}
    bucket, within = _bucket(Deal.opened_at, w)
    for owner, b, n in await s.execute(
        select(Deal.owner_id, bucket, func.count())
        .where(Deal.owner_id.in_(owner_ids), within)
        .group_by(Deal.owner_id, bucket)
    ):
        opened[(owner or 0, int(b))] = int(n)
    lost: dict[tuple[int, int], int] = {}
    bucket, within = _bucket(Deal.closed_at, w)
    for owner, b, n in await s.execute(
        select(Deal.owner_id, bucket, func.count())
        .where(Deal.owner_id.in_(owner_ids), Deal.status == "lost", within)
        .group_by(Deal.owner_id, bucket)
    ):
        lost[(owner or 0, int(b))] = int(n)
    return {k: (opened.get(k, 0), lost.get(k, 0)) for k in {*opened, *lost}}


async def won_deals(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> Sequence[tuple[int, int, Decimal, datetime, datetime]]:
    """(owner, bucket, amount, opened_at, closed_at) of deals won: few rows, and the
    duration is a date difference no SQL dialect spells the same way."""
    bucket, within = _bucket(Deal.closed_at, w)
    rows = await s.execute(
        select(Deal.owner_id, bucket, Deal.amount, Deal.opened_at, Deal.closed_at)
        .where(Deal.owner_id.in_(owner_ids), Deal.status == "won", within)
    )
    return [(r[0] or 0, int(r[1]), r[2], r[3], r[4]) for r in rows if r[4] is not None]


async def payments_received(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> dict[tuple[int, int], Decimal]:
    """(owner of the deal, bucket) → payments received; a payment's date is a local date."""
    cur, prev = _in_days(Payment.paid_on, w.current_days), _in_days(Payment.paid_on,
                                                                       w.previous_days)
    bucket = case((cur, 0), else_=1)
    rows = await s.execute(
        select(Deal.owner_id, bucket, func.sum(Payment.amount))
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(Deal, Deal.id == Invoice.deal_id)
        .where(Deal.owner_id.in_(owner_ids), or_(cur, prev))
        .group_by(Deal.owner_id, bucket)
    )
    return {(r[0] or 0, int(r[1])): r[2] or Decimal(0) for r in rows}


async def losses(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> list[tuple[int, int | None, int, int, int, Decimal]]:
    """(owner, reason, stage where lost, bucket, deals, amount) of deals lost in the periods.
    A deal lost before the stage was recorded on it counts at its current stage."""
    bucket, within = _bucket(Deal.closed_at, w)
    stage = func.coalesce(Deal.lost_stage_id, Deal.stage_id)
    rows = await s.execute(
        select(Deal.owner_id, Deal.loss_reason_id, stage, bucket, func.count(),
               func.sum(Deal.amount))
        .where(Deal.owner_id.in_(owner_ids), Deal.status == "lost", within)
        .group_by(Deal.owner_id, Deal.loss_reason_id, stage, bucket)
    )
    return [(r[0] or 0, r[1], int(r[2]), int(r[3]), int(r[4]), r[5] or Decimal(0))
            for r in rows]


async def open_invoices(
    s: AsyncSession, owner_ids: list[int]
) -> list[tuple[int, str | None, date, Decimal, str, int, int, str]]:
    """(invoice, number, due on, still owed, currency, owner, client id, client name) of the
    invoices not paid in full; the payments are summed per invoice in the same query."""
    paid = (
        select(Payment.invoice_id, func.sum(Payment.amount).label("paid"))
        .group_by(Payment.invoice_id)
        .subquery()
    )
    paid_sum = type_coerce(func.coalesce(paid.c.paid, 0), Money)
    rows = await s.execute(
        select(Invoice.id, Invoice.number, Invoice.due_on, Invoice.amount, paid_sum,
               Invoice.currency, Deal.owner_id, Client.id, Client.name)
        .join(Deal, Deal.id == Invoice.deal_id)
        .join(Client, Client.id == Deal.client_id)
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(Deal.owner_id.in_(owner_ids), Invoice.status != "cancelled",
               Client.is_deleted.is_(False), Invoice.amount > paid_sum)
        .order_by(Invoice.due_on, Invoice.id)
    )
    return [(r[0], r[1], r[2], r[3] - r[4], r[5], r[6] or 0, r[7], r[8]) for r in rows]


async def coverage(
    s: AsyncSession, owner_ids: list[int], since_30: datetime, since_90: datetime
) -> dict[int, tuple[int, int, int, int, int]]:
    """owner → (clients, contacted since_30, contacted since_90, no planned contact, never
    contacted), in one pass over the clients (their latest contact is kept on each); a
    planned contact is an indexed EXISTS by client."""

    def contacted(since: datetime | None) -> Any:
        # clients.last_contact_at is the latest typed record, kept by triggers (0008).
        if since is None:
            return Client.last_contact_at.is_not(None)
        return Client.last_contact_at >= since

    planned = exists().where(PlannedContact.client_id == Client.id,
                             PlannedContact.status == "planned")

    def count_if(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    rows = await s.execute(
        select(Client.owner_id, func.count(), count_if(contacted(since_30)),
               count_if(contacted(since_90)), count_if(~planned),
               count_if(~contacted(None)))
        .where(Client.owner_id.in_(owner_ids), Client.is_deleted.is_(False))
        .group_by(Client.owner_id)
    )
    return {r[0] or 0: (int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0),
                        int(r[5] or 0)) for r in rows}


# --- dynamics and forecast: figures by consecutive periods ------------------------------------
# The periods are given by their edges (ascending, the last one the end of the last period),
# computed by the caller: no date arithmetic in SQL, so it reads the same on both backends and
# a week across a DST change is whatever the caller's UTC edges say. One SELECT per period,
# numbered 0, 1, … and glued with UNION ALL: each reads its range from an index in order
# (a CASE numbering the rows instead made SQLite sort every row: 20× slower at 100k).


def _by_period(col: Any, edges: Sequence[Any],
               query: Callable[[Any, ColumnElement[bool]], Select[Any]]) -> CompoundSelect[Any]:
    """query(the period's number, "col within the period") for each period, in one statement."""
    return union_all(*(query(literal_column(str(i)), and_(col >= a, col < b))
                       for i, (a, b) in enumerate(pairwise(edges))))


async def contacts_by_bucket(
    s: AsyncSession, owner_ids: list[int], edges: Sequence[datetime]
) -> dict[tuple[int, int], int]:
    """(author, period) → typed contacts."""
    rows = await s.execute(_by_period(Activity.occurred_at, edges, lambda n, within: (
        select(Activity.author_id, n, func.count())
        .where(Activity.author_id.in_(owner_ids), Activity.type_id.is_not(None), within)
        .group_by(Activity.author_id))))
    return {(r[0] or 0, int(r[1])): int(r[2]) for r in rows}


async def deals_opened_by_bucket(
    s: AsyncSession, owner_ids: list[int], edges: Sequence[datetime]
) -> dict[tuple[int, int], int]:
    """(owner, period) → deals opened."""
    rows = await s.execute(_by_period(Deal.opened_at, edges, lambda n, within: (
        select(Deal.owner_id, n, func.count())
        .where(Deal.owner_id.in_(owner_ids), within)
        .group_by(Deal.owner_id))))
    return {(r[0] or 0, int(r[1])): int(r[2]) for r in rows}


async def deals_won_by_bucket(
    s: AsyncSession, owner_ids: list[int], edges: Sequence[datetime]
) -> dict[tuple[int, int], tuple[int, Decimal]]:
    """(owner, period) → (deals won, their amount), by the day they were closed."""
    rows = await s.execute(_by_period(Deal.closed_at, edges, lambda n, within: (
        select(Deal.owner_id, n, func.count(), func.sum(Deal.amount))
        .where(Deal.owner_id.in_(owner_ids), Deal.status == "won", within)
        .group_by(Deal.owner_id))))
    return {(r[0] or 0, int(r[1])): (int(r[2]), r[3] or Decimal(0)) for r in rows}


async def payments_by_bucket(
    s: AsyncSession, owner_ids: list[int], days: Sequence[date]
) -> dict[tuple[int, int], Decimal]:
    """(owner of the deal, period) → payments received; `days` are local first days (the
    last one the day after the last period)."""
    rows = await s.execute(_by_period(Payment.paid_on, days, lambda n, within: (
        select(Deal.owner_id, n, func.sum(Payment.amount))
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .join(Deal, Deal.id == Invoice.deal_id)
        .where(Deal.owner_id.in_(owner_ids), within)
        .group_by(Deal.owner_id))))
    return {(r[0] or 0, int(r[1])): r[2] or Decimal(0) for r in rows}


async def invoices_due_by_bucket(
    s: AsyncSession, owner_ids: list[int], days: Sequence[date]
) -> dict[tuple[int, int], Decimal]:
    """(owner of the deal, period) → the amount of the invoices due in it (not cancelled)."""
    rows = await s.execute(_by_period(Invoice.due_on, days, lambda n, within: (
        select(Deal.owner_id, n, func.sum(Invoice.amount))
        .join(Deal, Deal.id == Invoice.deal_id)
        .where(Deal.owner_id.in_(owner_ids), Invoice.status != "cancelled", within)
        .group_by(Deal.owner_id))))
    return {(r[0] or 0, int(r[1])): r[2] or Decimal(0) for r in rows}


# The forecast's lines besides the months (numbers ≥ 0): overdue and without a date.
OVERDUE = -1
UNDATED = -2


async def forecast_by_bucket(
    s: AsyncSession, owner_ids: list[int], today: date, days: Sequence[date]
) -> list[tuple[int, int, int, int, Decimal]]:
    """(owner, line, probability, deals, amount) of the open deals of clients not deleted:
    line is OVERDUE (expected before `today`), UNDATED, or the period of `days` holding the
    expected close (the last number: on or after the last edge). The probability is the
    deal's own, else its stage's; amounts are summed per probability, so the weighting is
    exact."""
    col = Deal.expected_close
    later = len(days) - 1
    line = case((col.is_(None), UNDATED), (col < today, OVERDUE),
                *((col < edge, i) for i, edge in enumerate(days[1:])), else_=later)
    prob = func.coalesce(Deal.probability, Stage.probability)
    rows = await s.execute(
        select(Deal.owner_id, line, prob, func.count(), func.sum(Deal.amount))
        .join(Stage, Stage.id == Deal.stage_id)
        .join(Client, Client.id == Deal.client_id)
        .where(Deal.owner_id.in_(owner_ids), Deal.status == "open",
               Client.is_deleted.is_(False))
        .group_by(Deal.owner_id, line, prob)
    )
    return [(r[0] or 0, int(r[1]), int(r[2] or 0), int(r[3]), r[4] or Decimal(0))
            for r in rows]
# --- funnel and stages (crm/reports/funnel.py) ----------------------------------------------

# The history events that put a deal into a stage or take it out of one (crm/deals.py):
# deal_created {"to"}, stage_changed {"from", "to"}, deal_won / deal_lost {"stage"},
# deal_reopened {"from": the old status, "stage"}.
STAGE_EVENTS = ("deal_created", "stage_changed", "deal_won", "deal_lost", "deal_reopened")
# … of which these end a stay in a stage (migration 0018 keeps deal_stage_stays by both).
LEAVING_EVENTS = ("stage_changed", "deal_won", "deal_lost")


async def open_by_stage(
    s: AsyncSession, owner_ids: list[int]
) -> dict[int, tuple[int, Decimal]]:
    """stage → (open deals, their amount), now."""
    rows = await s.execute(
        select(Deal.stage_id, func.count(), func.sum(Deal.amount))
        .join(Client, Client.id == Deal.client_id)
        .where(Deal.owner_id.in_(owner_ids), Deal.status == "open",
               Client.is_deleted.is_(False))
        .group_by(Deal.stage_id)
    )
    return {int(r[0]): (int(r[1]), r[2] or Decimal(0)) for r in rows}


def _code(key: str) -> Any:
    return Activity.details[key].as_string()


async def furthest_stages(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> list[tuple[int, str, int, int]]:
    """(bucket, status, furthest stage order, deals) of the deals opened in either period:
    the latest stage (by sort order) a deal was ever in, by the stages its history names and
    the one it is in now."""
    bucket, within = _bucket(Deal.opened_at, w)
    opened = select(Deal.id).where(Deal.owner_id.in_(owner_ids), within)
    # Each event's "to", "from" and "stage" codes as their stage's order (NULL: no such
    # stage), by a CASE over the few stages: no join per event and key.
    orders = {code: order for code, order in await s.execute(
        select(Stage.code, Stage.sort_order))}
    keys = ("to", "from", "stage")

    def order_of(k: str) -> Any:
        return case(orders, value=_code(k)) if orders else literal_column("NULL")

    top = (
        select(Activity.deal_id.label("deal_id"),
               *(func.max(order_of(k)).label(f"top_{k}") for k in keys))
        .where(Activity.deal_id.in_(opened), Activity.event.in_(STAGE_EVENTS))
        .group_by(Activity.deal_id)
        .subquery()
    )
    now = aliased(Stage)
    furthest: Any = now.sort_order
    for k in keys:  # the greatest of them; a NULL compares false and keeps the one before
        col = top.c[f"top_{k}"]
        furthest = case((col > furthest, col), else_=furthest)
    rows = await s.execute(
        select(bucket, Deal.status, furthest, func.count())
        .join(now, now.id == Deal.stage_id)
        .outerjoin(top, top.c.deal_id == Deal.id)
        .where(Deal.owner_id.in_(owner_ids), within)
        .group_by(bucket, Deal.status, furthest)
    )
    return [(int(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]


async def stage_stays(
    s: AsyncSession, owner_ids: list[int], w: Window
) -> list[tuple[str, int, int, int]]:
    """(stage code, bucket, stays, their total length in ms) of the stays in a stage that
    ended in either period: a deal moved on from the stage, or was won or lost in it. A
    stay starts at the deal's stage event before (created, moved, reopened), or when the
    deal was opened if its history has none — computed per deal on write (deal_stage_stays,
    migration 0018)."""
    t = DealStageStay
    bucket, within = _bucket(t.left_at, w)
    rows = await s.execute(
        select(t.code, bucket, func.count(), func.sum(t.ms))
        .where(t.owner_id.in_(owner_ids), within)
        .group_by(t.code, bucket)
    )
    return [(str(r[0]), int(r[1]), int(r[2]), int(r[3] or 0)) for r in rows]


@dataclass(frozen=True, slots=True)
class StalledRow:
    deal_id: int
    title: str
    amount: Decimal
    stage_id: int
    stage_changed_at: datetime
    client_name: str
    owner_id: int


async def stalled(
    s: AsyncSession, owner_ids: list[int], cutoffs: dict[int, datetime], limit: int
) -> tuple[dict[int, int], list[StalledRow]]:
    """Open deals in a stage since before the stage's cutoff: (stage → how many, the
    `limit` longest in their stage)."""
    if not cutoffs:
        return {}, []
    late = or_(*(and_(Deal.stage_id == st, Deal.stage_changed_at < at)
                 for st, at in cutoffs.items()))
    where = (Deal.owner_id.in_(owner_ids), Deal.status == "open",
             Client.is_deleted.is_(False), late)
    counts = await s.execute(
        select(Deal.stage_id, func.count())
        .join(Client, Client.id == Deal.client_id).where(*where).group_by(Deal.stage_id))
    rows = await s.execute(
        select(Deal.id, Deal.title, Deal.amount, Deal.stage_id, Deal.stage_changed_at,
               Client.name, Deal.owner_id)
        .join(Client, Client.id == Deal.client_id).where(*where)
        .order_by(Deal.stage_changed_at, Deal.id).limit(limit))
    return ({int(r[0]): int(r[1]) for r in counts},
            [StalledRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or 0) for r in rows])


# --- how managers spend their time (crm/reports/timeuse.py) ---------------------------------


# Bind parameters a statement may carry (SQLite's default limit is 32766, asyncpg's 32767).
_MAX_PARAMS = 30000


async def contacts_by_slots(
    s: AsyncSession, owner_ids: list[int], edges: Sequence[datetime]
) -> list[tuple[int, int, int, int]]:
    """(author, type, slot, count) of typed contacts; slot i is [edges[i], edges[i + 1]),
    UTC instants (the caller's local midnights, so a day across a DST change has its 23 or
    25 hours). Each slot is read as `contacts_by_type` reads a period: its whole UTC months
    and days from the counts kept by triggers, the hours at its ends (a local midnight is not
    a UTC one) from the history. One SELECT per piece, glued with UNION ALL, a few
    statements at most (bind parameters are limited)."""
    if not owner_ids:
        return []
    pg = s.get_bind().dialect.name == "postgresql"
    if pg:  # one array parameter for every piece instead of the ids in each
        ids = bindparam("author_ids", owner_ids, type_=ARRAY(Integer))

        def by(col: Any) -> ColumnElement[bool]:
            return col == func.any(ids)  # type: ignore[no-any-return]
    else:
        def by(col: Any) -> ColumnElement[bool]:
            return col.in_(owner_ids)  # type: ignore[no-any-return]
    pieces: list[Select[Any]] = []
    whole: list[tuple[int, date, date]] = []  # (slot, first, end) of the whole UTC days
    parts: list[tuple[int, Span]] = []  # (slot, the hours at an end) in time order
    for i, (a, b) in enumerate(pairwise(edges)):
        cut = _split((a, b))
        if pg:
            whole += [(i, first, end) for first, end in (*cut.months, *cut.days)]
        parts += [(i, part) for part in cut.parts]
        n: Any = literal_column(str(i)).label("slot")
        for table, spans in (() if pg else ((ActivityMonthly, cut.months),
                                             (ActivityDaily, cut.days))):
            for first, end in spans:
                pieces.append(
                    select(table.author_id.label("author_id"), table.type_id.label("type_id"),
                           n, func.sum(table.n).label("n"))
                    .where(by(table.author_id), table.day >= first, table.day < end)
                    .group_by(table.author_id, table.type_id))
    # The hours after a slot's last UTC midnight and those before the next slot's first one
    # are one UTC day around the local midnight between them: read as one range.
    k = 0
    while k < len(parts):
        slot, (start, end) = parts[k]
        at = end
        after = slot
        if k + 1 < len(parts) and parts[k + 1][1][0] == end:
            after, (_s, end) = parts[k + 1][0], parts[k + 1][1]
            k += 1
        k += 1
        col = Activity.occurred_at
        split = [case((col < at, slot), else_=after)] if after != slot else []
        n = (split[0] if split else literal_column(str(slot))).label("slot")
        pieces.append(
            select(Activity.author_id.label("author_id"), Activity.type_id.label("type_id"),
                   n, func.count().label("n"))
            .where(by(Activity.author_id), Activity.type_id.is_not(None),
                   _in(col, (start, end)))
            .group_by(Activity.author_id, Activity.type_id, *split))
    if whole:
        # PostgreSQL: the whole days of every slot in one scan of activity_daily, each day's
        # slot found by width_bucket over the slots' day ranges (first, end, first, end …,
        # ascending): an odd bucket 2k + 1 is the (k + 1)-th range, whose slot the array of
        # slots gives; an even one is the days between ranges (partial days, read above).
        t = ActivityDaily
        bounds = [d for _i, first, end in whole for d in (first, end)]
        bucket = func.width_bucket(t.day, pg_array(bounds, type_=Date))
        slots = pg_array([i for i, _f, _e in whole], type_=Integer)
        pieces.append(
            select(t.author_id.label("author_id"), t.type_id.label("type_id"),
                   slots[(bucket + 1) / 2].label("slot"), func.sum(t.n).label("n"))
            .where(by(t.author_id), t.day >= bounds[0], t.day < bounds[-1], bucket % 2 == 1)
            .group_by(t.author_id, t.type_id, bucket))
    # (PostgreSQL: the ids are one array parameter, so any number of pieces fit in one.)
    per = max(1, len(pieces)) if pg else max(1, _MAX_PARAMS // (len(owner_ids) + 3))
    # Core execution: tens of thousands of plain rows, without the ORM's row processing.
    conn = await s.connection()
    counts: dict[tuple[int, int, int], int] = defaultdict(int)
    for k in range(0, len(pieces), per):
        # The pieces of a slot summed in SQL, a row per (author, type, slot) back. Columns by
        # name: SQLAlchemy builds the column objects of a subquery of a hundred SELECTs more
        # slowly than the database runs it.
        cols: list[Any] = [literal_column(c) for c in ("author_id", "type_id", "slot")]
        for r in await conn.execute(
            select(*cols, func.sum(literal_column("n")))
            .select_from(union_all(*pieces[k:k + per]).subquery("pieces"))
            .group_by(*cols)
        ):
            counts[(r[0] or 0, r[1] or 0, int(r[2]))] += int(r[3] or 0)
    return [(a, t, n, c) for (a, t, n), c in counts.items() if c]


# --- marketing ------------------------------------------------------------------------------

# The client's classifiers a marketing figure is grouped by (crm.reports.marketing.Dimension).
MARKETING_DIMENSIONS = (Client.source_id, Client.segment_id, Client.region_id,
                        Client.industry_id, Client.campaign_id)
Dims = tuple[int | None, ...]


def _owned(col: Any, owner_ids: list[int] | None) -> list[ColumnElement[bool]]:
    return [] if owner_ids is None else [col.in_(owner_ids)]


Spans = Sequence[tuple[int, Span]]  # (bucket, [start, end)) pairs


def window_spans(w: Window) -> list[tuple[int, Span]]:
    return [(0, w.current), (1, w.previous)]


async def marketing_new_clients(
    s: AsyncSession, owner_ids: list[int] | None, spans: Spans
) -> list[tuple[Dims, int, int]]:
    """(the client's five classifiers, bucket, clients created in the bucket's span);
    owner_ids None: anyone's."""
    if not spans:
        return []
    rows: Any = await s.execute(union_all(*(
        select(*MARKETING_DIMENSIONS, literal_column(str(b)), func.count())
        .where(_in(Client.created_at, span), Client.is_deleted.is_(False),
               *_owned(Client.owner_id, owner_ids))
        .group_by(*MARKETING_DIMENSIONS) for b, span in spans)))
    return [(tuple(r[:5]), int(r[5]), int(r[6])) for r in rows]


def whole_days(w: Window) -> tuple[list[tuple[int, date, date]], list[tuple[int, Span]]]:
    """Each period cut into its whole UTC days, as (bucket, first, end) of [first, end), and
    the partial days at its ends (bucket, span)."""
    days, parts = [], []
    for b, span in window_spans(w):
        cut = _split(span)
        days += [(b, first, end) for first, end in (*cut.months, *cut.days)]
        parts += [(b, part) for part in cut.parts]
    return days, parts


async def marketing_daily(
    s: AsyncSession, days: Sequence[tuple[int, date, date]]
) -> list[tuple[str, int | None, int, int, int]]:
    """(classifier kind, value or None: not set, bucket, new clients, touches) of everyone's
    clients, from the counts per UTC day kept by triggers (migration 0018)."""
    if not days:
        return []
    t = MarketingDaily
    rows: Any = await s.execute(union_all(*(
        select(t.kind, t.value, literal_column(str(b)), func.sum(t.new_clients),
               func.sum(t.touches))
        .where(t.day >= first, t.day < end)
        .group_by(t.kind, t.value) for b, first, end in days)))
    return [(str(r[0]), int(r[1]) or None, int(r[2]), int(r[3] or 0), int(r[4] or 0))
            for r in rows]


async def marketing_deal_counts(
    s: AsyncSession, owner_ids: list[int] | None, w: Window
) -> list[tuple[Dims, int, int, int]]:
    """(the client's five classifiers, bucket, deals opened, deals lost)."""
    out: dict[tuple[Dims, int], list[int]] = {}
    for col, lost in ((Deal.opened_at, False), (Deal.closed_at, True)):
        bucket, within = _bucket(col, w)
        cond = [within, *_owned(Deal.owner_id, owner_ids)]
        if lost:
            cond.append(Deal.status == "lost")
        for r in await s.execute(
            select(*MARKETING_DIMENSIONS, bucket, func.count())
            .join(Client, Client.id == Deal.client_id)
            .where(*cond)
            .group_by(*MARKETING_DIMENSIONS, bucket)
        ):
            counts = out.setdefault((tuple(r[:5]), int(r[5])), [0, 0])
            counts[int(lost)] += int(r[6])
    return [(dims, b, n[0], n[1]) for (dims, b), n in out.items()]


async def marketing_won(
    s: AsyncSession, owner_ids: list[int] | None, w: Window
) -> list[tuple[Dims, int, Decimal, datetime, datetime]]:
    """(the client's five classifiers, bucket, amount, opened_at, closed_at) of deals won."""
    bucket, within = _bucket(Deal.closed_at, w)
    rows = await s.execute(
        select(*MARKETING_DIMENSIONS, bucket, Deal.amount, Deal.opened_at, Deal.closed_at)
        .join(Client, Client.id == Deal.client_id)
        .where(Deal.status == "won", within, *_owned(Deal.owner_id, owner_ids))
    )
    return [(tuple(r[:5]), int(r[5]), r[6], r[7], r[8]) for r in rows if r[8] is not None]


async def marketing_touches(
    s: AsyncSession, owner_ids: list[int] | None, spans: Spans, touch_type: int
) -> list[tuple[Dims, int, int]]:
    """(the client's five classifiers, bucket, touches): history records of the touch type
    in the bucket's span on the clients (owned by owner_ids). The campaign is the touch's own
    when it has one (a broadcast's), else the client's — as marketing_daily counts them
    (migration 0020)."""
    if not spans:
        return []
    dims = (*MARKETING_DIMENSIONS[:4], func.coalesce(Activity.campaign_id, Client.campaign_id))
    rows: Any = await s.execute(union_all(*(
        select(*dims, literal_column(str(b)), func.count())
        .select_from(Activity).join(Client, Client.id == Activity.client_id)
        .where(Activity.type_id == touch_type, _in(Activity.occurred_at, span),
               *_owned(Client.owner_id, owner_ids))
        .group_by(*dims) for b, span in spans)))
    return [(tuple(r[:5]), int(r[5]), int(r[6])) for r in rows]
