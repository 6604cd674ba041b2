"""SQL for deals, their history events, invoices and payments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, Deal, Invoice, Payment, Stage

# Open deals first, then the won ones, then the lost ones.
_STATUS_ORDER = case((Deal.status == "open", 0), (Deal.status == "won", 1), else_=2)


async def deal(session: AsyncSession, deal_id: int, *, lock: bool = False) -> Deal | None:
    """The deal; `lock` holds its row until commit (PostgreSQL; SQLite has one writer anyway),
    so two taps on two phones cannot both close it."""
    stmt = select(Deal).where(Deal.id == deal_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def deals_of_client(
    session: AsyncSession, client_id: int, include_closed: bool = True
) -> Sequence[Deal]:
    stmt = select(Deal).where(Deal.client_id == client_id)
    if not include_closed:
        stmt = stmt.where(Deal.status == "open")
    stmt = stmt.order_by(_STATUS_ORDER, Deal.opened_at.desc(), Deal.id.desc())
    return (await session.scalars(stmt)).all()


async def stages_by_code(session: AsyncSession) -> dict[str, Stage]:
    return {st.code: st for st in await session.scalars(select(Stage))}


async def stages_by_id(session: AsyncSession) -> dict[int, Stage]:
    return {st.id: st for st in await session.scalars(select(Stage))}


def add_event(
    session: AsyncSession,
    *,
    client_id: int,
    deal_id: int,
    author_id: int,
    event: str,
    details: dict[str, Any],
    at: datetime,
    text: str | None = None,
) -> None:
    session.add(
        Activity(
            client_id=client_id, deal_id=deal_id, author_id=author_id, event=event,
            details=details, text=text, occurred_at=at, created_at=at,
        )
    )


async def deal_events(session: AsyncSession, deal_id: int, limit: int) -> Sequence[Activity]:
    """The latest system events of the deal (not the contacts logged against it)."""
    stmt = (
        select(Activity)
        .where(Activity.deal_id == deal_id, Activity.event.is_not(None))
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def invoice(session: AsyncSession, invoice_id: int, *, lock: bool = False) -> Invoice | None:
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def invoices_of_deals(session: AsyncSession, deal_ids: list[int]) -> Sequence[Invoice]:
    if not deal_ids:
        return []
    stmt = (
        select(Invoice)
        .where(Invoice.deal_id.in_(deal_ids), Invoice.status != "cancelled")
        .order_by(Invoice.due_on, Invoice.id)
    )
    return (await session.scalars(stmt)).all()


async def deal_ids_of_client(session: AsyncSession, client_id: int) -> list[int]:
    return list(await session.scalars(select(Deal.id).where(Deal.client_id == client_id)))


async def paid_by_invoice(session: AsyncSession, invoice_ids: list[int]) -> dict[int, Decimal]:
    """Sum of payments per invoice (summed here: Money is integer minor units in SQL)."""
    paid: dict[int, Decimal] = dict.fromkeys(invoice_ids, Decimal("0.00"))
    if not invoice_ids:
        return paid
    rows = await session.execute(
        select(Payment.invoice_id, Payment.amount).where(Payment.invoice_id.in_(invoice_ids))
    )
    for invoice_id, amount in rows:
        paid[invoice_id] += amount
    return paid


async def deal_titles(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(Deal.id, Deal.title).where(Deal.id.in_(ids)))
    return {r[0]: r[1] for r in rows}


async def payments_of(session: AsyncSession, invoice_id: int) -> Sequence[Payment]:
    stmt = (
        select(Payment)
        .where(Payment.invoice_id == invoice_id)
        .order_by(Payment.paid_on, Payment.id)
    )
    return (await session.scalars(stmt)).all()


async def payment(session: AsyncSession, payment_id: int, *, lock: bool = False) -> Payment | None:
    stmt = select(Payment).where(Payment.id == payment_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)
