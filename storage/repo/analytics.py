"""Raw rows behind the digest figures, for a set of owners. Aggregation is in crm/digest.py,
in Python: the volumes are one team's, and the sums stay exact Decimals on both backends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, Client, Deal, Invoice, PlannedContact, Stage, User
from storage.repo.notify import paid_by_invoice


async def managers(
    s: AsyncSession, *, team_id: int | None = None, user_id: int | None = None
) -> Sequence[User]:
    stmt = select(User).where(User.is_active.is_(True))
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    else:
        stmt = stmt.where(User.role == "manager")
        if team_id is not None:
            stmt = stmt.where(User.team_id == team_id)
    return (await s.scalars(stmt.order_by(User.name, User.id))).all()


async def contacts(
    s: AsyncSession, owner_ids: list[int], start: datetime, end: datetime
) -> Sequence[tuple[int, int, datetime]]:
    """(author, type, occurred_at) of typed contacts logged in [start, end)."""
    rows = await s.execute(
        select(Activity.author_id, Activity.type_id, Activity.occurred_at).where(
            Activity.author_id.in_(owner_ids),
            Activity.type_id.is_not(None),
            Activity.occurred_at >= start,
            Activity.occurred_at < end,
        )
    )
    return [(r[0] or 0, r[1] or 0, r[2]) for r in rows]


async def clients_in_work(s: AsyncSession, owner_ids: list[int]) -> dict[int, int]:
    """Clients with an open deal or a planned contact, per owner."""
    # One set of client ids in work, then a grouped count: no subquery per client.
    in_work = union(
        select(Deal.client_id).where(Deal.status == "open"),
        select(PlannedContact.client_id).where(PlannedContact.status == "planned"),
    )
    rows = await s.execute(
        select(Client.owner_id, func.count(Client.id))
        .where(
            Client.owner_id.in_(owner_ids),
            Client.is_deleted.is_(False),
            Client.id.in_(in_work),
        )
        .group_by(Client.owner_id)
    )
    return {r[0] or 0: int(r[1]) for r in rows}


async def deals_closed(
    s: AsyncSession, owner_ids: list[int], start: datetime, end: datetime
) -> Sequence[Deal]:
    stmt = select(Deal).where(
        Deal.owner_id.in_(owner_ids),
        Deal.status.in_(("won", "lost")),
        Deal.closed_at >= start,
        Deal.closed_at < end,
    )
    return (await s.scalars(stmt)).all()


async def deals_opened(
    s: AsyncSession, owner_ids: list[int], start: datetime, end: datetime
) -> dict[int, int]:
    rows = await s.execute(
        select(Deal.owner_id, func.count(Deal.id))
        .where(Deal.owner_id.in_(owner_ids), Deal.opened_at >= start, Deal.opened_at < end)
        .group_by(Deal.owner_id)
    )
    return {r[0] or 0: int(r[1]) for r in rows}


async def open_deals(
    s: AsyncSession, owner_ids: list[int]
) -> Sequence[tuple[Deal, Stage, str]]:
    """Open deals with their stage and client name."""
    # A handful of stages, looked up here: joined, they would be loaded once per deal.
    stages = {st.id: st for st in (await s.scalars(select(Stage))).all()}
    rows = await s.execute(
        select(Deal, Client.name)
        .join(Client, Client.id == Deal.client_id)
        .where(
            Deal.owner_id.in_(owner_ids), Deal.status == "open", Client.is_deleted.is_(False)
        )
        .order_by(Deal.id)
    )
    return [(r[0], stages[r[0].stage_id], r[1]) for r in rows]


async def overdue_planned(
    s: AsyncSession, owner_ids: list[int], now: datetime
) -> dict[int, int]:
    rows = await s.execute(
        select(PlannedContact.owner_id, func.count(PlannedContact.id))
        .join(Client, Client.id == PlannedContact.client_id)
        .where(
            PlannedContact.owner_id.in_(owner_ids),
            PlannedContact.status == "planned",
            PlannedContact.due_at < now,
            Client.is_deleted.is_(False),
        )
        .group_by(PlannedContact.owner_id)
    )
    return {r[0] or 0: int(r[1]) for r in rows}


async def receivables(
    s: AsyncSession, owner_ids: list[int]
) -> Sequence[tuple[Invoice, int, int, str, Decimal]]:
    """(invoice, owner, client id, client name, still owed) of invoices not fully paid."""
    rows = (
        await s.execute(
            select(Invoice, Deal.owner_id, Client.id, Client.name)
            .join(Deal, Deal.id == Invoice.deal_id)
            .join(Client, Client.id == Deal.client_id)
            .where(
                Deal.owner_id.in_(owner_ids),
                Invoice.status != "cancelled",
                Client.is_deleted.is_(False),
            )
            .order_by(Invoice.due_on, Invoice.id)
        )
    ).all()
    paid = await paid_by_invoice(s, {r[0].id for r in rows})
    result = []
    for invoice, owner_id, client_id, client_name in rows:
        owed = invoice.amount - paid.get(invoice.id, Decimal(0))
        if owed > 0:
            result.append((invoice, owner_id or 0, client_id, client_name, owed))
    return result


async def won_durations(
    s: AsyncSession, owner_ids: list[int], since: datetime
) -> Sequence[tuple[int, datetime, datetime]]:
    rows = await s.execute(
        select(Deal.owner_id, Deal.opened_at, Deal.closed_at).where(
            Deal.owner_id.in_(owner_ids),
            Deal.status == "won",
            Deal.closed_at >= since,
        )
    )
    return [(r[0] or 0, r[1], r[2]) for r in rows if r[2] is not None]
