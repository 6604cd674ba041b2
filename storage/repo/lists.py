"""SQL of the client lists (crm/lists.py): a filter turned into one statement over the
clients the actor sees, the rows of a list's spreadsheet, and the saved lists.

Every criterion is a column of `clients`, an EXISTS probing an index of the table it asks
about per client (activities (client_id, occurred_at, type_id), planned_contacts
(client_id, status)), or, where the other side is small and indexed (open deals at a stage,
invoices past due), an IN over it read once — never a join that multiplies rows, so a list
over 100k clients is one pass over them (bench/lists.py). The visibility rule is the one of the
search and "My clients" (storage.repo.clients._visible): archived clients never appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Activity,
    Client,
    Deal,
    Invoice,
    PlannedContact,
    SavedList,
    User,
)
from storage.repo.clients import Visibility, _visible


@dataclass(frozen=True, slots=True)
class Criteria:
    """A filter in storage terms: ids, bounds and instants already worked out by crm/."""

    owner_id: int | None = None
    team_id: int | None = None
    classifiers: tuple[tuple[str, int], ...] = ()  # (column of clients, item id)
    stage_id: int | None = None
    open_deal: bool = False
    prob_min: int | None = None
    prob_max: int | None = None
    silent_since: datetime | None = None  # no typed contact at or after this instant
    contacted_since: datetime | None = None  # a typed contact at or after this instant
    no_next_contact: bool = False
    overdue_before: date | None = None  # an open invoice due before this day
    created_from: datetime | None = None  # [from, to) in UTC
    created_to: datetime | None = None


def _contact_since(at: datetime) -> ColumnElement[bool]:
    return exists().where(Activity.client_id == Client.id, Activity.occurred_at >= at,
                          Activity.type_id.is_not(None))


def filtered(vis: Visibility, c: Criteria) -> Select[Any]:
    """SELECT clients.id of the visible clients matching every criterion."""
    stmt = _visible(select(Client.id), vis)
    conds: list[ColumnElement[bool]] = []
    if c.owner_id is not None:
        conds.append(Client.owner_id == c.owner_id)
    if c.team_id is not None:
        conds.append(Client.owner_id.in_(select(User.id).where(User.team_id == c.team_id)))
    for column, item_id in c.classifiers:
        conds.append(getattr(Client, column) == item_id)
    if c.stage_id is not None:
        # Driven from the few open deals (deals.status is indexed), read once: a hashed
        # semi-join rather than a probe per client.
        conds.append(Client.id.in_(select(Deal.client_id).where(
            Deal.status == "open", Deal.stage_id == c.stage_id)))
    if c.open_deal:
        conds.append(Client.id.in_(select(Deal.client_id).where(Deal.status == "open")))
    if c.prob_min is not None:
        conds.append(Client.probability >= c.prob_min)
    if c.prob_max is not None:
        conds.append(Client.probability <= c.prob_max)
    if c.silent_since is not None:
        conds.append(~_contact_since(c.silent_since))
    if c.contacted_since is not None:
        conds.append(_contact_since(c.contacted_since))
    if c.no_next_contact:
        conds.append(~exists().where(PlannedContact.client_id == Client.id,
                                     PlannedContact.status == "planned"))
    if c.overdue_before is not None:
        # A fully paid invoice is marked paid (crm.billing), so an open one past due is owed.
        # From the invoices past due (invoices.due_on is indexed) to their clients, once.
        conds.append(Client.id.in_(
            select(Deal.client_id).join(Invoice, Invoice.deal_id == Deal.id)
            .where(Invoice.status == "open", Invoice.due_on < c.overdue_before)))
    if c.created_from is not None:
        conds.append(Client.created_at >= c.created_from)
    if c.created_to is not None:
        conds.append(Client.created_at < c.created_to)
    return stmt.where(and_(*conds)) if conds else stmt


@dataclass(frozen=True, slots=True)
class PageRow:
    id: int
    name: str
    phones: str | None
    owner_name: str | None


async def count(s: AsyncSession, vis: Visibility, c: Criteria) -> int:
    stmt = filtered(vis, c)
    return int(await s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def page(s: AsyncSession, vis: Visibility, c: Criteria, limit: int,
               offset: int) -> list[PageRow]:
    """A page of the list by name, with each client's manager."""
    stmt = (
        filtered(vis, c)
        .add_columns(Client.name, Client.phones, User.name)
        .outerjoin(User, User.id == Client.owner_id)
        .order_by(Client.name_norm, Client.id)
        .limit(limit)
        .offset(offset)
    )
    return [PageRow(r[0], r[1], r[2], r[3]) for r in await s.execute(stmt)]


async def ids(s: AsyncSession, vis: Visibility, c: Criteria) -> list[int]:
    """Every matching client's id, by name (an audience, an export)."""
    stmt = filtered(vis, c).order_by(Client.name_norm, Client.id)
    return [int(r) for r in await s.scalars(stmt)]


# --- the rows of a clients spreadsheet --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DealRow:
    client_id: int
    title: str
    stage_id: int
    amount: Decimal
    currency: str


async def clients_of(s: AsyncSession,
                     client_ids: Sequence[int]) -> list[tuple[Client, str | None]]:
    """(client, manager's name) in the order of `client_ids`."""
    if not client_ids:
        return []
    rows = await s.execute(
        select(Client, User.name).outerjoin(User, User.id == Client.owner_id)
        .where(Client.id.in_(client_ids))
    )
    found = {r[0].id: (r[0], r[1]) for r in rows}
    return [found[i] for i in client_ids if i in found]


async def open_deals_of(s: AsyncSession, client_ids: Sequence[int]) -> list[DealRow]:
    if not client_ids:
        return []
    rows = await s.execute(
        select(Deal.client_id, Deal.title, Deal.stage_id, Deal.amount, Deal.currency)
        .where(Deal.client_id.in_(client_ids), Deal.status == "open")
        .order_by(Deal.client_id, Deal.opened_at, Deal.id)
    )
    return [DealRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def last_contacts(s: AsyncSession, client_ids: Sequence[int]) -> dict[int, datetime]:
    """client → when it was last contacted (a typed history record)."""
    if not client_ids:
        return {}
    rows = await s.execute(
        select(Activity.client_id, func.max(Activity.occurred_at))
        .where(Activity.client_id.in_(client_ids), Activity.type_id.is_not(None))
        .group_by(Activity.client_id)
    )
    return {r[0]: _aware(r[1]) for r in rows if r[1] is not None}


async def next_contacts(s: AsyncSession, client_ids: Sequence[int]) -> dict[int, datetime]:
    """client → its earliest planned contact."""
    if not client_ids:
        return {}
    rows = await s.execute(
        select(PlannedContact.client_id, func.min(PlannedContact.due_at))
        .where(PlannedContact.client_id.in_(client_ids), PlannedContact.status == "planned")
        .group_by(PlannedContact.client_id)
    )
    return {r[0]: _aware(r[1]) for r in rows if r[1] is not None}


def _aware(value: datetime | str) -> datetime:
    """MAX/MIN of a UTCDateTime column, should a backend return it untyped."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- saved lists ------------------------------------------------------------------------------


async def add_saved(s: AsyncSession, row: SavedList) -> bool:
    """Insert; False when the owner already has a list of that name (the unique key)."""
    try:
        async with s.begin_nested():
            s.add(row)
            await s.flush()
    except IntegrityError:
        return False
    return True


async def saved_by_id(s: AsyncSession, list_id: int) -> tuple[SavedList, str] | None:
    """The list and its owner's name."""
    row = (await s.execute(
        select(SavedList, User.name).join(User, User.id == SavedList.owner_id)
        .where(SavedList.id == list_id)
    )).first()
    return (row[0], row[1]) if row is not None else None


async def saved_for(s: AsyncSession, user_id: int, team_id: int | None,
                    every_shared: bool) -> list[tuple[SavedList, str]]:
    """The user's own lists, then those shared with them (their team's, and those shared by
    someone without a team; every shared one for `every_shared`), by name."""
    shared_to: list[ColumnElement[bool]] = [SavedList.team_id.is_(None)]
    if team_id is not None:
        shared_to.append(SavedList.team_id == team_id)
    visible = or_(SavedList.owner_id == user_id,
                  and_(SavedList.shared.is_(True),
                       true() if every_shared else or_(*shared_to)))
    rows = await s.execute(
        select(SavedList, User.name).join(User, User.id == SavedList.owner_id)
        .where(visible)
        .order_by((SavedList.owner_id != user_id), SavedList.name, SavedList.id)
    )
    return [(r[0], r[1]) for r in rows]


async def name_taken(s: AsyncSession, owner_id: int, name: str,
                     except_id: int | None = None) -> bool:
    stmt = select(SavedList.id).where(SavedList.owner_id == owner_id, SavedList.name == name)
    if except_id is not None:
        stmt = stmt.where(SavedList.id != except_id)
    return await s.scalar(stmt.limit(1)) is not None


async def delete_saved(s: AsyncSession, list_id: int) -> None:
    await s.execute(delete(SavedList).where(SavedList.id == list_id))
