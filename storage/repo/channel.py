"""SQL of the client's own channel: deep links, linked Telegram contacts, their messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, ClientChannel, ClientLink, ContactPerson


async def link_by_hash(s: AsyncSession, token_hash: str) -> ClientLink | None:
    return await s.scalar(select(ClientLink).where(ClientLink.token_hash == token_hash))


async def link(s: AsyncSession, link_id: int) -> ClientLink | None:
    return await s.get(ClientLink, link_id)


async def revoke_live_links(
    s: AsyncSession, client_id: int, contact_id: int | None, now: datetime
) -> int:
    """Revoke the unused links of one contact (of the client itself when None)."""
    cond = (ClientLink.contact_id == contact_id) if contact_id is not None \
        else ClientLink.contact_id.is_(None)
    result = await s.execute(
        update(ClientLink)
        .where(ClientLink.client_id == client_id, cond, ClientLink.used_at.is_(None),
               ClientLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


async def channel_by_tg(s: AsyncSession, tg_id: int) -> ClientChannel | None:
    return await s.scalar(select(ClientChannel).where(ClientChannel.tg_id == tg_id))


async def channel(s: AsyncSession, channel_id: int) -> ClientChannel | None:
    return await s.get(ClientChannel, channel_id)


async def channels_of(s: AsyncSession, client_id: int) -> Sequence[ClientChannel]:
    stmt = select(ClientChannel).where(ClientChannel.client_id == client_id)
    return (await s.scalars(stmt.order_by(ClientChannel.id))).all()


async def contact(s: AsyncSession, contact_id: int) -> ContactPerson | None:
    return await s.get(ContactPerson, contact_id)


async def contact_names(s: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await s.execute(
        select(ContactPerson.id, ContactPerson.name).where(ContactPerson.id.in_(ids)))
    return {int(i): str(n) for i, n in rows.all()}


def _insert(s: AsyncSession) -> Any:
    bind = s.bind
    if bind is not None and bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(Activity)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(Activity)


async def insert_message(s: AsyncSession, values: dict[str, Any]) -> int | None:
    """Write a Telegram message into the history once: None when (chat, message id) is
    there already (the same update delivered twice)."""
    stmt = (
        _insert(s).values(**values)
        .on_conflict_do_nothing(index_elements=["tg_chat_id", "tg_message_id"])
        .returning(Activity.id)
    )
    found = await s.scalar(stmt)
    return int(found) if found is not None else None


async def activity(s: AsyncSession, activity_id: int) -> Activity | None:
    return await s.get(Activity, activity_id)
