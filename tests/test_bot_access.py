"""/start, invitations, strangers and forged buttons through the real dispatcher."""

from __future__ import annotations

from aiogram.methods import SetMyCommands

from bot.keyboards.people import InviteRoleCD, PersonRoleCD, UserCD
from crm.roles import Role
from crm.service import CRM
from tests.conftest import ADMIN_TG
from tests.harness import (
    BOT_USERNAME,
    Harness,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    reply_keyboard,
    texts,
)

ADMIN = TgUser(ADMIN_TG, "Anna", "Adminova", language_code="ru")


async def invite_link(h: Harness, role_button: str) -> str:
    calls = await h.send(ADMIN, "/invite")
    calls = await h.press(ADMIN, button(calls, role_button))
    text = last_text(calls)
    prefix = f"https://t.me/{BOT_USERNAME}?start="
    assert prefix in text
    return text.split(prefix)[1].split()[0]


async def test_admin_gets_admin_menu_and_commands(harness: Harness) -> None:
    calls = await harness.send(ADMIN, "/start")
    said = "\n".join(texts(calls))
    assert "Добро пожаловать, Anna Adminova" in said
    assert "Администратор" in said
    assert "Сегодня" in said  # the day's plan follows the greeting
    assert {"👥 Сотрудники", "✉️ Пригласить"} <= set(reply_keyboard(calls))
    cmds = [c for c in calls if isinstance(c, SetMyCommands)]
    assert cmds and {"invite", "people", "newteam"} <= {c.command for c in cmds[0].commands}


async def test_invitation_registers_a_manager(harness: Harness, crm: CRM) -> None:
    await harness.send(ADMIN, "/start")
    token = await invite_link(harness, "Менеджер")
    newbie = TgUser(2002, "Max", "Sokolov", language_code="en")
    calls = await harness.send(newbie, f"/start {token}")
    assert "registered as: Sales manager" in texts(calls)[0]
    assert "Planned for today" in last_text(calls) or "Nothing planned" in last_text(calls)
    menu = reply_keyboard(calls)
    assert "👥 People" not in menu and "❓ Help" in menu
    actor = await crm.people.identify(2002)
    assert actor is not None and actor.role is Role.MANAGER
    # The link works once.
    other = TgUser(3003, "Eve", None, language_code="ru")
    calls = await harness.send(other, f"/start {token}")
    assert "уже использована" in last_text(calls)
    assert await crm.people.identify(3003) is None


async def test_stranger_is_refused_politely_in_own_language(harness: Harness) -> None:
    ru = TgUser(7007, "Пётр", None, language_code="ru")
    en = TgUser(8008, "Peter", None, language_code="en")
    assert "нужно приглашение" in last_text(await harness.send(ru, "/start"))
    assert "you need an invitation" in last_text(await harness.send(en, "/people"))
    assert "you need an invitation" in last_text(await harness.send(en, "hello"))
    calls = await harness.press(en, UserCD(user_id=1, action="off").pack())
    assert any("you need an invitation" in a for a in alerts(calls))


async def test_deactivated_user_is_refused_at_next_tap(harness: Harness, crm: CRM) -> None:
    await harness.send(ADMIN, "/start")
    token = await invite_link(harness, "Менеджер")
    max_ = TgUser(2002, "Max", None, language_code="ru")
    await harness.send(max_, f"/start {token}")
    actor = await crm.people.identify(2002)
    assert actor is not None
    calls = await harness.send(ADMIN, "/people")
    calls = await harness.press(ADMIN, button(calls, "Max"))
    calls = await harness.press(ADMIN, button(calls, "Отключить"))
    assert "отключён" in last_text(calls)
    assert "нужно приглашение" in last_text(await harness.send(max_, "/help"))


async def test_forged_callback_from_manager_changes_nothing(harness: Harness, crm: CRM) -> None:
    await harness.send(ADMIN, "/start")
    token = await invite_link(harness, "Менеджер")
    max_ = TgUser(2002, "Max", None, language_code="en")
    await harness.send(max_, f"/start {token}")
    admin_actor = await crm.people.identify(ADMIN_TG)
    assert admin_actor is not None
    # A manager crafts the admin's buttons: make myself admin, deactivate the admin, invite.
    forged = [
        PersonRoleCD(user_id=admin_actor.id, role=Role.MANAGER).pack(),
        UserCD(user_id=admin_actor.id, action="off").pack(),
        InviteRoleCD(role=Role.ADMIN).pack(),
    ]
    for data in forged:
        calls = await harness.press(max_, data)
        assert alerts(calls) == ["Your role does not allow this."]
        assert not texts(calls)
    still = await crm.people.identify(ADMIN_TG)
    assert still is not None and still.role is Role.ADMIN
    me = await crm.people.identify(2002)
    assert me is not None and me.role is Role.MANAGER


async def test_language_switch_is_remembered(harness: Harness) -> None:
    await harness.send(ADMIN, "/start")
    calls = await harness.send(ADMIN, "/lang")
    calls = await harness.press(ADMIN, button(calls, "English"))
    assert "Language: English" in last_text(calls)
    help_text = last_text(await harness.send(ADMIN, "/help"))
    assert "/people — people, roles, teams and vacations" in help_text


async def test_head_sends_own_manager_on_vacation_but_not_others(
    harness: Harness, crm: CRM
) -> None:
    from tests.factories import person

    boss = await crm.people.start(ADMIN_TG, "Anna", None, "ru", None)
    assert boss is not None
    north = await crm.people.create_team(boss.actor, "North")
    south = await crm.people.create_team(boss.actor, "South")
    head = TgUser(4004, "Helen", None, language_code="en")
    await person(crm, head.id, "Helen", Role.HEAD, team_id=north.id)
    mine = await person(crm, 2002, "Max", team_id=north.id)
    other = await person(crm, 3003, "Eve", team_id=south.id)
    calls = await harness.send(head, "/people")
    calls = await harness.press(head, button(calls, "Max"))
    calls = await harness.press(head, button(calls, "On vacation"))
    assert "On vacation" in last_text(calls)
    assert "Back from vacation" in buttons(calls)[0][0]
    calls = await harness.press(head, UserCD(user_id=other.id, action="vac").pack())
    assert any("not available" in a for a in alerts(calls))
    people = {p.name: p for p in await crm.people.list_people(boss.actor)}
    assert people["Max"].on_vacation and not people["Eve"].on_vacation
    assert mine.id == people["Max"].id


async def test_malformed_people_buttons_are_out_of_date(harness: Harness) -> None:
    """Ids out of range, unknown actions, roles and languages never reach a handler."""
    await harness.send(ADMIN, "/start")
    for data in ("ppl::off", "ppl:0:open", f"ppl:{2**31}:roles", "ppl:5:explode",
                 "pplt:5:0", "pplr:5:king", "invt:manager:-1", "lang:de", "inv:pope"):
        calls = await harness.press(ADMIN, data)
        assert any("устарела" in a for a in alerts(calls)), (data, alerts(calls))
