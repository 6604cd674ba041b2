"""Issue 10's «Done when», through the real dispatcher on SQLite and PostgreSQL: marketing
adds a campaign and a loss reason, a head distributes 50 imported leads by region — all in
the bot, all in the audit log. (The departed manager's 300 clients: tests/test_reassign_rule.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.factory import create_dispatcher
from crm.dto import Actor
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, AuditLog, ClassifierItem, Client, OutboxMessage
from tests.factories import person
from tests.harness import Harness, TgUser, button, buttons, last_text, make_bot
from tests.notify_data import add_team, item_id

MARK = TgUser(3101, "Mark", "Marketer", language_code="en")
HELEN = TgUser(3102, "Helen", "Head", language_code="en")
OLGA = TgUser(3103, "Olga", "Moscow", language_code="en")
KATE = TgUser(3104, "Kate", "Spb", language_code="en")


@dataclass
class World:
    h: Harness
    crm: CRM
    mark: Actor
    helen: Actor
    olga: Actor
    kate: Actor


@pytest.fixture
async def w(any_crm: CRM) -> AsyncIterator[World]:
    bot, session = make_bot()
    h = Harness(dp=create_dispatcher(any_crm, default_locale="en"), bot=bot, session=session)
    team = await add_team(any_crm.db, "North")
    yield World(
        h, any_crm,
        await person(any_crm, MARK.id, "Mark Marketer", Role.MARKETER),
        await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, team),
        await person(any_crm, OLGA.id, "Olga Moscow", Role.MANAGER, team),
        await person(any_crm, KATE.id, "Kate Spb", Role.MANAGER, team),
    )
    await bot.session.close()


async def audit(crm: CRM, action: str) -> list[AuditLog]:
    async with crm.db.transaction() as s:
        return list((await s.scalars(select(AuditLog).where(AuditLog.action == action)
                                     .order_by(AuditLog.id))).all())


async def count(crm: CRM, model: type[Any], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_marketing_adds_a_campaign_and_a_loss_reason(w: World) -> None:
    h, crm = w.h, w.crm
    added = {}
    for kind, title, en, ru in (("campaign", "Campaigns", "Winter sale", "Зимняя распродажа"),
                                ("loss_reason", "Loss reasons", "Went bankrupt",
                                 "Обанкротился")):
        calls = await h.send(MARK, "/settings")
        calls = await h.press(MARK, button(calls, "Classifiers"))
        calls = await h.press(MARK, button(calls, title))
        calls = await h.press(MARK, button(calls, "Add"))
        calls = await h.send(MARK, en)
        calls = await h.send(MARK, ru)
        assert f"✅ Added: «{en}»" in last_text(calls)
        async with crm.db.transaction() as s:
            item = await s.scalar(select(ClassifierItem).where(
                ClassifierItem.kind == kind, ClassifierItem.name_en == en))
        assert item is not None and item.name_ru == ru
        added[kind] = item.id
    entries = await audit(crm, "classifier.added")
    assert [(e.actor_id, e.entity, e.entity_id, (e.details or {}).get("kind"))
            for e in entries] == [
        (w.mark.id, "classifier_item", added["campaign"], "campaign"),
        (w.mark.id, "classifier_item", added["loss_reason"], "loss_reason"),
    ]
    # The new loss reason is offered when a deal is lost: it is in the live list.
    assert "Went bankrupt" in [i.en for i in await crm.classifiers.items("loss_reason")]


def fifty_leads() -> bytes:
    lines = ["Название;Телефон;Регион"]
    for i in range(50):
        region = "Москва" if i % 5 else "Санкт-Петербург"
        lines.append(f"Компания {i:02d};+7916{i:07d};{region}")
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


async def test_a_head_distributes_50_imported_leads_by_region(w: World) -> None:
    h, crm = w.h, w.crm
    moscow = await item_id(crm.db, "region", "moscow")
    spb = await item_id(crm.db, "region", "spb")
    # The rule and the territories, on buttons.
    calls = await h.send(HELEN, "/leads")
    calls = await h.press(HELEN, button(calls, "⚙️ Rule"))
    by_region = button(calls, "by region/industry")
    calls = await h.press(HELEN, by_region)
    await h.press(HELEN, by_region)  # a double tap: set once, audited once
    assert "Now: by region/industry" in last_text(calls)
    calls = await h.press(HELEN, button(calls, "« Queue"))
    calls = await h.press(HELEN, button(calls, "🗺 Territories"))
    territories = calls
    calls = await h.press(HELEN, button(territories, "Olga Moscow"))
    await h.press(HELEN, button(calls, "Moscow"))
    calls = await h.press(HELEN, button(territories, "Kate Spb"))
    calls = await h.press(HELEN, button(calls, "Saint Petersburg"))
    assert "✅ Saint Petersburg" in [t for t, _ in buttons(calls)]
    # The import into the leads queue: handed out at once by the rule.
    await h.send(HELEN, "/import")
    calls = await h.send_document(HELEN, fifty_leads(), "leads.csv")
    calls = await h.press(HELEN, button(calls, "Leads queue"))
    assert "New clients to create: 50" in last_text(calls)
    calls = await h.press(HELEN, button(calls, "Import (50)"))
    assert "✅ Import done: 50 clients created" in last_text(calls)

    async with crm.db.transaction() as s:
        rows = (await s.execute(select(Client.region_id, Client.owner_id))).all()
    assert len(rows) == 50
    assert {(r, o) for r, o in rows} == {(moscow, w.olga.id), (spb, w.kate.id)}
    assert sum(1 for r, _o in rows if r == spb) == 10
    calls = await h.send(HELEN, "/leads")
    assert "Nobody is waiting." in last_text(calls)
    # One push per manager, not fifty.
    assert await count(crm, OutboxMessage, OutboxMessage.kind == "reassigned") == 2
    # All of it in the audit log (and each lead's history).
    assert [e.details for e in await audit(crm, "leads.rule")] == [{"rule": "region"}]
    assert [(e.entity_id, (e.details or {}).get("item_id"))
            for e in await audit(crm, "leads.territory")] == [(w.olga.id, moscow),
                                                             (w.kate.id, spb)]
    [imported] = await audit(crm, "clients.imported")
    assert imported.actor_id == w.helen.id and (imported.details or {})["created"] == 50
    moved = await audit(crm, "client.reassigned")
    assert len(moved) == 50 and {e.actor_id for e in moved} == {w.helen.id}
    assert await count(crm, Activity, Activity.event == "reassigned") == 50
