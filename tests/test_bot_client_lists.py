"""Client lists through the real dispatcher: a filter built on buttons and typed values, the
count and the list opening a card, saving (a double tap saves once), reopening after the
data changed, shared and private lists per role, forged buttons refused, the spreadsheet,
and the screens in Russian."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from io import BytesIO

import pytest
from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.keyboards.lists import ListAction, ListCD, PickCD, Share, ShareCD
from crm.lists import ClientFilter, Criterion
from crm.service import CRM
from storage.models import SavedList
from tests.conftest import NOW
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, texts
from tests.list_data import add_client, build
from tests.notify_data import actor, add_planned, add_user
from tests.test_texts import russian_in, said

HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
SAM = TgUser(9005, "Sam", "South", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")
NOT_AVAILABLE = "This is not available (it may have been removed or is not yours)."
STALE = "This button is out of date. Open the screen again."


async def saved_count(crm: CRM) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(SavedList)) or 0)


async def open_builder(h: Harness, user: TgUser) -> list:  # type: ignore[type-arg]
    calls = await h.send(user, "/reports")
    calls = await h.press(user, button(calls, "Client lists"))
    return await h.press(user, button(calls, "New list"))


async def test_build_show_open_a_card_save_and_reopen_fresh(harness: Harness,
                                                            crm: CRM) -> None:
    ids = await build(crm.db)
    h = harness
    seen: list[str] = []
    calls = await h.send(HELEN, "/reports")
    assert "🗂 Client lists" in [t for t, _ in buttons(calls)]
    calls = await h.press(HELEN, button(calls, "Client lists"))
    seen += said(calls)
    assert "No saved lists yet" in last_text(calls)
    calls = await h.press(HELEN, button(calls, "New list"))
    seen += said(calls)
    assert "no criteria: every client you can see" in last_text(calls)
    # A head picks among their team, not teams.
    labels = [t for t, _ in buttons(calls)]
    assert "👤 Manager" in labels and "👥 Team" not in labels
    calls = await h.press(HELEN, button(calls, "Region"))
    seen += said(calls)
    assert "Region: pick one." in last_text(calls)
    calls = await h.press(HELEN, button(calls, "Moscow"))
    seen += said(calls)
    assert "• 📍 Region: Moscow" in last_text(calls)
    assert "✓ 📍 Region" in [t for t, _ in buttons(calls)]
    calls = await h.press(HELEN, button(calls, "No next contact"))
    seen += said(calls)
    assert "• 🚫 No next contact: yes" in last_text(calls)
    calls = await h.press(HELEN, button(calls, "Show"))
    seen += said(calls)
    text = last_text(calls)
    assert "Found: 1" in text and "Region: Moscow" in text
    assert buttons(calls)[0][0] == "Beta · Ivan Petrov"
    result = calls
    # A row opens the client's card.
    calls = await h.press(HELEN, button(result, "Beta"))
    assert "<b>Beta</b>" in last_text(calls)
    # Save: a name, then who sees it; the share button tapped twice saves once.
    calls = await h.press(HELEN, button(result, "Save list"))
    seen += said(calls)
    assert "Type a name for the list" in last_text(calls)
    calls = await h.send(HELEN, "Moscow, nothing planned")
    seen += said(calls)
    assert "who sees this list" in last_text(calls)
    share = button(calls, "Shared with my team")
    first = await h.press(HELEN, share)
    again = await h.press(HELEN, share)
    seen += said(first)
    assert await saved_count(crm) == 1
    assert not alerts(again) and not texts(again)
    text = last_text(first)
    assert text.startswith("💾 Saved.") and "<b>Moscow, nothing planned</b> · 👥 shared" in text
    assert "Found: 1" in text
    # The data changes: Beta gets a call planned, Olga a new Moscow client — the saved list
    # shows it afresh.
    await add_planned(crm.db, ids["beta"], ids["ivan"], NOW + timedelta(days=2))
    await add_client(crm.db, ids["olga"], "Omega", region_id=ids["moscow"])
    calls = await h.press(HELEN, ListCD(action=ListAction.MENU).pack())
    assert buttons(calls)[0][0] == "👥 Moscow, nothing planned"
    calls = await h.press(HELEN, button(calls, "Moscow, nothing planned"))
    seen += said(calls)
    text = last_text(calls)
    assert "Found: 1" in text
    assert buttons(calls)[0][0] == "Omega · Olga Smirnova"
    # The spreadsheet of the saved list.
    calls = await h.press(HELEN, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile) and doc.filename == "clients_20261125.xlsx"
    ws = load_workbook(BytesIO(doc.data)).active
    assert ws is not None and [r[1].value for r in ws.iter_rows(min_row=2)] == ["Omega"]
    assert not russian_in(seen)


async def test_typed_values_with_their_errors(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    h = harness
    calls = await open_builder(h, MARK)
    assert "👥 Team" in [t for t, _ in buttons(calls)]
    calls = await h.press(MARK, button(calls, "Probability"))
    assert "30-70" in last_text(calls)
    calls = await h.send(MARK, "70-30")
    assert "ends before it starts" in last_text(calls)
    calls = await h.send(MARK, "150")
    assert "from 0 to 100" in last_text(calls)
    calls = await h.send(MARK, "50")
    assert "• 🎲 Probability: 50–100 %" in last_text(calls)
    calls = await h.press(MARK, button(calls, "No contact for N days"))
    calls = await h.send(MARK, "a month")
    assert "whole number of days" in last_text(calls)
    calls = await h.send(MARK, "0")
    assert "from 1 to 3650" in last_text(calls)
    calls = await h.send(MARK, "30")
    assert "No contact for N days: 30 days or more" in last_text(calls)
    calls = await h.press(MARK, button(calls, "Created in a period"))
    calls = await h.send(MARK, "32.11-1.12")
    assert "no such date" in last_text(calls)
    calls = await h.send(MARK, "1.11-30.11")
    assert "Created in a period: 1 Nov 2026 – 30 Nov 2026" in last_text(calls)
    calls = await h.press(MARK, button(calls, "Show"))
    text = last_text(calls)
    assert "Found: 1" in text and buttons(calls)[0][0] == "Gamma · Olga Smirnova"
    # Back to the filter; a criterion cleared with «Any», then everything.
    calls = await h.press(MARK, button(calls, "Change the filter"))
    calls = await h.press(MARK, button(calls, "Probability"))
    calls = await h.press(MARK, button(calls, "Any"))
    assert "Probability" not in last_text(calls)
    calls = await h.press(MARK, button(calls, "Clear all"))
    assert "no criteria" in last_text(calls)
    calls = await h.press(MARK, button(calls, "Show"))
    assert "Found: 4" in last_text(calls)
    # The draft's spreadsheet.
    calls = await h.press(MARK, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile)
    ws = load_workbook(BytesIO(doc.data)).active
    assert ws is not None
    assert [r[1].value for r in ws.iter_rows(min_row=2)] == ["Alpha", "Beta", "Delta", "Gamma"]


async def test_shared_and_private_lists_per_role(harness: Harness, crm: CRM) -> None:
    ids = await build(crm.db)
    h = harness
    helen = await actor(crm.db, ids["helen"])
    moscow = ClientFilter(region_id=ids["moscow"])
    shared = await crm.lists.save(helen, "Team Moscow", moscow, shared=True)
    private = await crm.lists.save(helen, "Private one", moscow, shared=False)
    # Ivan (Helen's team) sees the shared one, with his own clients only, and no rename.
    calls = await h.press(IVAN, ListCD(action=ListAction.MENU).pack())
    assert [t for t, _ in buttons(calls)][:2] == ["👥 Team Moscow · Helen Head", "➕ New list"]
    calls = await h.press(IVAN, button(calls, "Team Moscow"))
    text = last_text(calls)
    assert "by Helen Head" in text and "Found: 2" in text
    labels = [t for t, _ in buttons(calls)]
    assert "✏️ Rename" not in labels and "🗑 Delete" not in labels
    # Forged: Helen's private list, her shared list's rename and delete, a list of nobody.
    for data in (ListCD(action=ListAction.OPEN, id=private.id).pack(),
                 ListCD(action=ListAction.XLSX, id=private.id).pack(),
                 ListCD(action=ListAction.EDIT, id=private.id).pack(),
                 ListCD(action=ListAction.RENAME, id=shared.id).pack(),
                 ListCD(action=ListAction.DELETE, id=shared.id).pack(),
                 ListCD(action=ListAction.OPEN, id=99_999).pack()):
        assert alerts(await h.press(IVAN, data)) == [NOT_AVAILABLE], data
    # Sam (another team) sees neither.
    calls = await h.press(SAM, ListCD(action=ListAction.MENU).pack())
    assert buttons(calls)[0][0] == "➕ New list"
    calls = await h.press(SAM, ListCD(action=ListAction.OPEN, id=shared.id).pack())
    assert alerts(calls) == [NOT_AVAILABLE]
    # Malformed ids never reach a query.
    for data in ("cl:open:0:0", "cl:open::0", "cl:open:2147483648:0", "cl:menu:5:0",
                 "clp:region:0:", "clp:prob:5:1", "lsh:all:5", "cld:1:0"):
        assert alerts(await h.press(IVAN, data)) == [STALE], data
    # A service user has no lists at all.
    await add_user(crm.db, 9010, "Sue Service", role="service")
    sue = TgUser(9010, "Sue", "Service", language_code="en")
    calls = await h.press(sue, ListCD(action=ListAction.MENU).pack())
    assert alerts(calls) == ["Your role does not allow this."]
    # Helen renames and deletes her own.
    calls = await h.press(HELEN, ListCD(action=ListAction.RENAME, id=shared.id).pack())
    calls = await h.send(HELEN, "Private one")
    assert "already have a list with this name" in last_text(calls)
    calls = await h.send(HELEN, "Moscow (team)")
    assert "✏️ Renamed." in last_text(calls) and "<b>Moscow (team)</b>" in last_text(calls)
    calls = await h.press(HELEN, ListCD(action=ListAction.DELETE, id=private.id).pack())
    assert "Delete the list «Private one»?" in last_text(calls)
    yes = button(calls, "Yes, delete")
    calls = await h.press(HELEN, yes)
    assert buttons(calls)[0][0] == "👥 Moscow (team)"
    assert not alerts(await h.press(HELEN, yes))  # the second tap does nothing
    assert await saved_count(crm) == 1


async def test_forged_values_in_the_builder(harness: Harness, crm: CRM) -> None:
    ids = await build(crm.db)
    h = harness
    calls = await open_builder(h, HELEN)
    calls = await h.press(HELEN, button(calls, "Manager"))
    assert [t for t, _ in buttons(calls)][:3] == ["Helen Head", "Ivan Petrov", "Olga Smirnova"]
    step = PickCD.unpack(button(calls, "Ivan")).step
    # Sam is not Helen's to pick: refused, and nothing of Sam's is shown.
    forged = PickCD(criterion=Criterion.MANAGER, value=ids["sam"], step=step).pack()
    assert alerts(await h.press(HELEN, forged)) == [NOT_AVAILABLE]
    # A manager has no manager criterion to open.
    calls = await open_builder(h, IVAN)
    assert "👤 Manager" not in [t for t, _ in buttons(calls)]
    build_step = int(button(calls, "Show").split(":")[2])
    forged = f"clb:crit:{build_step}:mgr"
    assert alerts(await h.press(IVAN, forged)) == [NOT_AVAILABLE]
    # A share button of a form that is over.
    forged = ShareCD(share=Share.TEAM, step=12345).pack()
    assert alerts(await h.press(IVAN, forged)) == ["This form is no longer active."]
    assert await saved_count(crm) == 0


@pytest.mark.parametrize("together", [True, False], ids=["together", "one-after-the-other"])
async def test_save_tapped_twice_saves_once(harness: Harness, crm: CRM,
                                            together: bool) -> None:
    await build(crm.db)
    h = harness
    calls = await open_builder(h, IVAN)
    calls = await h.press(IVAN, button(calls, "Overdue invoice"))
    calls = await h.press(IVAN, button(calls, "Show"))
    calls = await h.press(IVAN, button(calls, "Save list"))
    calls = await h.send(IVAN, "Owes us")
    share = button(calls, "Only me")
    if together:
        await asyncio.gather(h.press(IVAN, share), h.press(IVAN, share))
    else:
        await h.press(IVAN, share)
        await h.press(IVAN, share)
    assert await saved_count(crm) == 1
    # The same name again, through a new save: asked for another name.
    calls = await h.press(IVAN, ListCD(action=ListAction.DRAFT).pack())
    calls = await h.press(IVAN, button(calls, "Save list"))
    calls = await h.send(IVAN, "Owes us")
    calls = await h.press(IVAN, button(calls, "Only me"))
    assert "already have a list named «Owes us»" in last_text(calls)
    calls = await h.send(IVAN, "Owes us 2")
    calls = await h.press(IVAN, button(calls, "Only me"))
    assert "💾 Saved." in last_text(calls)
    assert await saved_count(crm) == 2


async def test_the_screens_in_russian(harness: Harness, crm: CRM) -> None:
    """The builder and a result as a Russian-speaking head sees them (printed for review)."""
    await build(crm.db, head_locale="ru")
    h = harness
    calls = await h.send(HELEN, "/reports")
    calls = await h.press(HELEN, button(calls, "Списки клиентов"))
    calls = await h.press(HELEN, button(calls, "Новый список"))
    calls = await h.press(HELEN, button(calls, "Регион"))
    calls = await h.press(HELEN, button(calls, "Москва"))
    calls = await h.press(HELEN, button(calls, "Нет следующего контакта"))
    builder = last_text(calls)
    print("\n--- builder ---\n" + builder + "\n" + repr([t for t, _ in buttons(calls)]))
    assert "• 📍 Регион: Москва" in builder
    calls = await h.press(HELEN, button(calls, "Показать"))
    result = last_text(calls)
    print("\n--- result ---\n" + result + "\n" + repr([t for t, _ in buttons(calls)]))
    assert "Найдено: 1" in result
    assert buttons(calls)[0][0] == "Beta · Ivan Petrov"
