"""SQL for moving clients between managers, merging duplicates and archiving.

Set-based: moving a manager's 300 clients is a handful of statements (IN lists of up to
`CHUNK` ids), not a round trip per client.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Activity,
    AuditLog,
    Client,
    ClientChannel,
    ClientLink,
    ContactPerson,
    Deal,
    Invoice,
    OutboxMessage,
    Payment,
    PlannedContact,
    User,
)

CHUNK = 500


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield list(ids[i : i + CHUNK])


@dataclass(frozen=True, slots=True)
class MoveRow:
    id: int
    name: str
    owner_id: int | None
    owner_team_id: int | None


async def clients_for_move(s: AsyncSession, ids: Sequence[int]) -> list[MoveRow]:
    """Live (not archived) clients among `ids`, with their owner's team, locked."""
    found: list[MoveRow] = []
    for part in chunks(ids):
        # Locked till the move commits (PostgreSQL): of two people moving the same client
        # at once, the second waits and then reads the first's result. The lock is a
        # statement of its own: a locking SELECT with the join would re-check a row
        # changed meanwhile against the owner it had before, and lose it.
        await s.execute(select(Client.id).where(Client.id.in_(part)).with_for_update())
        rows = await s.execute(
            select(Client.id, Client.name, Client.owner_id,
                   func.coalesce(User.team_id, Client.lead_team_id))
            .outerjoin(User, User.id == Client.owner_id)
            .where(Client.id.in_(part), Client.is_deleted.is_(False))
        )
        found += [MoveRow(r[0], r[1], r[2], r[3]) for r in rows]
    return found


async def client_ids_of(s: AsyncSession, owner_id: int) -> list[int]:
    rows = await s.scalars(
        select(Client.id).where(Client.owner_id == owner_id, Client.is_deleted.is_(False))
        .order_by(Client.id)
    )
    return list(rows)


async def count_clients_of(s: AsyncSession, owner_id: int) -> int:
    return int(await s.scalar(
        select(func.count()).select_from(Client)
        .where(Client.owner_id == owner_id, Client.is_deleted.is_(False))
    ) or 0)


async def move_planned(
    s: AsyncSession, client_ids: Sequence[int], from_owner: int, to_owner: int
) -> list[int]:
    """The still planned contacts of these clients that `from_owner` had → `to_owner`;
    returns their ids."""
    moved: list[int] = []
    for part in chunks(client_ids):
        result = await s.execute(
            update(PlannedContact)
            .where(PlannedContact.client_id.in_(part), PlannedContact.owner_id == from_owner,
                   PlannedContact.status == "planned")
            .values(owner_id=to_owner)
            .returning(PlannedContact.id)
            .execution_options(synchronize_session=False)
        )
        moved += [r[0] for r in result]
    return moved


async def move_open_deals(s: AsyncSession, client_ids: Sequence[int], to_owner: int) -> int:
    """The clients' open deals go to the new owner, and so do won deals still waiting for
    money (an open invoice): the overdue-invoice alerts follow a deal's owner. Deals closed
    and settled stay with whoever closed them. Returns the number of open deals moved."""
    unpaid = exists().where(Invoice.deal_id == Deal.id, Invoice.status == "open")
    for part in chunks(client_ids):
        await s.execute(
            update(Deal)
            .where(Deal.client_id.in_(part), Deal.status == "won", unpaid)
            .values(owner_id=to_owner)
            .execution_options(synchronize_session=False)
        )
    n = 0
    for part in chunks(client_ids):
        result = await s.execute(
            update(Deal)
            .where(Deal.client_id.in_(part), Deal.status == "open")
            .values(owner_id=to_owner)
            .execution_options(synchronize_session=False)
        )
        n += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return n


async def set_owner(
    s: AsyncSession, client_ids: Sequence[int], to_owner: int, now: datetime
) -> None:
    for part in chunks(client_ids):
        await s.execute(
            update(Client).where(Client.id.in_(part))
            .values(owner_id=to_owner, updated_at=now)
            .execution_options(synchronize_session=False)
        )


async def pending_for(
    s: AsyncSession, kinds: Sequence[str], user_ids: Sequence[int]
) -> Sequence[OutboxMessage]:
    """Notifications not yet sent to these users (the payload tells what they are about)."""
    stmt = select(OutboxMessage).where(
        OutboxMessage.status == "pending", OutboxMessage.kind.in_(list(kinds)),
        OutboxMessage.user_id.in_(list(user_ids)),
    )
    return (await s.scalars(stmt.order_by(OutboxMessage.id))).all()


async def readdress(s: AsyncSession, row_ids: Sequence[int], user_id: int, chat_id: int) -> None:
    """Pending outbox rows go to another user instead."""
    for part in chunks(row_ids):
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(part), OutboxMessage.status == "pending")
            .values(user_id=user_id, chat_id=chat_id)
            .execution_options(synchronize_session=False)
        )


async def add_rows(s: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Many history events or audit entries in one executemany."""
    if rows:
        await s.execute(insert(model), rows)


async def add_events(s: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await add_rows(s, Activity, rows)


async def add_audit(s: AsyncSession, rows: list[dict[str, Any]]) -> None:
    await add_rows(s, AuditLog, rows)


@dataclass(frozen=True, slots=True)
class Linked:
    """What hangs off a client: what a merge moves."""

    history: int
    deals: int
    invoices: int
    payments: int
    contacts: int
    planned: int
    channels: int = 0  # the client's Telegram chats linked through its deep links


async def linked(s: AsyncSession, client_id: int) -> Linked:
    def n(stmt: Any) -> Any:
        return s.scalar(stmt)

    history = await n(select(func.count()).select_from(Activity)
                      .where(Activity.client_id == client_id))
    deals = await n(select(func.count()).select_from(Deal).where(Deal.client_id == client_id))
    invoices = await n(select(func.count()).select_from(Invoice)
                       .join(Deal, Deal.id == Invoice.deal_id)
                       .where(Deal.client_id == client_id))
    payments = await n(select(func.count()).select_from(Payment)
                       .join(Invoice, Invoice.id == Payment.invoice_id)
                       .join(Deal, Deal.id == Invoice.deal_id)
                       .where(Deal.client_id == client_id))
    contacts = await n(select(func.count()).select_from(ContactPerson)
                       .where(ContactPerson.client_id == client_id))
    planned = await n(select(func.count()).select_from(PlannedContact)
                      .where(PlannedContact.client_id == client_id,
                             PlannedContact.status == "planned"))
    channels = await n(select(func.count()).select_from(ClientChannel)
                       .where(ClientChannel.client_id == client_id))
    return Linked(int(history or 0), int(deals or 0), int(invoices or 0), int(payments or 0),
                  int(contacts or 0), int(planned or 0), int(channels or 0))


async def move_children(s: AsyncSession, from_id: int, to_id: int) -> None:
    """History, deals (their invoices and payments with them), contact persons, planned
    contacts, linked Telegram chats and their deep links of one client → another."""
    for model in (Activity, Deal, ContactPerson, PlannedContact, ClientChannel, ClientLink):
        await s.execute(
            update(model).where(model.client_id == from_id).values(client_id=to_id)
            .execution_options(synchronize_session=False)
        )


async def lock_clients(s: AsyncSession, ids: Sequence[int]) -> list[Client]:
    """The clients, locked for the rest of the transaction on PostgreSQL (SQLite's
    BEGIN IMMEDIATE already serialises writers)."""
    rows = await s.scalars(
        select(Client).where(Client.id.in_(list(ids))).order_by(Client.id).with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def clients_per_owner(s: AsyncSession, owner_ids: Sequence[int]) -> dict[int, int]:
    if not owner_ids:
        return {}
    rows = await s.execute(
        select(Client.owner_id, func.count())
        .where(Client.owner_id.in_(list(owner_ids)), Client.is_deleted.is_(False))
        .group_by(Client.owner_id)
    )
    return {int(r[0] or 0): int(r[1]) for r in rows}


async def repoint_merged(s: AsyncSession, from_id: int, to_id: int) -> None:
    """Clients merged into `from_id` earlier now point at where it went."""
    await s.execute(
        update(Client).where(Client.merged_into_id == from_id).values(merged_into_id=to_id)
        .execution_options(synchronize_session=False)
    )
