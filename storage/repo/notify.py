"""SQL behind notifications: what falls due, and what a notification shows when it fires."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Client, Deal, Invoice, Payment, PlannedContact, User

NOTIFIED_ROLES = ("head", "manager")


async def planned_due(
    s: AsyncSession, since: datetime, until: datetime
) -> Sequence[tuple[PlannedContact, User]]:
    """Planned contacts due in (since, until] of active users, clients not deleted."""
    rows = await s.execute(
        select(PlannedContact, User)
        .join(User, User.id == PlannedContact.owner_id)
        .join(Client, Client.id == PlannedContact.client_id)
        .where(
            PlannedContact.status == "planned",
            PlannedContact.due_at > since,
            PlannedContact.due_at <= until,
            User.is_active.is_(True),
            Client.is_deleted.is_(False),
        )
        .order_by(PlannedContact.due_at, PlannedContact.id)
    )
    return [(r[0], r[1]) for r in rows]


async def planned_states(
    s: AsyncSession, ids: set[int]
) -> dict[int, tuple[str, datetime]]:
    if not ids:
        return {}
    rows = await s.execute(
        select(PlannedContact.id, PlannedContact.status, PlannedContact.due_at).where(
            PlannedContact.id.in_(ids)
        )
    )
    return {r[0]: (r[1], r[2]) for r in rows}


async def unpaid_invoices(
    s: AsyncSession, due_before: date
) -> Sequence[tuple[Invoice, int | None, int, Decimal]]:
    """(invoice, deal owner, client id, still owed) of invoices due before a date."""
    rows = (
        await s.execute(
            select(Invoice, Deal.owner_id, Deal.client_id)
            .join(Deal, Deal.id == Invoice.deal_id)
            .join(Client, Client.id == Deal.client_id)
            .where(
                Invoice.status != "cancelled",
                Invoice.due_on < due_before,
                Client.is_deleted.is_(False),
            )
            .order_by(Invoice.due_on, Invoice.id)
        )
    ).all()
    paid = await paid_by_invoice(s, {r[0].id for r in rows})
    result = []
    for invoice, owner_id, client_id in rows:
        owed = invoice.amount - paid.get(invoice.id, Decimal(0))
        if owed > 0:
            result.append((invoice, owner_id, client_id, owed))
    return result


async def paid_by_invoice(s: AsyncSession, ids: set[int]) -> dict[int, Decimal]:
    paid: dict[int, Decimal] = {}
    id_list = list(ids)
    for i in range(0, len(id_list), 500):
        rows = await s.execute(
            select(Payment.invoice_id, Payment.amount).where(
                Payment.invoice_id.in_(id_list[i : i + 500])
            )
        )
        for invoice_id, amount in rows:
            paid[invoice_id] = paid.get(invoice_id, Decimal(0)) + amount
    return paid


async def invoice_paid(s: AsyncSession, invoice_id: int) -> Decimal:
    rows = await s.scalars(select(Payment.amount).where(Payment.invoice_id == invoice_id))
    return sum(rows, Decimal(0))


async def users_by_ids(s: AsyncSession, ids: set[int]) -> dict[int, User]:
    if not ids:
        return {}
    rows = await s.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: u for u in rows}


async def heads_of_team(s: AsyncSession, team_id: int) -> Sequence[User]:
    stmt = select(User).where(
        User.team_id == team_id, User.role == "head", User.is_active.is_(True)
    )
    return (await s.scalars(stmt.order_by(User.id))).all()


async def active_admins(s: AsyncSession) -> Sequence[User]:
    stmt = select(User).where(User.role == "admin", User.is_active.is_(True))
    return (await s.scalars(stmt.order_by(User.id))).all()


async def digest_recipients(s: AsyncSession) -> Sequence[User]:
    stmt = select(User).where(User.role.in_(NOTIFIED_ROLES), User.is_active.is_(True))
    return (await s.scalars(stmt.order_by(User.id))).all()


async def set_unreachable(s: AsyncSession, user_id: int, value: bool = True) -> None:
    await s.execute(update(User).where(User.id == user_id).values(unreachable=value))
