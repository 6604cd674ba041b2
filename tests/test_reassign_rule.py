"""Handing a manager's clients out «by the team's rule» (issue 10: a head takes over a departed
manager's 300 clients in a minute): the rule that hands leads out (round-robin, least busy,
by region/industry) spreads them, skipping managers on vacation or at CLIENTS_IN_WORK_MAX;
open deals, planned contacts and their reminders go along; each manager gets one notice;
the history and the audit log record it. Through the real dispatcher, SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from bot.i18n import create_i18n
from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.client_admin import ReassignRuleCD
from bot.keyboards.leads import TerritoryCD
from bot.keyboards.people import UserAction, UserCD
from crm.clock import FrozenClock
from crm.config import NotifyConfig
from crm.dto import Actor
from crm.errors import Conflict, NotAvailable
from crm.leads import Candidate, Rule, pick
from crm.roles import Role
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.sender import Sender
from storage.models import Activity, AuditLog, Client, Deal, OutboxMessage, PlannedContact
from tests.conftest import ADMIN_TG
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, button, buttons, last_text, make_bot
from tests.notify_data import add_deal, add_planned, item_id, outbox

ADMIN = TgUser(ADMIN_TG, "Anna", "Admin", language_code="en")
IVAN = TgUser(5201, "Ivan", "Petrov", language_code="en")
OLGA = TgUser(5202, "Olga", "Smirnova", language_code="en")
KATE = TgUser(5203, "Kate", "Kuznetsova", language_code="en")
PETR = TgUser(5204, "Petr", "Vacation", language_code="en")
VERA = TgUser(5205, "Vera", "Full", language_code="en")
HELEN = TgUser(5206, "Helen", "Head", language_code="en")
SAM = TgUser(5207, "Sam", "South", language_code="en")
CAP = 5


@dataclass
class World:
    h: Harness
    crm: CRM
    boss: Actor
    ivan: Actor
    olga: Actor
    kate: Actor
    petr: Actor
    vera: Actor
    helen: Actor
    sam: Actor


@pytest.fixture
async def w(any_crm: CRM) -> AsyncIterator[World]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="en")
    boss = await admin(any_crm)
    await any_crm.people.set_locale(boss, "en")
    north = await any_crm.people.create_team(boss, "North")
    south = await any_crm.people.create_team(boss, "South")
    world = World(
        Harness(dp=dp, bot=bot, session=session), any_crm, boss,
        await person(any_crm, IVAN.id, "Ivan Petrov", Role.MANAGER, north.id),
        await person(any_crm, OLGA.id, "Olga Smirnova", Role.MANAGER, north.id),
        await person(any_crm, KATE.id, "Kate Kuznetsova", Role.MANAGER, north.id),
        await person(any_crm, PETR.id, "Petr Vacation", Role.MANAGER, north.id),
        await person(any_crm, VERA.id, "Vera Full", Role.MANAGER, north.id),
        await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, north.id),
        await person(any_crm, SAM.id, "Sam South", Role.HEAD, south.id),
    )
    any_crm.leads.config = NotifyConfig(clients_in_work_max=CAP)
    await any_crm.people.set_vacation(world.helen, world.petr.id, True)
    # Vera is at the cap: CAP clients in work (a planned contact each).
    for i in range(CAP):
        c = await client(any_crm, world.vera, f"Vera's {i}")
        await add_planned(any_crm.db, c.id, world.vera.id,
                          any_crm.clock.now() + timedelta(days=3))
    yield world
    await bot.session.close()


async def count(crm: CRM, model: type[Any], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def owners(crm: CRM, ids: list[int]) -> list[int | None]:
    async with crm.db.transaction() as s:
        found = dict((await s.execute(select(Client.id, Client.owner_id)
                                      .where(Client.id.in_(ids)))).all())
    return [found[i] for i in ids]


async def bulk(crm: CRM, owner: int, n: int, prefix: str = "Bulk",
               **fields: Any) -> list[int]:
    async with crm.db.transaction() as s:
        rows = [Client(name=f"{prefix} {i:03d}", name_norm=f"{prefix.lower()} {i:03d}",
                       search_text=f"{prefix.lower()} {i:03d}", owner_id=owner, **fields)
                for i in range(n)]
        s.add_all(rows)
        await s.flush()
        return [r.id for r in rows]


async def deliver(w: World) -> dict[int, list[str]]:
    w.h.clear()
    sender = Sender(w.crm, w.h.bot, create_i18n("en"), RateLimiter(25, 1))
    items = [i for i in await w.crm.outbox.claim() if i.kind in ("reminder", "reassigned")]
    await sender.deliver(items)
    sent: dict[int, list[str]] = {}
    for c in w.h.session.calls:
        if isinstance(c, SendMessage):
            sent.setdefault(int(c.chat_id), []).append(c.text)
    return sent


def test_by_region_and_industry_precedence() -> None:
    moscow, spb, retail, it = 1, 2, 10, 11
    c = [Candidate(1, "Region only", 0, 0, territories={moscow}),
         Candidate(2, "Both", 3, 30, territories={moscow, retail}),
         Candidate(3, "Industry only", 0, 0, territories={it}),
         Candidate(4, "Nothing", 0, 0)]

    def who(region: int | None, industry: int | None) -> int:
        chosen = pick(Rule.REGION, c, CAP, None, region, industry)
        assert chosen is not None
        return chosen.id

    assert who(moscow, retail) == 2  # region and industry beat a less busy region match
    assert who(moscow, it) == 1  # the region beats the industry
    assert who(spb, it) == 3  # nobody's region: the industry
    assert who(None, it) == 3
    assert who(spb, None) in (1, 3, 4) and who(spb, None) == 1  # least busy, then id
    c[1].on_vacation = True  # «Both» away: the region match takes it
    assert who(moscow, retail) == 1
    c[0].in_work = CAP  # and full: the industry has nobody either, so the least busy
    assert who(moscow, retail) == 3


async def test_a_head_takes_over_300_clients_by_the_rule_in_a_few_taps(
    w: World, clock: FrozenClock
) -> None:
    crm = w.crm
    await crm.leads.set_rule(w.helen, None, "least_busy")
    ids = await bulk(crm, w.ivan.id, 300)
    busy = ids[:4]  # in work: a planned contact, one with an open deal too
    planned = [await add_planned(crm.db, c, w.ivan.id, clock.now() + timedelta(minutes=2 * i - 1))
               for i, c in enumerate(busy)]
    deal = await add_deal(crm.db, busy[0], w.ivan.id, "Pumps", 1000)
    await crm.notifications.enqueue_due()  # the first reminder is queued for Ivan
    [queued] = await outbox(crm.db, "reminder")
    assert queued.chat_id == IVAN.id

    # Three taps: «Move clients» on Ivan's screen, «By the team's rule», «Move».
    calls = await w.h.press(HELEN, UserCD(user_id=w.ivan.id, action=UserAction.OPEN).pack())
    calls = await w.h.press(HELEN, button(calls, "Move clients"))
    assert "Hand all 300 clients of «Ivan Petrov» over to:" in last_text(calls)
    calls = await w.h.press(HELEN, button(calls, "By the team's rule: least busy"))
    assert "Hand all 300 clients of «Ivan Petrov» out by the team's rule (least busy)?" in (
        last_text(calls))
    move = button(calls, "Move")
    calls = await w.h.press(HELEN, move)
    text = last_text(calls)
    assert text.startswith("✅ 300 clients handed out by the rule (least busy):\n"
                           "• Kate Kuznetsova: 150\n• Olga Smirnova: 150\n")
    assert "Open deals moved: 1, planned contacts: 4." in text
    # A second tap on «Move» moves nothing again.
    await w.h.press(HELEN, move)

    got = await owners(crm, ids)
    assert got.count(w.olga.id) == got.count(w.kate.id) == 150  # Petr away, Vera full
    # The four in work went two and two (least busy counts them).
    assert sorted(o or 0 for o in await owners(crm, busy)) == sorted([w.olga.id, w.kate.id] * 2)
    now_of = dict(zip(busy, await owners(crm, busy), strict=True))
    async with crm.db.transaction() as s:
        moved = dict((await s.execute(select(PlannedContact.client_id,
                                             PlannedContact.owner_id)
                                      .where(PlannedContact.id.in_(planned)))).all())
        assert moved == now_of
        assert (await s.get(Deal, deal)).owner_id == now_of[busy[0]]  # type: ignore[union-attr]
    assert await count(crm, Activity, Activity.event == "reassigned") == 300
    assert await count(crm, AuditLog, AuditLog.action == "client.reassigned") == 300
    async with crm.db.transaction() as s:
        [summary] = (await s.scalars(select(AuditLog).where(
            AuditLog.action == "clients.reassigned_by_rule"))).all()
    assert (summary.actor_id, summary.entity, summary.entity_id) == (
        w.helen.id, "user", w.ivan.id)
    assert summary.details == {"rule": "least_busy", "team": w.helen.team_id, "moved": 300,
                               "left": 0, "to": {str(w.olga.id): 150, str(w.kate.id): 150}}
    # One notice each, not 300: Ivan, Olga, Kate.
    rows = [r for r in await outbox(crm.db, "reassigned")]
    assert sorted(r.user_id or 0 for r in rows) == sorted([w.ivan.id, w.olga.id, w.kate.id])
    sent = await deliver(w)
    assert sent[IVAN.id] == [
        "🔀 Helen Head handed 300 of your clients out by the team's rule:\n"
        + "\n".join(f"• Bulk {i:03d}" for i in range(10)) + "\n…and 290 more"]
    first_owner = (await owners(crm, [busy[0]]))[0]
    chat = OLGA.id if first_owner == w.olga.id else KATE.id
    assert any(t.startswith("🔀 Helen Head handed you 150 clients of Ivan Petrov by the "
                            "team's rule:") for t in sent[chat])
    # The reminder queued for Ivan reaches the new manager; Ivan is not reminded.
    assert any("Contact planned" in t and "Bulk 000" in t for t in sent[chat])
    assert not any("Contact planned" in t for t in sent[IVAN.id])
    clock.advance(timedelta(minutes=10))
    await crm.notifications.enqueue_due()
    sent = await deliver(w)
    assert IVAN.id not in sent
    assert sum(len(v) for v in sent.values()) == 3  # the other three reminders


async def test_round_robin_from_the_card_and_on_deactivating(w: World) -> None:
    crm = w.crm
    await crm.leads.set_rule(w.helen, None, "round_robin")
    one = await client(crm, w.ivan, "Acme Pumps")
    calls = await w.h.press(HELEN, ClientCD(id=one.id, action=ClientAction.REASSIGN).pack())
    calls = await w.h.press(HELEN, button(calls, "By the team's rule: round-robin"))
    assert "Hand «Acme Pumps» over by the team's rule (round-robin)?" in last_text(calls)
    calls = await w.h.press(HELEN, button(calls, "Move"))
    assert "✅ 1 client handed out by the rule (round-robin):\n• Olga Smirnova: 1" in (
        last_text(calls))
    assert "Manager: Olga Smirnova" in last_text(calls)

    # The admin deactivates Ivan: his 5 go round-robin on from Olga, skipping Petr and Vera.
    ids = await bulk(crm, w.ivan.id, 5)
    calls = await w.h.press(ADMIN, UserCD(user_id=w.ivan.id, action=UserAction.DEACTIVATE)
                            .pack())
    calls = await w.h.press(ADMIN, button(calls, "Move them all to"))
    calls = await w.h.press(ADMIN, button(calls, "By the team's rule"))
    assert "Then «Ivan Petrov» is deactivated." in last_text(calls)
    calls = await w.h.press(ADMIN, button(calls, "Move"))
    assert "Status: deactivated" in last_text(calls)
    assert await owners(crm, ids) == [w.kate.id, w.olga.id, w.kate.id, w.olga.id, w.kate.id]


async def test_nobody_free_keeps_the_clients_and_the_manager_active(w: World) -> None:
    crm = w.crm
    await crm.leads.set_rule(w.helen, None, "least_busy")
    for who in (w.olga, w.kate):
        await crm.people.set_vacation(w.helen, who.id, True)
    ids = await bulk(crm, w.ivan.id, 3)
    calls = await w.h.press(ADMIN, UserCD(user_id=w.ivan.id, action=UserAction.DEACTIVATE)
                            .pack())
    calls = await w.h.press(ADMIN, button(calls, "Move them all to"))
    calls = await w.h.press(ADMIN, button(calls, "By the team's rule"))
    calls = await w.h.press(ADMIN, button(calls, "Move"))
    text = last_text(calls)
    assert "✅ 0 clients handed out by the rule (least busy):" in text
    assert "⚠️ 3 clients stayed where they were" in text
    assert "«Ivan Petrov» is still active" in text
    assert await owners(crm, ids) == [w.ivan.id] * 3
    assert await count(crm, OutboxMessage, OutboxMessage.kind == "reassigned") == 0


async def test_by_region_and_industry_territories_on_buttons(w: World) -> None:
    crm = w.crm
    moscow = await item_id(crm.db, "region", "moscow")
    retail = await item_id(crm.db, "industry", "retail")
    await crm.leads.set_rule(w.helen, None, "region")
    calls = await w.h.send(HELEN, "/leads")
    calls = await w.h.press(HELEN, button(calls, "🗺 Territories"))
    calls = await w.h.press(HELEN, button(calls, "Kate Kuznetsova"))
    retail_on = button(calls, "🏭 Retail")
    calls = await w.h.press(HELEN, retail_on)
    await w.h.press(HELEN, retail_on)  # a double tap: still on, audited once
    assert await crm.leads.territories(w.helen, w.kate.id) == {retail}
    assert "Territories of Kate Kuznetsova: 1" in last_text(calls)
    assert "✅ Retail" in [t for t, _ in buttons(calls)]
    await w.h.press(HELEN, TerritoryCD(user_id=w.olga.id, item_id=moscow, on=True).pack())
    assert await crm.leads.territories(w.helen, w.olga.id) == {moscow}
    async with crm.db.transaction() as s:
        audits = (await s.scalars(select(AuditLog.details).where(
            AuditLog.action == "leads.territory").order_by(AuditLog.id))).all()
    assert audits == [{"item_id": retail, "kind": "industry", "on": True},
                      {"item_id": moscow, "kind": "region", "on": True}]

    shop = await bulk(crm, w.ivan.id, 2, "Shop", industry_id=retail)
    local = await bulk(crm, w.ivan.id, 2, "Local", region_id=moscow)
    both = await bulk(crm, w.ivan.id, 1, "Moscow shop", region_id=moscow, industry_id=retail)
    done = await crm.leads.reassign_by_rule(w.helen, from_user_id=w.ivan.id)
    assert (done.clients, done.left, done.rule) == (5, 0, Rule.REGION)
    assert await owners(crm, shop) == [w.kate.id] * 2
    assert await owners(crm, local) == [w.olga.id] * 2
    assert await owners(crm, both) == [w.olga.id]  # the region beats the industry


async def test_manual_rule_asks_for_a_person_and_forged_or_foreign_is_refused(
    w: World
) -> None:
    crm = w.crm
    acme = await client(crm, w.ivan, "Acme Pumps")
    calls = await w.h.press(HELEN, ClientCD(id=acme.id, action=ClientAction.REASSIGN).pack())
    assert not any("rule" in t for t, _ in buttons(calls))  # manual: pick a person
    with pytest.raises(Conflict):
        await crm.leads.reassign_by_rule(w.helen, client_ids=[acme.id])
    # A forged «By the rule» (the step of the person prompt, the rule manual) moves nothing.
    step = int(button(calls, "Olga").split(":")[1])
    await w.h.press(HELEN, ReassignRuleCD(step=step).pack())
    assert await owners(crm, [acme.id]) == [w.ivan.id]
    # Another team's head may not spread North's clients, whatever the rule.
    await crm.leads.set_rule(w.helen, None, "round_robin")
    with pytest.raises(NotAvailable):
        await crm.leads.reassign_by_rule(w.sam, from_user_id=w.ivan.id)
    with pytest.raises(NotAvailable):
        await crm.leads.move_rule(w.sam, from_user_id=w.ivan.id)
    calls = await w.h.press(SAM, UserCD(user_id=w.ivan.id, action=UserAction.MOVE_CLIENTS)
                            .pack())
    assert await owners(crm, [acme.id]) == [w.ivan.id]
    # Twice in crm: the second finds nothing of Ivan's left to move.
    first = await crm.leads.reassign_by_rule(w.helen, from_user_id=w.ivan.id,
                                             only_from=w.ivan.id)
    again = await crm.leads.reassign_by_rule(w.helen, from_user_id=w.ivan.id,
                                             only_from=w.ivan.id)
    assert (first.clients, again.clients) == (1, 0)
    assert await count(crm, Activity, Activity.event == "reassigned") == 1


def test_the_by_rule_notices_in_russian() -> None:
    from bot.notices import reassigned_text
    from crm.reminders import ReassignedView, Recipient
    from scheduler.sender import in_locale

    who = Recipient(1, 1, "Ivan", "ru", "Europe/Moscow", Role.MANAGER)
    clients = [(1, "ООО Насосы"), (2, "Клиент 2")]
    away = ReassignedView(who, "Елена", "Иван Петров", "", False, 300, clients, by_rule=True)
    got = ReassignedView(who, "Елена", "Иван Петров", "Ольга", True, 2, clients, by_rule=True)
    with in_locale(create_i18n("ru"), "ru"):
        assert reassigned_text(away).startswith(
            "🔀 Елена распределил(а) 300 ваших клиентов по правилу команды:\n• ООО Насосы")
        assert reassigned_text(got).startswith(
            "🔀 Вам переданы 2 клиента менеджера «Иван Петров» по правилу команды "
            "(передал(а) Елена):")
