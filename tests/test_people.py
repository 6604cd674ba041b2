"""People and access in `crm/`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.clock import FrozenClock
from crm.dto import Actor
from crm.errors import Conflict, Forbidden
from crm.roles import Role
from crm.service import CRM
from tests.conftest import ADMIN_TG


async def admin(crm: CRM) -> Actor:
    result = await crm.people.start(ADMIN_TG, "Anna Admin", "anna", "ru", None)
    assert result is not None
    return result.actor


async def test_admin_ids_user_becomes_admin_and_stranger_does_not(any_crm: CRM) -> None:
    actor = await admin(any_crm)
    assert actor.role is Role.ADMIN
    assert await any_crm.people.start(555, "Stranger", None, "en", None) is None
    assert await any_crm.people.identify(555) is None
    # Starting again does not create a second user.
    again = await any_crm.people.start(ADMIN_TG, "Anna Admin", "anna", "ru", None)
    assert again is not None and not again.created and again.actor.id == actor.id


async def test_invitation_registers_with_role_and_team_once(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    team = await any_crm.people.create_team(boss, "Север")
    link = await any_crm.people.create_invite(boss, Role.MANAGER, team.id)
    assert len(link.token) >= 22  # 16 random bytes, url-safe
    result = await any_crm.people.start(2002, "Max Manager", None, "ru", link.token)
    assert result is not None and result.created
    assert result.actor.role is Role.MANAGER and result.actor.team_id == team.id
    with pytest.raises(Conflict) as err:
        await any_crm.people.start(3003, "Someone Else", None, "ru", link.token)
    assert err.value.code == "invite_used"
    assert await any_crm.people.identify(3003) is None


async def test_expired_and_unknown_tokens_are_refused(any_crm: CRM, clock: FrozenClock) -> None:
    boss = await admin(any_crm)
    link = await any_crm.people.create_invite(boss, Role.SERVICE, None)
    clock.advance(timedelta(days=7, seconds=1))
    with pytest.raises(Conflict) as err:
        await any_crm.people.start(2002, "Late", None, "ru", link.token)
    assert err.value.code == "invite_expired"
    with pytest.raises(Conflict) as err:
        await any_crm.people.start(2002, "Forger", None, "ru", "not-a-real-token")
    assert err.value.code == "invite_invalid"


async def test_head_invites_managers_into_own_team_only(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    north = await any_crm.people.create_team(boss, "North")
    south = await any_crm.people.create_team(boss, "South")
    head_link = await any_crm.people.create_invite(boss, Role.HEAD, north.id)
    head = (await any_crm.people.start(4004, "Helen Head", None, "en", head_link.token))
    assert head is not None
    with pytest.raises(Forbidden):
        await any_crm.people.create_invite(head.actor, Role.ADMIN, None)
    link = await any_crm.people.create_invite(head.actor, Role.MANAGER, south.id)
    assert link.team_id == north.id
    manager = await any_crm.people.start(5005, "Mike", None, "en", link.token)
    assert manager is not None
    with pytest.raises(Forbidden):
        await any_crm.people.create_invite(manager.actor, Role.MANAGER, None)
    seen = {p.name for p in await any_crm.people.list_people(head.actor)}
    assert seen == {"Helen Head", "Mike"}


async def test_deactivated_user_is_a_stranger_at_once(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    link = await any_crm.people.create_invite(boss, Role.MANAGER, None)
    result = await any_crm.people.start(2002, "Max", None, "ru", link.token)
    assert result is not None
    await any_crm.people.set_active(boss, result.actor.id, False)
    assert await any_crm.people.identify(2002) is None
    assert await any_crm.people.start(2002, "Max", None, "ru", None) is None
    with pytest.raises(Conflict):
        await any_crm.people.set_active(boss, boss.id, False)


async def test_only_admin_changes_roles(any_crm: CRM) -> None:
    boss = await admin(any_crm)
    link = await any_crm.people.create_invite(boss, Role.MANAGER, None)
    result = await any_crm.people.start(2002, "Max", None, "ru", link.token)
    assert result is not None
    with pytest.raises(Forbidden):
        await any_crm.people.change_role(result.actor, boss.id, Role.MANAGER)
    person = await any_crm.people.change_role(boss, result.actor.id, Role.HEAD)
    assert person.role is Role.HEAD
    refreshed = await any_crm.people.identify(2002)
    assert refreshed is not None and refreshed.role is Role.HEAD


async def test_start_again_clears_unreachable(any_crm: CRM) -> None:
    from sqlalchemy import update

    from storage.models import User

    boss = await admin(any_crm)
    async with any_crm.db.transaction() as s:
        await s.execute(update(User).where(User.id == boss.id).values(unreachable=True))
    await any_crm.people.start(ADMIN_TG, "Anna Admin", "anna", "ru", None)
    async with any_crm.db.transaction() as s:
        user = await s.get(User, boss.id)
        assert user is not None and not user.unreachable
