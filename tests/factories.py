"""Small builders for tests: people through invitations, clients through the services."""

from __future__ import annotations

from crm.clients import ClientDraft, ClientRef
from crm.dto import Actor
from crm.roles import Role
from crm.service import CRM
from tests.conftest import ADMIN_TG


async def admin(crm: CRM) -> Actor:
    result = await crm.people.start(ADMIN_TG, "Anna Admin", None, "ru", None)
    assert result is not None
    return result.actor


async def person(
    crm: CRM, tg_id: int, name: str, role: Role = Role.MANAGER, team_id: int | None = None,
    locale: str = "en",
) -> Actor:
    boss = await admin(crm)
    link = await crm.people.create_invite(boss, role, team_id)
    result = await crm.people.start(tg_id, name, None, locale, link.token)
    assert result is not None
    return result.actor


async def client(crm: CRM, owner: Actor, name: str, phone: str | None = None,
                 **fields: object) -> ClientRef:
    return await crm.clients.create(owner, ClientDraft(name=name, phone=phone, **fields))  # type: ignore[arg-type]
