"""Forecast against the digest's hand-built data set (tests/test_digest.py: NOW is Wed 25 Nov
2026, 12:00 in Moscow) plus deals expected in every kind of line and invoices at the window's
edges: weighted amounts by month, overdue / later / no date, invoices planned against money
received, the viewer's time zone, the text, the chart and the spreadsheet cell by cell, and
who sees whose forecast through the real dispatcher."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook
from sqlalchemy import update

from bot.i18n import create_i18n
from bot.report_charts import forecast_chart
from bot.report_views import forecast_text
from bot.xlsx import forecast_xlsx
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.reports.forecast import CashMonth, CashRow, Cell, ForecastReport, ForecastRow
from crm.reports.scope import Audience, Member, ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from storage.models import Client
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import actor, add_client, add_deal, add_invoice, add_payment, add_user
from tests.test_digest import build
from tests.test_texts import russian_in, said

HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")
D = Decimal


async def build_forecast(db: Database) -> dict[str, int]:
    ids = await build(db)
    ivan, sam = ids["ivan"], ids["sam"]
    a = await add_client(db, ivan, "Delta")
    await add_deal(db, a, ivan, "Overdue", 40_000, stage="negotiation",  # 75 %
                   expected_close=date(2026, 11, 24))
    ids["this_month"] = await add_deal(db, a, ivan, "This month", 10_000, probability=30,
                                       expected_close=date(2026, 11, 30))
    await add_deal(db, a, ivan, "Last of the horizon", 20_000, stage="contract",  # 90 %
                   expected_close=date(2027, 10, 31))
    await add_deal(db, a, ivan, "Far", 1_000_000, probability=10,
                   expected_close=date(2027, 11, 1))
    await add_deal(db, a, ivan, "Odd", "333.33", probability=33)
    await add_deal(db, a, ivan, "Won already", 5_000, status="won",
                   expected_close=date(2026, 12, 1))
    gone = await add_client(db, ivan, "Deleted")
    await add_deal(db, gone, ivan, "Of a deleted client", 500_000, probability=50,
                   expected_close=date(2026, 12, 1))
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == gone).values(is_deleted=True))
    south = await add_client(db, sam, "South deal")
    await add_deal(db, south, sam, "Southern", 80_000, stage="meeting",  # 40 %
                   expected_close=date(2026, 12, 31))
    deal = await add_deal(db, a, ivan, "Invoiced", 100_000, status="won")
    october = await add_invoice(db, deal, 50_000, date(2026, 10, 15))
    await add_payment(db, october, 20_000, date(2026, 10, 20))
    await add_payment(db, october, 10_000, date(2026, 11, 2))
    await add_invoice(db, deal, 7_000, date(2026, 5, 31))  # before the window
    await add_invoice(db, deal, 9_000, date(2027, 5, 31))  # its last month
    await add_invoice(db, deal, 11_000, date(2027, 6, 1))  # after it
    await add_invoice(db, deal, 5_000, date(2026, 12, 5), status="cancelled")
    return ids


def cell(deals: int, amount: str | int, weighted: str | int) -> Cell:
    return Cell(deals, D(amount), D(weighted))


def lines(row: ForecastRow) -> dict[str, Cell]:
    named = {"overdue": row.overdue, "later": row.later, "undated": row.undated}
    named.update({f"m{i}": c for i, c in enumerate(row.months)})
    return {k: c for k, c in named.items() if c.deals}


async def test_forecast_of_a_team(any_crm: CRM) -> None:
    ids = await build_forecast(any_crm.db)
    r = await any_crm.reports.forecast(await actor(any_crm.db, ids["helen"]))
    assert (r.audience.kind, r.as_of) == (ScopeKind.TEAM, date(2026, 11, 25))
    assert r.months[0] == date(2026, 11, 1) and r.months[-1] == date(2027, 10, 1)
    assert [m.name for m in r.managers] == ["Ivan Petrov", "Olga Smirnova", "Vera Away"]
    ivan, olga, vera = r.managers
    assert lines(ivan) == {
        "overdue": cell(1, 40_000, 30_000),  # 75 % of the stage
        "m0": cell(1, 10_000, 3_000),  # the deal's own 30 %
        "m1": cell(1, 100_000, 60_000),  # "Pumps", 60 % of the stage
        "m11": cell(1, 20_000, 18_000),
        "later": cell(1, 1_000_000, 100_000),
        "undated": cell(2, "50333.33", "25110.00"),  # 50 % of 50 000, 33 % of 333.33
    }
    assert lines(olga) == {"undated": cell(6, 6000, 600)} and lines(vera) == {}
    total = r.total.total
    assert (total.deals, total.amount, total.weighted) == (13, D("1226333.33"),
                                                           D("236710.00"))
    months = {m.month: (m.planned, m.received) for m in r.cash_total.months}
    assert min(months) == date(2026, 6, 1) and max(months) == date(2027, 5, 1)
    assert len(months) == 12
    assert {m: v for m, v in months.items() if any(v)} == {
        date(2026, 10, 1): (D(50_000), D(20_000)),
        date(2026, 11, 1): (D(250_000), D(180_000)),
        date(2027, 5, 1): (D(9_000), D(0)),
    }
    assert (r.cash_total.planned, r.cash_total.received) == (D(309_000), D(200_000))
    assert [c.planned for c in r.cash_managers] == [D(309_000), D(0), D(0)]
    # The admin sees the south too; a manager only their own.
    everyone = await any_crm.reports.forecast(await actor(any_crm.db, ids["admin"]))
    assert everyone.audience.kind is ScopeKind.ALL
    assert everyone.total.months[1] == cell(2, 180_000, 92_000)
    mine = await any_crm.reports.forecast(await actor(any_crm.db, ids["ivan"]))
    assert [m.name for m in mine.managers] == ["Ivan Petrov"]
    assert mine.total.total == ivan.total


async def test_overdue_is_by_the_viewers_today(db: Database, config: CRMConfig) -> None:
    """At 22:00 UTC on 30 Nov it is already 1 Dec in Moscow: a deal expected on 30 Nov is
    overdue there, and still due this month in New York."""
    crm = CRM(db, config, FrozenClock(datetime(2026, 11, 30, 22, tzinfo=UTC)))
    ids = await build_forecast(db)
    moscow = await crm.reports.forecast(await actor(db, ids["ivan"]))
    assert moscow.as_of == date(2026, 12, 1) and moscow.months[0] == date(2026, 12, 1)
    assert moscow.total.overdue == cell(2, 50_000, 33_000)
    assert moscow.total.months[0] == cell(1, 100_000, 60_000)
    ny = await add_user(db, 9300, "Nina York", role="admin", tz="America/New_York")
    there = await crm.reports.forecast(await actor(db, ny))
    assert there.as_of == date(2026, 11, 30) and there.months[0] == date(2026, 11, 1)
    assert there.total.overdue == cell(1, 40_000, 30_000)
    assert there.total.months[0] == cell(1, 10_000, 3_000)


async def test_forecast_text_chart_and_spreadsheet(crm: CRM) -> None:
    ids = await build_forecast(crm.db)
    r = await crm.reports.forecast(await actor(crm.db, ids["helen"]))
    i18n = create_i18n("ru")
    with in_locale(i18n, "ru"):
        ru = forecast_text(r).replace("\xa0", " ")  # Babel's no-break spaces
        png = forecast_chart(r, "Прогноз на 25 нояб. 2026")
    with in_locale(i18n, "en"):
        en = forecast_text(r)
        data = forecast_xlsx(r)
    assert ru.startswith("<b>🔮 Прогноз</b> · команда «North»\nНа 25 нояб. 2026")
    assert ("<b>Открытые сделки × вероятность</b>: 236 710,00 ₽ из 1 226 333,33 ₽\n"
            "• просрочено: 30 000,00 ₽ (1 сделка · 40 000,00 ₽)\n"
            "• ноябрь 2026: 3 000,00 ₽ (1 сделка · 10 000,00 ₽)\n") in ru
    assert "• без даты: 25 710,00 ₽ (8 сделок · 56 333,33 ₽)" in ru
    assert "• позже: 100 000,00 ₽ (1 сделка · 1 000 000,00 ₽)" in ru
    assert "• Olga Smirnova: 600,00 ₽ — без даты 600,00 ₽" in ru
    assert "Vera" not in ru
    assert ("<b>Счета по месяцам: план / получено</b>\n"
            "• октябрь 2026: 50 000,00 ₽ / 20 000,00 ₽\n"
            "• ноябрь 2026: 250 000,00 ₽ / 180 000,00 ₽\n"
            "• май 2027: 9 000,00 ₽ / 0,00 ₽") in ru
    assert "• October 2027: RUB18,000.00 (1 deal · RUB20,000.00)" in en
    assert png.startswith(b"\x89PNG")
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Forecast", "Open deals", "Invoices", "Period"]
    ws = wb["Forecast"]
    head = [c.value for c in ws[1]]
    assert head[:3] == ["Manager", "Overdue", "November 2026"]
    assert head[-4:] == ["October 2027", "Later", "No date", "Total"] and len(head) == 17
    assert [c.value for c in ws[2]] == ["Ivan Petrov", 30000, 3000, 60000, *[0] * 9, 18000,
                                        100000, 25110, 236110]
    assert ws["A5"].value == "Total" and ws["Q5"].value == 236710
    assert ws["B2"].number_format == "#,##0.00" and ws.freeze_panes == "B2"
    deals = wb["Open deals"]
    assert [c.value for c in deals[1]] == ["Manager", "Expected close", "Month", "Deals",
                                           "Amount", "Weighted"]
    assert [[c.value for c in row] for row in deals.iter_rows(min_row=2, max_row=8)] == [
        ["Ivan Petrov", "overdue", None, 1, 40000, 30000],
        ["Ivan Petrov", "November 2026", datetime(2026, 11, 1), 1, 10000, 3000],
        ["Ivan Petrov", "December 2026", datetime(2026, 12, 1), 1, 100000, 60000],
        ["Ivan Petrov", "October 2027", datetime(2027, 10, 1), 1, 20000, 18000],
        ["Ivan Petrov", "later", None, 1, 1000000, 100000],
        ["Ivan Petrov", "no date", None, 2, 50333.33, 25110],
        ["Olga Smirnova", "no date", None, 6, 6000, 600]]
    assert deals["C3"].number_format == "DD.MM.YYYY" and deals["D3"].number_format == "0"
    invoices = wb["Invoices"]
    rows = [[c.value for c in row] for row in invoices.iter_rows(min_row=2)]
    assert len(rows) == 4 * 12
    assert rows[4] == ["Ivan Petrov", datetime(2026, 10, 1), 50000, 20000]
    assert rows[36 + 5] == ["Total", datetime(2026, 11, 1), 250000, 180000]
    assert invoices["C2"].number_format == "#,##0.00"
    assert wb["Period"]["A2"].value == datetime(2026, 11, 25)


async def test_nothing_to_forecast_says_so(crm: CRM) -> None:
    ids = await build(crm.db)
    r = await crm.reports.forecast(await actor(crm.db, ids["sid"]))
    with in_locale(create_i18n("ru"), "en"):
        text = forecast_text(r)
    assert "No open deals to forecast." in text
    assert "No invoices due and no payments in these months." in text


async def test_forecast_screens_and_access(harness: Harness, crm: CRM) -> None:
    ids = await build_forecast(crm.db)
    calls = await harness.send(HELEN, "/reports")
    seen = said(calls)
    calls = await harness.press(HELEN, button(calls, "Forecast"))
    seen += said(calls)
    text = last_text(calls)
    assert "🔮 Forecast</b> · team «North»" in text and "As of 25 Nov 2026" in text
    assert "• Ivan Petrov: RUB236,110.00" in text
    assert [t for t, _ in buttons(calls)] == ["📥 XLSX", "📈 Chart", "« Reports"]
    screen = calls
    calls = await harness.press(HELEN, button(screen, "Chart"))
    (photo,) = [c for c in calls if isinstance(c, SendPhoto)]
    assert isinstance(photo.photo, BufferedInputFile)
    assert photo.photo.data.startswith(b"\x89PNG") and "Forecast" in (photo.caption or "")
    calls = await harness.press(HELEN, button(screen, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile) and doc.filename == "fc_20261125-20261125.xlsx"
    assert load_workbook(BytesIO(doc.data))["Forecast"]["A5"].value == "Total"
    assert not russian_in(seen)
    # A manager sees their own forecast only.
    calls = await harness.send(IVAN, "/reports")
    calls = await harness.press(IVAN, button(calls, "Forecast"))
    assert "your figures" in last_text(calls) and "Olga" not in last_text(calls)
    # A marketer has none: forged buttons are refused.
    day = date(2026, 11, 25).toordinal()
    for forged in ("rp:pick:fc:::::", f"rp:show:fc:d:{day}:{day}::",
                   f"rp:xlsx:fc:d:{day}:{day}::", f"rp:chart:fc:d:{day}:{day}::"):
        assert alerts(await harness.press(MARK, forged)) == [
            "Your role does not allow this."], forged
    # A head cannot see another team's forecast with a forged team.
    sam = await actor(crm.db, ids["sam"])
    calls = await harness.press(HELEN, f"rp:show:fc:d:{day}:{day}:{sam.team_id}:")
    assert "team «North»" in last_text(calls) and "Southern" not in last_text(calls)


def test_many_managers_fit_one_message() -> None:
    """Sixty managers: the totals and the invoices stay, the managers fill what is left of
    the message and the rest is pointed to the spreadsheet."""
    months = tuple(date(2026 + (10 + i) // 12, (10 + i) % 12 + 1, 1) for i in range(12))
    cells = (cell(3, 3_000_000, 1_234_567), *[cell(0, 0, 0)] * 11)
    rows = tuple(ForecastRow(i, f"Manager number {i}", cell(1, 10_000, 7_500), cells,
                             cell(0, 0, 0), cell(2, 2000, 200)) for i in range(1, 61))
    total = rows[0]
    for row in rows[1:]:
        total += row
    cash = CashRow(0, "", tuple(CashMonth(m, D(1000), D(500)) for m in months))
    who = Audience(ScopeKind.ALL, None, tuple(Member(r.id, r.name) for r in rows))
    r = ForecastReport(who, date(2026, 11, 25), "RUB", months, rows,
                       ForecastRow(0, "", total.overdue, total.months, total.later,
                                   total.undated), (), cash)
    with in_locale(create_i18n("ru"), "ru"):
        text = forecast_text(r)
    assert len(text) <= 4096
    assert "<b>Счета по месяцам: план / получено</b>" in text
    assert "• Manager number 1: " in text and "Manager number 60" not in text
    assert text.rstrip().endswith("см. 📥 XLSX.")
