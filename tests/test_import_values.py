"""Import: classifier values nobody knows are asked about one by one through the real
dispatcher — create this one, map it to an existing value (on buttons), leave it empty, or the
same for all the rest — and the import does what was chosen; a forged item is refused. On
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.factory import create_dispatcher
from bot.keyboards.imports import ImportMapCD
from crm.errors import InvalidInput
from crm.importer import guess_mapping, item_code, read_table
from crm.roles import Role
from crm.service import CRM
from storage.models import AuditLog, ClassifierItem, Client
from tests.factories import person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, make_bot
from tests.notify_data import add_team, item_id

HANNA = TgUser(7130, "Hanna", "Head", language_code="en")

CSV = (
    b"Name,Region,Industry,Source,Campaign\r\n"
    b"Acme,Moskva,Sawmills,Trade fair 2027,Spring promo 2027\r\n"
    b"Globex,North Pole,,Trade fair 2027,\r\n"
    b"Initech,Moskva,Retail,,Spring promo 2027\r\n"
)


@dataclass
class World:
    h: Harness
    crm: CRM


@pytest.fixture
async def w(any_crm: CRM) -> AsyncIterator[World]:
    bot, session = make_bot()
    h = Harness(dp=create_dispatcher(any_crm, default_locale="en"), bot=bot, session=session)
    team = await add_team(any_crm.db, "North")
    await person(any_crm, HANNA.id, "Hanna Head", Role.HEAD, team)
    yield World(h, any_crm)
    await bot.session.close()


async def test_unknown_values_one_by_one(w: World) -> None:
    crm, h = w.crm, w.h
    moscow = await item_id(crm.db, "region", "moscow")
    retail = await item_id(crm.db, "industry", "retail")
    await h.send(HANNA, "/import")
    calls = await h.send_document(HANNA, CSV, "clients.csv")
    text = last_text(calls)
    assert "Region «Moskva» (2 rows) is not in the classifiers yet." in text
    assert "(1 of 5)" in text
    # «Moskva» is Moscow: mapped on buttons. A forged item (an industry) is refused first.
    calls = await h.press(HANNA, button(calls, "one of the existing"))
    assert "Which of the existing values is «Moskva» (Region)?" in last_text(calls)
    names = [t for t, _ in buttons(calls)]
    assert "Moscow" in names and "Retail" not in names
    step = int(button(calls, "Moscow").split(":")[1])
    calls = await h.press(HANNA, ImportMapCD(step=step, item=retail).pack())
    assert alerts(calls)
    pick = button(calls := await h.press(HANNA, ImportMapCD(step=step, item=moscow).pack()),
                  "Leave empty")
    assert "Region «North Pole» (1 row) is not in the classifiers yet." in last_text(calls)
    assert "(2 of 5)" in last_text(calls)
    # A double tap of the map button does nothing more.
    await h.press(HANNA, ImportMapCD(step=step, item=moscow).pack())
    calls = await h.press(HANNA, button(calls, "Create «North Pole»"))
    assert "Industry «Sawmills» (1 row)" in last_text(calls)
    assert pick != button(calls, "Leave empty")  # a new question, a new step
    calls = await h.press(HANNA, button(calls, "Leave empty"))
    assert "(4 of 5)" in last_text(calls)
    # The two left (a source and a campaign): created at once.
    calls = await h.press(HANNA, button(calls, "Create all the rest (2)"))
    assert "Who gets the new clients?" in last_text(calls)
    calls = await h.press(HANNA, button(calls, "Leads queue"))
    screen = last_text(calls)
    assert "New clients to create: 3" in screen
    assert "New classifier values to create: 3" in screen
    assert "Values mapped to existing ones: 1" in screen
    assert "Unknown classifier values left empty: 1" in screen
    calls = await h.press(HANNA, button(calls, "Import (3)"))
    assert "Values mapped to existing ones: 1" in last_text(calls)
    assert "New classifier values: 3" in last_text(calls)

    async with crm.db.transaction() as s:
        rows = {c.name: c for c in await s.scalars(select(Client))}
        pole = await s.scalar(select(ClassifierItem).where(
            ClassifierItem.kind == "region", ClassifierItem.code == item_code("North Pole")))
        assert pole is not None and pole.name_en == "North Pole"
        assert rows["Acme"].region_id == rows["Initech"].region_id == moscow
        assert rows["Globex"].region_id == pole.id
        assert rows["Acme"].industry_id is None and rows["Initech"].industry_id == retail
        assert rows["Acme"].source_id == rows["Globex"].source_id is not None
        assert rows["Acme"].campaign_id == rows["Initech"].campaign_id is not None
        assert await s.scalar(select(ClassifierItem.id).where(
            ClassifierItem.name_en.in_(["Moskva", "Sawmills"]))) is None
        [made] = (await s.scalars(select(AuditLog).where(
            AuditLog.action == "classifiers.created"))).all()
        [done] = (await s.scalars(select(AuditLog).where(
            AuditLog.action == "clients.imported"))).all()
    assert sorted(v for _k, v in made.details["values"]) == [  # type: ignore[index]
        "North Pole", "Spring promo 2027", "Trade fair 2027"]
    assert done.details is not None and done.details["values_mapped"] == 1
    assert done.details["mapped"] == [["region", "moskva", moscow]]


async def test_a_value_mapped_to_another_kind_is_refused_in_crm(w: World) -> None:
    crm = w.crm
    hanna = (await crm.people.start(HANNA.id, "Hanna Head", None, "en", None))
    assert hanna is not None
    retail = await item_id(crm.db, "industry", "retail")
    table = read_table(CSV)
    with pytest.raises(InvalidInput):
        await crm.imports.run(hanna.actor, table, guess_mapping(table.headers),
                              owner_id=None, create_values=False, import_id=5,
                              decisions=[["region", "Moskva", retail]])
    with pytest.raises(InvalidInput):
        await crm.imports.run(hanna.actor, table, guess_mapping(table.headers),
                              owner_id=None, create_values=False, import_id=5,
                              decisions=[["region", "Moskva", "drop table"]])
    async with crm.db.transaction() as s:
        assert (await s.scalars(select(Client))).first() is None
