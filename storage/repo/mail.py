"""SQL of e-mail consent: contact persons with an address, their consent rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ContactPerson, EmailConsent


async def contact(s: AsyncSession, contact_id: int) -> ContactPerson | None:
    return await s.get(ContactPerson, contact_id)


async def contacts_by_ids(s: AsyncSession, ids: list[int]) -> Sequence[ContactPerson]:
    if not ids:
        return []
    return (await s.scalars(select(ContactPerson).where(ContactPerson.id.in_(ids)))).all()


async def contacts_with_email(s: AsyncSession, client_id: int) -> Sequence[ContactPerson]:
    stmt = (select(ContactPerson)
            .where(ContactPerson.client_id == client_id, ContactPerson.email.is_not(None),
                   ContactPerson.email != "")
            .order_by(ContactPerson.id))
    return (await s.scalars(stmt)).all()


async def consents_of(s: AsyncSession, contact_ids: list[int]) -> dict[int, EmailConsent]:
    if not contact_ids:
        return {}
    rows = await s.scalars(select(EmailConsent).where(EmailConsent.contact_id.in_(contact_ids)))
    return {r.contact_id: r for r in rows}


async def consent_by_token(s: AsyncSession, token: str) -> EmailConsent | None:
    return await s.scalar(select(EmailConsent).where(EmailConsent.token == token))
