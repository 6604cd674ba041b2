"""The leads queue through the real dispatcher: a marketer's /new client is handed out under
round-robin and the manager is pushed with the card's buttons; the queue screen and a
one-tap assign; a double tap (both at once) gives the lead once; the rule chosen on
buttons; territories; forged buttons refused; the head's unattended-lead notice, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.keyboards.leads import LeadAction, LeadCD, LeadRuleCD, TerritoryCD
from crm.clock import FrozenClock
from crm.dto import Actor
from crm.leads import LEADS_WAITING, Rule
from crm.roles import Role
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.sender import Sender
from storage.models import Activity, AuditLog, Client
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, make_bot, texts

HELEN = TgUser(7101, "Helen", "Head", language_code="en")
IVAN = TgUser(7102, "Ivan", "Petrov", language_code="en")
OLGA = TgUser(7103, "Olga", "Smirnova", language_code="en")
MARY = TgUser(7104, "Mary", "Market", language_code="en")
SAM = TgUser(7105, "Sam", "South", language_code="en")
ELENA = TgUser(7106, "Елена", "Р", language_code="ru")


@dataclass
class World:
    h: Harness
    crm: CRM
    helen: Actor
    ivan: Actor
    olga: Actor
    mary: Actor
    sam: Actor


@pytest.fixture
async def w(any_crm: CRM) -> AsyncIterator[World]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="en")
    boss = await admin(any_crm)
    north = await any_crm.people.create_team(boss, "North")
    south = await any_crm.people.create_team(boss, "South")
    yield World(
        Harness(dp=dp, bot=bot, session=session), any_crm,
        await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, north.id),
        await person(any_crm, IVAN.id, "Ivan Petrov", Role.MANAGER, north.id),
        await person(any_crm, OLGA.id, "Olga Smirnova", Role.MANAGER, north.id),
        await person(any_crm, MARY.id, "Mary Market", Role.MARKETER, north.id),
        await person(any_crm, SAM.id, "Sam South", Role.HEAD, south.id),
    )
    await bot.session.close()


async def owner(crm: CRM, client_id: int) -> int | None:
    async with crm.db.transaction() as s:
        found = await s.get(Client, client_id)
        assert found is not None
        return found.owner_id


async def deliver(w: World, kinds: tuple[str, ...]) -> dict[int, list[SendMessage]]:
    w.h.session.calls.clear()
    sender = Sender(w.crm, w.h.bot, create_i18n("en"), RateLimiter(25, 1))
    await sender.deliver([i for i in await w.crm.outbox.claim() if i.kind in kinds])
    sent: dict[int, list[SendMessage]] = {}
    for c in w.h.session.calls:
        if isinstance(c, SendMessage):
            sent.setdefault(int(c.chat_id), []).append(c)
    return sent


async def test_a_marketers_new_client_goes_round_robin_with_a_push(w: World) -> None:
    # The head picks the rule on buttons, from the people screen's «Leads».
    calls = await w.h.send(HELEN, "/people")
    assert "📥 Leads (0)" in [t for t, _ in buttons(calls)]
    calls = await w.h.press(HELEN, button(calls, "📥 Leads"))
    assert "Rule: manual (from the queue)" in last_text(calls)
    calls = await w.h.press(HELEN, button(calls, "⚙️ Rule"))
    calls = await w.h.press(HELEN, button(calls, "round-robin"))
    assert "Now: round-robin" in last_text(calls)
    assert "✅ round-robin" in [t for t, _ in buttons(calls)]
    # Mary (marketing) adds a client with /new.
    await w.h.send(MARY, "/new")
    await w.h.send(MARY, "Fresh Lead LLC")
    calls = await w.h.send(MARY, "+7 916 555 44 33")
    for _ in range(5):
        calls = await w.h.press(MARY, button(calls, "Skip"))
    assert "Client «Fresh Lead LLC» created" in "\n".join(texts(calls))
    async with w.crm.db.transaction() as s:
        lead = await s.scalar(select(Client).where(Client.name == "Fresh Lead LLC"))
    assert lead is not None and lead.owner_id == w.ivan.id
    sent = await deliver(w, ("reassigned",))
    [push] = sent[IVAN.id]
    assert "📥 A new lead for you (1):" in (push.text or "") and "Fresh Lead LLC" in push.text
    assert push.reply_markup is not None
    assert "Fresh Lead LLC" in push.reply_markup.inline_keyboard[0][0].text  # type: ignore[union-attr]


async def test_queue_and_one_tap_assign_once(w: World) -> None:
    lead = await client(w.crm, w.mary, "Queue Corp")
    calls = await w.h.send(HELEN, "/leads")
    said = last_text(calls)
    assert "📥 <b>Leads of «North»: 1</b>" in said and "1. Queue Corp" in said
    assert "🎯 By the rule" not in [t for t, _ in buttons(calls)]  # manual
    calls = await w.h.press(HELEN, button(calls, "Queue Corp"))
    assert "Lead «Queue Corp». Give it to:" in last_text(calls)
    names = [t for t, _ in buttons(calls)]
    assert "🙋 Take it myself" in names and "Olga Smirnova · 0 in work" in names
    give = button(calls, "Olga Smirnova")
    first, second = await asyncio.gather(w.h.press(HELEN, give), w.h.press(HELEN, give))
    assert await owner(w.crm, lead.id) == w.olga.id
    said = "\n".join(texts(first + second))
    assert "✅ The lead went to Olga Smirnova." in said
    assert "This lead has already been taken." in alerts(first + second)
    async with w.crm.db.transaction() as s:
        n = await s.scalar(select(func.count()).select_from(Activity)
                           .where(Activity.client_id == lead.id,
                                  Activity.event == "reassigned"))
        audit = await s.scalar(select(func.count()).select_from(AuditLog)
                               .where(AuditLog.action == "client.reassigned",
                                      AuditLog.entity_id == lead.id))
    assert n == 1 and audit == 1


async def test_by_the_rule_and_territories_on_buttons(w: World) -> None:
    moscow = await w.crm.classifiers.by_code("region", "moscow")
    assert moscow is not None
    a = await client(w.crm, w.mary, "Moscow One", region_id=moscow.id)
    b = await client(w.crm, w.mary, "Moscow Two", region_id=moscow.id)
    calls = await w.h.send(HELEN, "/leads")
    calls = await w.h.press(HELEN, button(calls, "🗺 Territories"))
    calls = await w.h.press(HELEN, button(calls, "Ivan Petrov"))
    calls = await w.h.press(HELEN, button(calls, "Moscow"))
    assert "Territories of Ivan Petrov: 1" in last_text(calls)
    assert "✅ Moscow" in [t for t, _ in buttons(calls)]
    await w.h.press(HELEN, LeadRuleCD(team_id=w.helen.team_id or 0, rule=Rule.REGION).pack())
    calls = await w.h.send(HELEN, "/leads")
    calls = await w.h.press(HELEN, button(calls, "🎯 By the rule"))
    assert "🎯 2 leads handed out by the rule." in last_text(calls)
    assert "Nobody is waiting." in last_text(calls)
    assert await owner(w.crm, a.id) == await owner(w.crm, b.id) == w.ivan.id


async def test_forged_buttons_are_refused(w: World) -> None:
    lead = await client(w.crm, w.mary, "Not Yours")
    assign = LeadCD(action=LeadAction.ASSIGN, id=lead.id, user_id=w.ivan.id).pack()
    for who in (IVAN, MARY, SAM):  # a manager, marketing, another team's head
        calls = await w.h.press(who, assign)
        assert alerts(calls), who
    rule = LeadRuleCD(team_id=w.helen.team_id or 0, rule=Rule.ROUND_ROBIN).pack()
    for who in (IVAN, MARY):
        assert alerts(await w.h.press(who, rule))
    territory = TerritoryCD(user_id=w.ivan.id, item_id=1, on=True).pack()
    assert alerts(await w.h.press(SAM, territory))
    assert alerts(await w.h.press(IVAN, LeadCD(action=LeadAction.QUEUE).pack()))
    assert await owner(w.crm, lead.id) is None
    assert await w.crm.leads.rule(w.helen, None) is Rule.MANUAL
    assert await w.crm.leads.territories(w.helen, w.ivan.id) == set()


async def test_the_head_is_told_once_of_a_lead_nobody_took(w: World) -> None:
    await client(w.crm, w.mary, "Forgotten Ltd")
    clock = w.crm.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(minutes=61))
    await w.crm.leads.alert_unattended()
    await w.crm.leads.alert_unattended()  # the next tick: nothing new
    sent = await deliver(w, (LEADS_WAITING,))
    [notice] = sent[HELEN.id]
    assert "⏰ 1 lead has been waiting for more than 60 min:" in (notice.text or "")
    assert "Forgotten Ltd" in (notice.text or "")
    assert SAM.id not in sent
    calls = await w.h.press(HELEN, notice.reply_markup.inline_keyboard[0][0].callback_data or "")  # type: ignore[union-attr]
    assert "1. Forgotten Ltd" in last_text(calls)


async def test_russian_queue(w: World) -> None:
    boss = await admin(w.crm)
    await person(w.crm, ELENA.id, "Елена", Role.HEAD, w.helen.team_id, locale="ru")
    await client(w.crm, w.mary, "Ромашка")
    assert boss
    calls = await w.h.send(ELENA, "/leads")
    said = last_text(calls)
    assert "📥 <b>Лиды «North»: 1</b>" in said and "Правило: вручную (из очереди)" in said
    calls = await w.h.press(ELENA, button(calls, "Ромашка"))
    assert "Лид «Ромашка». Кому отдать:" in last_text(calls)
    assert "🙋 Взять себе" in [t for t, _ in buttons(calls)]
