"""Receivables by age against a hand-built data set (the digest's invoices plus Olga's and
Sam's), the buckets' edges, the viewer's time zone, the spreadsheet, and the drill-down to an
invoice through the real dispatcher."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook

from bot.i18n import create_i18n
from bot.report_views import receivables_text
from bot.xlsx import receivables_xlsx
from crm.reports.receivables import bucket_of
from crm.reports.scope import ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import actor, add_client, add_deal, add_invoice, add_user
from tests.test_digest import build, msk

HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
D = Decimal


async def build_debts(db: Database) -> dict[str, int]:
    ids = await build(db)
    debtor = await add_client(db, ids["olga"], "Olga debtor")
    deal = await add_deal(db, debtor, ids["olga"], "Supply", 30_000, status="won",
                          closed_at=msk(7, 1))
    for amount, due in ((12_000, date(2026, 9, 1)), (8_000, date(2026, 8, 1)),
                        (4_000, date(2026, 10, 26)), (6_000, date(2026, 10, 25))):
        await add_invoice(db, deal, amount, due)
    south = await add_client(db, ids["sam"], "South debtor")
    sam_deal = await add_deal(db, south, ids["sam"], "South", 1000, status="won",
                              closed_at=msk(10, 1))
    await add_invoice(db, sam_deal, 1000, date(2026, 11, 1))
    return ids


def test_bucket_edges() -> None:
    assert [bucket_of(d) for d in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


async def test_receivables_of_a_team(any_crm: CRM) -> None:
    ids = await build_debts(any_crm.db)
    r = await any_crm.reports.receivables(await actor(any_crm.db, ids["helen"]))
    assert r.as_of == date(2026, 11, 25) and r.audience.kind is ScopeKind.TEAM
    assert r.total.buckets == (D(30000), D(54000), D(6000), D(12000), D(8000))
    assert (r.total.total, r.total.overdue) == (D(110000), D(80000))
    assert [(x.name, x.buckets) for x in r.by_manager] == [
        ("Ivan Petrov", (D(30000), D(50000), D(0), D(0), D(0))),
        ("Olga Smirnova", (D(0), D(4000), D(6000), D(12000), D(8000))),
        ("Vera Away", (D(0),) * 5)]
    assert [(x.name, x.overdue, x.total) for x in r.by_client] == [
        ("Gamma", D(50000), D(50000)), ("Olga debtor", D(30000), D(30000)),
        ("Alpha", D(0), D(30000))]
    assert [(i.client_name, i.days_overdue, i.owed) for i in r.invoices] == [
        ("Olga debtor", 116, D(8000)), ("Olga debtor", 85, D(12000)),
        ("Olga debtor", 31, D(6000)), ("Olga debtor", 30, D(4000)),
        ("Gamma", 5, D(50000)), ("Alpha", -5, D(30000))]


async def test_own_everyone_and_the_viewers_today(crm: CRM) -> None:
    ids = await build_debts(crm.db)
    mine = await crm.reports.receivables(await actor(crm.db, ids["ivan"]))
    assert [x.name for x in mine.by_client] == ["Gamma", "Alpha"]
    assert mine.total.total == D(80000)
    everyone = await crm.reports.receivables(await actor(crm.db, ids["admin"]))
    assert everyone.total.total == D(111000)
    # 09:00 UTC on 25 Nov is still the 24th in Honolulu: 25 Oct is 30 days ago there.
    far = await add_user(crm.db, 9300, "Hana Admin", role="admin", tz="Pacific/Honolulu")
    r = await crm.reports.receivables(await actor(crm.db, far))
    assert r.as_of == date(2026, 11, 24)
    assert r.total.buckets[1:3] == (D(61000), D(0))  # 4 000 + 6 000 + 50 000 + 1 000


async def test_receivables_text_and_spreadsheet(crm: CRM) -> None:
    ids = await build_debts(crm.db)
    r = await crm.reports.receivables(await actor(crm.db, ids["helen"]))
    with in_locale(create_i18n("ru"), "en"):
        text = receivables_text(r)
        data = receivables_xlsx(r)
    assert "As of 25 Nov 2026" in text
    assert "Owed: RUB110,000.00, of it overdue RUB80,000.00" in text
    assert "• Ivan Petrov: RUB80,000.00 — not due RUB30,000.00 · 1–30 days RUB50,000.00" in text
    assert "Vera" not in text
    assert text.index("• Gamma") < text.index("• Olga debtor") < text.index("• Alpha")
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["By manager", "By client", "Invoices", "Period"]
    ws = wb["By manager"]
    assert [c.value for c in ws[1]] == ["Manager", "Owed", "Overdue", "not due", "1–30 days",
                                        "31–60 days", "61–90 days", "over 90 days"]
    assert [c.value for c in ws[3]] == ["Olga Smirnova", 30000, 30000, 0, 4000, 6000, 12000,
                                        8000]
    assert [c.value for c in ws[5]] == ["Total", 110000, 80000, 30000, 54000, 6000, 12000,
                                        8000]
    assert ws["B2"].number_format == "#,##0.00" and ws.freeze_panes == "B2"
    inv = wb["Invoices"]
    assert [c.value for c in inv[2]][:2] == ["Olga debtor", "Olga Smirnova"]
    assert inv["D2"].value.date() == date(2026, 8, 1) and inv["D2"].number_format == "DD.MM.YYYY"
    assert [row[4].value for row in inv.iter_rows(min_row=2)] == [116, 85, 31, 30, 5, 0]


async def test_receivables_through_the_menu_to_an_invoice(harness: Harness, crm: CRM) -> None:
    await build_debts(crm.db)
    calls = await harness.send(HELEN, "📊 Reports")
    calls = await harness.press(HELEN, button(calls, "Receivables"))
    text = last_text(calls)
    assert "team «North»" in text and "As of 25 Nov 2026" in text  # no period to pick
    labels = [t for t, _ in buttons(calls)]
    assert "🗓 Period" not in labels and labels[0] == "📥 XLSX" and labels[-1] == "« Reports"
    assert labels[1] == "🧾 Olga debtor: RUB8,000.00, 116 days overdue"
    assert len([t for t in labels if t.startswith("🧾")]) == 5  # the overdue ones only
    opened = await harness.press(HELEN, button(calls, "Gamma"))
    assert "50,000" in last_text(opened)
    calls = await harness.press(HELEN, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile)
    assert load_workbook(BytesIO(doc.data))["By client"]["A2"].value == "Gamma"


async def test_a_manager_cannot_open_anothers_invoice(harness: Harness, crm: CRM) -> None:
    await build_debts(crm.db)
    helen_calls = await harness.send(HELEN, "/reports")
    helen_calls = await harness.press(HELEN, button(helen_calls, "Receivables"))
    olgas = button(helen_calls, "Olga debtor")
    calls = await harness.send(IVAN, "/reports")
    calls = await harness.press(IVAN, button(calls, "Receivables"))
    assert "Olga" not in last_text(calls)
    assert alerts(await harness.press(IVAN, olgas)) == [
        "This is not available (it may have been removed or is not yours)."]
