"""SQL for the history (activities) and planned contacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Executable,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    func,
    literal_column,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import Reader
from storage.models import (
    Activity,
    ClassifierItem,
    Client,
    Deal,
    Invoice,
    Payment,
    PlannedContact,
    User,
)
from storage.repo.deals import paid_by_invoice
from storage.types import Money

# --- the history page as shown (Database.read: plain rows, statements built once) ---------

def _counted(typed: bool) -> Any:
    stmt = select(func.count()).select_from(Activity).where(
        Activity.client_id == bindparam("client_id"))
    if typed:
        stmt = stmt.where(Activity.type_id == bindparam("type_id"))
    return stmt.scalar_subquery()


def _client_and_count(typed: bool) -> Select[Any]:
    # Archived clients too: whoever may restore one may still read its history. A lead (no
    # owner) belongs to the team whose queue it waits in — as in repo.clients.
    return (
        select(Client.id, Client.name, Client.owner_id, Client.is_deleted,
               func.coalesce(User.team_id, Client.lead_team_id), _counted(typed))
        .outerjoin(User, User.id == Client.owner_id)
        .where(Client.id == bindparam("client_id"))
    )


_SHOWN_TYPE = aliased(ClassifierItem)
_SHOWN_OUTCOME = aliased(ClassifierItem)


def _page_rows(typed: bool) -> Select[Any]:
    # The page's ids first, from the (client, time, id) index alone (migration 0022): a far
    # page skips its offset over index entries, not over whole records.
    ids = select(Activity.id).where(Activity.client_id == bindparam("client_id"))
    if typed:
        ids = ids.where(Activity.type_id == bindparam("type_id"))
    page = (ids.order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")).subquery())
    return (
        select(Activity.id, Activity.occurred_at, Activity.created_at, Activity.event,
               Activity.details, Activity.text, Activity.author_id, Activity.type_id,
               Activity.attachment_kind, Activity.deal_id,
               _SHOWN_TYPE.id, _SHOWN_TYPE.code, _SHOWN_TYPE.name_ru, _SHOWN_TYPE.name_en,
               _SHOWN_OUTCOME.id, _SHOWN_OUTCOME.code, _SHOWN_OUTCOME.name_ru,
               _SHOWN_OUTCOME.name_en, User.name, User.role, Deal.title)
        .join(page, page.c.id == Activity.id)
        .outerjoin(_SHOWN_TYPE, _SHOWN_TYPE.id == Activity.type_id)
        .outerjoin(_SHOWN_OUTCOME, _SHOWN_OUTCOME.id == Activity.outcome_id)
        .outerjoin(User, User.id == Activity.author_id)
        .outerjoin(Deal, Deal.id == Activity.deal_id)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
    )


_CLIENT_AND_COUNT = {typed: _client_and_count(typed) for typed in (False, True)}
_PAGE_ROWS = {typed: _page_rows(typed) for typed in (False, True)}


async def shown_page(
    r: Reader, client_id: int, type_id: int | None, limit: int, offset: int
) -> list[tuple[Any, ...]]:
    """A page of the client's history, newest first, as plain rows: (id, occurred_at,
    created_at, event, details, text, author id, type id, attachment kind, deal id, the
    type's id, code, name_ru, name_en, the same of the outcome, the author's name and role,
    the deal's title)."""
    if type_id:
        return await r.all(_PAGE_ROWS[True], client_id=client_id, type_id=type_id,
                           limit=limit, offset=offset)
    return await r.all(_PAGE_ROWS[False], client_id=client_id, limit=limit, offset=offset)


async def history_rows(
    r: Reader, client_id: int, type_id: int | None, limit: int, offset: int
) -> tuple[tuple[Any, ...] | None, list[tuple[Any, ...]]]:
    """The client — (id, name, owner id, is deleted, owner's team (a lead's: its queue's),
    how many records (of the type, with `type_id`)), archived ones included, None if there
    is none — and shown_page, in one `gather` (on PostgreSQL one round trip's wait): the
    page is read before whether the actor may see it is known, and dropped when not."""
    p: dict[str, Any] = {"client_id": client_id}
    if type_id:
        p["type_id"] = type_id
    found, rows = await r.gather((_CLIENT_AND_COUNT[bool(type_id)], p),
                                 (_PAGE_ROWS[bool(type_id)], {**p, "limit": limit,
                                                              "offset": offset}))
    return (found[0] if found else None), rows


_TYPE = aliased(ClassifierItem)
_OUTCOME = aliased(ClassifierItem)
_NAMES = (
    select(Activity.id, _TYPE.id, _TYPE.code, _TYPE.name_ru, _TYPE.name_en,
           _OUTCOME.id, _OUTCOME.code, _OUTCOME.name_ru, _OUTCOME.name_en,
           User.name, User.role, Deal.title)
    .outerjoin(_TYPE, _TYPE.id == Activity.type_id)
    .outerjoin(_OUTCOME, _OUTCOME.id == Activity.outcome_id)
    .outerjoin(User, User.id == Activity.author_id)
    .outerjoin(Deal, Deal.id == Activity.deal_id)
    .where(Activity.id.in_(bindparam("ids", expanding=True)))
)


async def names_of(
    session: AsyncSession, activity_ids: list[int]
) -> dict[int, tuple[Any, ...]]:
    """What history records name, in one statement: per record id, (id, type id, code,
    name_ru, name_en, the same of the outcome, author's name and role, deal's title)."""
    if not activity_ids:
        return {}
    rows = await session.execute(_NAMES, {"ids": activity_ids})
    return {r[0]: tuple(r) for r in rows}


async def last_activity(session: AsyncSession, client_id: int) -> Activity | None:
    stmt = (
        select(Activity)
        .where(Activity.client_id == client_id)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


async def activity(session: AsyncSession, activity_id: int) -> Activity | None:
    return await session.get(Activity, activity_id)


async def delete_activity(session: AsyncSession, activity_id: int) -> None:
    await session.execute(delete(Activity).where(Activity.id == activity_id))


async def deal_titles(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Deal.id, Deal.title).where(Deal.id.in_(ids)))
    return {r[0]: r[1] for r in rows}


async def open_deals_of(session: AsyncSession, client_id: int) -> Sequence[Deal]:
    stmt = select(Deal).where(Deal.client_id == client_id, Deal.status == "open")
    return (await session.scalars(stmt.order_by(Deal.opened_at))).all()


async def planned_for_client(
    session: AsyncSession, client_id: int, owner_id: int | None = None
) -> Sequence[PlannedContact]:
    stmt = select(PlannedContact).where(
        PlannedContact.client_id == client_id, PlannedContact.status == "planned"
    )
    if owner_id is not None:
        stmt = stmt.where(PlannedContact.owner_id == owner_id)
    return (await session.scalars(stmt.order_by(PlannedContact.due_at))).all()


async def planned(session: AsyncSession, planned_id: int) -> PlannedContact | None:
    return await session.get(PlannedContact, planned_id)


async def agenda(
    session: AsyncSession, owner_id: int, until: datetime
) -> Sequence[tuple[int, int, str, datetime, str | None]]:
    """(id, client id, client name, due, note) of an owner's planned contacts due before
    `until` (overdue ones included). Plain columns: Today lists up to 200 of them."""
    rows = await session.execute(
        select(PlannedContact.id, PlannedContact.client_id, Client.name, PlannedContact.due_at,
               PlannedContact.note)
        .join(Client, Client.id == PlannedContact.client_id)
        .where(
            PlannedContact.owner_id == owner_id,
            PlannedContact.status == "planned",
            PlannedContact.due_at < until,
            Client.is_deleted.is_(False),
        )
        .order_by(PlannedContact.due_at)
        .limit(200)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def team_overdue(
    session: AsyncSession, team_id: int, head_id: int, before: datetime
) -> Sequence[tuple[PlannedContact, str, str]]:
    """Planned contacts of a team's members (the head aside) due before `before`, with the
    client's and the member's names; by owner, over the (owner, status, due) index."""
    rows = await session.execute(
        select(PlannedContact, Client.name, User.name)
        .join(Client, Client.id == PlannedContact.client_id)
        .join(User, User.id == PlannedContact.owner_id)
        .where(
            PlannedContact.owner_id.in_(
                select(User.id).where(User.team_id == team_id, User.id != head_id)
            ),
            PlannedContact.status == "planned",
            PlannedContact.due_at < before,
            Client.is_deleted.is_(False),
        )
        .order_by(PlannedContact.due_at)
        .limit(200)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def touch_deal(session: AsyncSession, deal_id: int, at: datetime) -> None:
    await session.execute(update(Deal).where(Deal.id == deal_id).values(last_activity_at=at))


_OPEN_DEAL_TOTALS = select(func.count(), func.sum(Deal.amount)).where(
    Deal.owner_id == bindparam("owner_id"), Deal.status == "open"
)


async def open_deal_totals(session: AsyncSession, owner_id: int) -> tuple[int, Decimal]:
    """How many open deals the owner has, and the sum of their amounts (summed in SQL:
    Money is integer minor units there)."""
    count, total = (await session.execute(_OPEN_DEAL_TOTALS, {"owner_id": owner_id})).one()
    return int(count), total if total is not None else Decimal("0.00")


async def overdue_debts(session: AsyncSession, owner_id: int, today: date) -> list[Decimal]:
    """What is still owed on each overdue invoice of the owner's deals."""
    invoices = (
        await session.execute(
            select(Invoice.id, Invoice.amount)
            .join(Deal, Deal.id == Invoice.deal_id)
            .where(Deal.owner_id == owner_id, Invoice.status == "open", Invoice.due_on < today)
        )
    ).all()
    if not invoices:
        return []
    paid = await paid_by_invoice(session, [r[0] for r in invoices])
    debts = [amount - paid[invoice_id] for invoice_id, amount in invoices]
    return [d for d in debts if d > 0]


# --- Today as shown (Database.read: plain rows, statements built once) --------------------

# Today's due times come back as the driver gives them (SQLite: text) and are made aware
# here, as UTCDateTime would: its processor costs more than the rest of the row (200 rows).
_RAW_DUE = type_coerce(PlannedContact.due_at, String)


def _utc(value: str | datetime) -> datetime:
    """UTCDateTime's result, of a naive UTC value as SQLite or PostgreSQL returns it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


# Today shows the first few of each part — a phone's screen — and how many there are in all;
# the rest are a tap away, a page at a time (agenda_page).
TODAY_LATE = 5
TODAY_DUE = 10
TODAY_TEAM = 5


def _agenda_part(late: bool) -> Select[Any]:
    """An owner's planned contacts overdue (`late`: due before `start`) or due today (from
    `start` to `end`) by due time, `late_limit`/`late_offset` (or `due_…`) of them, each row
    with the part's count."""
    def where(p: Any, c: Any) -> list[Any]:
        start = bindparam("start", type_=p.due_at.type)
        window = [p.due_at < start] if late else \
            [p.due_at >= start, p.due_at < bindparam("end", type_=p.due_at.type)]
        return [p.owner_id == bindparam("owner_id"), p.status == "planned", *window,
                c.is_deleted.is_(False)]

    part = "late" if late else "due"
    p2, c2 = aliased(PlannedContact), aliased(Client)
    total = (select(func.count()).select_from(p2).join(c2, c2.id == p2.client_id)
             .where(*where(p2, c2)).correlate(None).scalar_subquery())
    return (
        select(PlannedContact.id, PlannedContact.client_id, Client.name, _RAW_DUE,
               PlannedContact.note, total.label("total"))
        .join(Client, Client.id == PlannedContact.client_id)
        .where(*where(PlannedContact, Client))
        .order_by(PlannedContact.due_at, PlannedContact.id)
        .limit(bindparam(f"{part}_limit", type_=Integer))
        .offset(bindparam(f"{part}_offset", 0, type_=Integer))
    )


_AGENDA_LATE_PART = _agenda_part(True)
_AGENDA_DUE_PART = _agenda_part(False)
_AGENDA_LATE = _AGENDA_LATE_PART.subquery()
_AGENDA_TODAY = _AGENDA_DUE_PART.subquery()
_AGENDA = union_all(
    select(literal_column("1").label("late"), *_AGENDA_LATE.c),
    select(literal_column("0").label("late"), *_AGENDA_TODAY.c),
)

AgendaRow = tuple[int, int, str, datetime, str | None]


async def shown_agenda(
    r: Reader, owner_id: int, start: datetime, end: datetime, late: int = TODAY_LATE,
    due: int = TODAY_DUE,
) -> tuple[list[AgendaRow], int, list[AgendaRow], int]:
    """An owner's overdue planned contacts (due before `start`) and today's (to `end`): the
    first `late` and `due` of each by due time as (id, client id, client name, due, note),
    and how many of each there are."""
    return _agenda(await r.all(_AGENDA, owner_id=owner_id, start=start, end=end,
                               late_limit=late, due_limit=due))


def _agenda(rows: list[tuple[Any, ...]]) -> tuple[list[AgendaRow], int, list[AgendaRow], int]:
    parts: tuple[list[tuple[datetime, int, AgendaRow]], list[tuple[datetime, int, AgendaRow]]]
    parts = ([], [])
    totals = [0, 0]
    for late, pid, cid, name, due, note, total in rows:
        at = _utc(due)
        parts[int(late)].append((at, pid, (pid, cid, name, at, note)))
        totals[int(late)] = int(total)
    late_rows, today_rows = (sorted(part) for part in (parts[1], parts[0]))
    return ([row for _, _, row in late_rows], totals[1],
            [row for _, _, row in today_rows], totals[0])


def _today_totals() -> Select[Any]:
    # Money is integer minor units in SQL: what is still owed on an invoice is summed there
    # exactly as crm would sum the Decimals.
    cents = Integer()
    paid = (select(func.sum(type_coerce(Payment.amount, cents)))
            .where(Payment.invoice_id == Invoice.id).scalar_subquery())
    owed = (type_coerce(Invoice.amount, cents) - func.coalesce(paid, 0)).label("owed")
    debts = (
        select(owed)
        .join(Deal, Deal.id == Invoice.deal_id)
        .where(Deal.owner_id == bindparam("owner_id"), Invoice.status == "open",
               Invoice.due_on < bindparam("today", type_=Invoice.due_on.type))
        .subquery()
    )
    owing = (select(func.count().label("n"), func.sum(debts.c.owed).label("owed"))
             .where(debts.c.owed > 0).subquery())
    deals = (select(func.count().label("n"), func.sum(Deal.amount).label("amount"))
             .where(Deal.owner_id == bindparam("owner_id"), Deal.status == "open")
             .subquery())
    return (select(deals.c.n, deals.c.amount, owing.c.n, type_coerce(owing.c.owed, Money))
            .select_from(deals.join(owing, true())))


_TODAY_TOTALS = _today_totals()


async def today_totals(
    r: Reader, owner_id: int, today: date
) -> tuple[int, Decimal, int, Decimal]:
    """The owner's open deals (how many, their sum) and overdue invoices still owed on (how
    many, what is owed) — open_deal_totals and overdue_debts in one statement."""
    return _totals(await r.all(_TODAY_TOTALS, owner_id=owner_id, today=today))


def _totals(rows: list[tuple[Any, ...]]) -> tuple[int, Decimal, int, Decimal]:
    n, amount, debts, owed = rows[0]
    zero = Decimal("0.00")
    return (int(n), amount if amount is not None else zero, int(debts or 0),
            owed if owed is not None else Decimal(0))


def _team_overdue() -> Select[Any]:
    def where(p: Any, c: Any, u: Any) -> list[Any]:
        return [
            p.owner_id.in_(select(u.id).where(u.team_id == bindparam("team_id"),
                                              u.id != bindparam("head_id"))),
            p.status == "planned",
            p.due_at < bindparam("before", type_=p.due_at.type),
            c.is_deleted.is_(False),
        ]

    p2, c2, u2 = aliased(PlannedContact), aliased(Client), aliased(User)
    total = (select(func.count()).select_from(p2).join(c2, c2.id == p2.client_id)
             .where(*where(p2, c2, u2)).correlate(None).scalar_subquery())
    u3 = aliased(User)
    return (
        select(PlannedContact.id, PlannedContact.client_id, Client.name, _RAW_DUE,
               PlannedContact.note, User.name, total.label("total"))
        .join(Client, Client.id == PlannedContact.client_id)
        .join(User, User.id == PlannedContact.owner_id)
        .where(*where(PlannedContact, Client, u3))
        .order_by(PlannedContact.due_at, PlannedContact.id)
        .limit(bindparam("team_limit", type_=Integer))
        .offset(bindparam("team_offset", 0, type_=Integer))
    )


_TEAM_OVERDUE = _team_overdue()


async def shown_team_overdue(
    r: Reader, team_id: int, head_id: int, before: datetime, limit: int = TODAY_TEAM,
    offset: int = 0,
) -> tuple[list[tuple[Any, ...]], int]:
    """`limit` of a team's members' (the head aside) planned contacts due before `before`
    by due time, from `offset`, as (id, client id, client name, due, note, member's name),
    and how many there are (0 past the last)."""
    return _team(await r.all(_TEAM_OVERDUE, team_id=team_id, head_id=head_id, before=before,
                             team_limit=limit, team_offset=offset))


async def agenda_page(
    r: Reader, owner_id: int, late: bool, start: datetime, end: datetime, limit: int,
    offset: int,
) -> tuple[list[AgendaRow], int]:
    """`limit` of an owner's overdue (`late`) or today's planned contacts from `offset`, as
    shown_agenda lists them, and how many there are (0 past the last)."""
    if late:
        rows = await r.all(_AGENDA_LATE_PART, owner_id=owner_id, start=start,
                           late_limit=limit, late_offset=offset)
    else:
        rows = await r.all(_AGENDA_DUE_PART, owner_id=owner_id, start=start, end=end,
                           due_limit=limit, due_offset=offset)
    return ([(pid, cid, name, _utc(due), note) for pid, cid, name, due, note, _ in rows],
            int(rows[0][5]) if rows else 0)


def _team(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], int]:
    shown, total = [], 0
    for pid, cid, name, due, note, owner, n in rows:
        shown.append((pid, cid, name, _utc(due), note, owner))
        total = int(n)
    return shown, total


@dataclass(frozen=True, slots=True)
class TodayRows:
    late: list[AgendaRow]
    late_total: int
    due: list[AgendaRow]
    due_total: int
    totals: tuple[int, Decimal, int, Decimal]  # see today_totals
    team: list[tuple[Any, ...]]  # see shown_team_overdue
    team_total: int


async def today_rows(r: Reader, owner_id: int, start: datetime, end: datetime, today: date,
                     team: tuple[int, int] | None) -> TodayRows:
    """Today's screen in one `gather`: shown_agenda, today_totals and, for a head (`team`:
    the team's id and the head's), shown_team_overdue."""
    reads: list[tuple[Executable, dict[str, Any]]] = [
        (_AGENDA, {"owner_id": owner_id, "start": start, "end": end, "late_limit": TODAY_LATE,
                   "due_limit": TODAY_DUE}),
        (_TODAY_TOTALS, {"owner_id": owner_id, "today": today}),
    ]
    if team is not None:
        reads.append((_TEAM_OVERDUE, {"team_id": team[0], "head_id": team[1], "before": start,
                                      "team_limit": TODAY_TEAM}))
    agenda, totals, *team_rows = await r.gather(*reads)
    shown, team_total = _team(team_rows[0]) if team_rows else ([], 0)
    return TodayRows(*_agenda(agenda), _totals(totals), shown, team_total)
