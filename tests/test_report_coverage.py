"""Coverage of the base against a hand-built data set (the digest's, plus Olga's and Sam's
edges): contacted in 30 / 90 days (an edge at exactly 30 days), no next contact, never
contacted (a system event is no contact), deleted clients left out; text and spreadsheet."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

from openpyxl import load_workbook
from pytest import approx
from sqlalchemy import select, update

from bot.i18n import create_i18n
from bot.report_views import coverage_text
from bot.xlsx import coverage_xlsx
from crm.reports.coverage import Coverage, CoverageReport
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from storage.models import Activity, Client
from tests.conftest import NOW
from tests.harness import Harness, TgUser, button, last_text
from tests.notify_data import actor, add_activity, add_client
from tests.test_digest import build

HELEN = TgUser(9001, "Helen", "Head", language_code="en")


async def build_coverage(db: Database) -> dict[str, int]:
    ids = await build(db)
    async with db.transaction() as s:
        olgas = list(await s.scalars(select(Client.id).where(Client.owner_id == ids["olga"])
                                     .order_by(Client.id)))
    await add_activity(db, olgas[0], ids["olga"], "call", NOW - timedelta(days=60))
    async with db.transaction() as s:  # a system event is no contact
        s.add(Activity(client_id=olgas[1], author_id=ids["olga"], event="deal_won",
                       occurred_at=NOW - timedelta(days=1), created_at=NOW))
    gone = await add_client(db, ids["olga"], "Gone")
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == gone).values(is_deleted=True))
    edge = await add_client(db, ids["sam"], "Edge")
    await add_activity(db, edge, ids["sam"], "call", NOW - timedelta(days=30))
    late = await add_client(db, ids["sam"], "Just late")
    await add_activity(db, late, ids["sam"], "call", NOW - timedelta(days=30, seconds=1))
    return ids


def figures(c: Coverage) -> tuple[int, int, int, int, int]:
    return (c.clients, c.contacted_30, c.contacted_90, c.no_next_contact, c.never_contacted)


async def test_coverage_of_a_team(any_crm: CRM) -> None:
    ids = await build_coverage(any_crm.db)
    r = await any_crm.reports.coverage(await actor(any_crm.db, ids["helen"]))
    assert r.as_of == date(2026, 11, 25)
    assert [(c.name, figures(c)) for c in r.managers] == [
        ("Ivan Petrov", (3, 2, 2, 1, 1)),
        ("Olga Smirnova", (6, 1, 2, 6, 4)),
        ("Vera Away", (0, 0, 0, 0, 0))]
    assert figures(r.total) == (9, 3, 4, 7, 5)


async def test_coverage_edges_and_scope(crm: CRM) -> None:
    ids = await build_coverage(crm.db)
    sid = await crm.reports.coverage(await actor(crm.db, ids["sid"]))  # the South head
    (sam,) = sid.managers
    # "South client" (a call on 21 Nov), "Edge" (exactly 30 days ago), "Just late".
    assert figures(sam) == (3, 2, 3, 3, 0)
    mine = await crm.reports.coverage(await actor(crm.db, ids["ivan"]))
    assert [c.name for c in mine.managers] == ["Ivan Petrov"]


async def test_coverage_text_and_spreadsheet(crm: CRM) -> None:
    ids = await build_coverage(crm.db)
    r = await crm.reports.coverage(await actor(crm.db, ids["helen"]))
    with in_locale(create_i18n("ru"), "en"):
        text = coverage_text(r)
        data = coverage_xlsx(r)
    assert "<b>Total</b>\nClients: 9\nContacted in 30 days: 3 (33.3%) · in 90 days: 4 (44.4%)" \
        in text
    assert "<b>Olga Smirnova</b>\nClients: 6" in text and "Never contacted: 4 (66.7%)" in text
    assert "<b>Vera Away</b>\nClients: 0\nContacted in 30 days: 0 · in 90 days: 0" in text
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Coverage", "Period"]
    ws = wb["Coverage"]
    assert [c.value for c in ws[1]] == [
        "Manager", "Clients", "Contacted in 30 days", "Share", "Contacted in 90 days", "Share",
        "No next contact", "Share", "Never contacted", "Share"]
    assert [c.value for c in ws[2]] == ["Ivan Petrov", 3, 2, approx(0.667), 2, approx(0.667),
                                        1, approx(0.333), 1, approx(0.333)]
    assert ws["D2"].number_format == "0.0%" and ws["C2"].number_format == "0"
    assert [c.value for c in ws[4]][:3] == ["Vera Away", 0, 0] and ws["D4"].value is None
    assert [c.value for c in ws[5]][:2] == ["Total", 9]


async def test_coverage_through_the_menu(harness: Harness, crm: CRM) -> None:
    await build_coverage(crm.db)
    calls = await harness.send(HELEN, "📊 Reports")
    calls = await harness.press(HELEN, button(calls, "Coverage"))
    text = last_text(calls)
    assert "Coverage of the base" in text and "team «North»" in text
    assert "Ivan Petrov" in text and "Sam" not in text


def test_empty_report_has_no_percentages() -> None:
    from crm.reports.scope import Audience, ScopeKind

    empty = Coverage(0, "", 0, 0, 0, 0, 0)
    r = CoverageReport(Audience(ScopeKind.ALL, None, ()), date(2026, 11, 25), empty, ())
    with in_locale(create_i18n("ru"), "en"):
        assert "No managers to report on yet." in coverage_text(r)
