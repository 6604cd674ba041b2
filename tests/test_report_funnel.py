"""Funnel and stages against a hand-built data set (tests/report_funnel_data.py), the
viewer's time zone at the period's edge, the spreadsheet cell by cell, the chart, and the
drill-down to a stalled deal and back to the report through the real dispatcher."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook

from bot.charts import compact_money
from bot.handlers.reports import funnel_picture
from bot.i18n import create_i18n
from bot.keyboards.deals import DealAction, DealCD, InvoiceAction, InvoiceCD
from bot.keyboards.reports import ReportAction, ReportCD, ReportKind
from bot.report_views import funnel_bars, funnel_text
from bot.xlsx import funnel_xlsx
from crm.reports.funnel import FunnelReport
from crm.reports.period import Period, PeriodKind
from crm.reports.scope import ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import actor, add_invoice
from tests.report_funnel_data import build_funnel

HELEN = TgUser(9001, "Helen", "Head", language_code="en")
OLGA = TgUser(9003, "Olga", "Smirnova", language_code="en")
ANN = TgUser(9007, "Ann", "Admin", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")

NOVEMBER = Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 25))
D = Decimal


def by_code(r: FunnelReport) -> dict[str, object]:
    return {x.stage.code: x for x in r.stages}


async def test_funnel_of_a_team(any_crm: CRM) -> None:
    ids = await build_funnel(any_crm.db)
    r = await any_crm.reports.funnel(await actor(any_crm.db, ids["helen"]), NOVEMBER)
    assert (r.audience.kind, r.audience.team_name, r.as_of) == (ScopeKind.TEAM, "North",
                                                                 date(2026, 11, 25))
    assert r.previous == Period(PeriodKind.MONTH, date(2026, 10, 1), date(2026, 10, 25))
    codes = [x.stage.code for x in r.stages]
    assert codes == ["new", "qualified", "meeting", "proposal", "negotiation", "contract"]
    assert [(x.open_count, x.open_amount) for x in r.stages] == [
        (3, D(56000)), (0, D(0)), (0, D(0)), (1, D(100000)), (1, D(30000)), (0, D(0))]
    assert (r.open_count, r.open_amount) == (5, D(186000))
    assert (r.opened, r.won, r.previous_opened, r.previous_won) == (5, 1, 2, 0)
    assert [x.reached for x in r.stages] == [5, 2, 2, 2, 1, 1]
    assert [x.previous_reached for x in r.stages] == [2, 1, 1, 1, 1, 0]
    assert [x.conversion for x in r.stages] == [None, D("40.0"), D("100.0"), D("100.0"),
                                                D("50.0"), D("100.0")]
    assert r.won_conversion == D("100.0")
    assert [(x.avg_days, x.stays, x.previous_avg_days) for x in r.stages[:3]] == [
        (D("2.3"), 3, D("6.0")), (D("13.5"), 2, None), (D("17.0"), 1, None)]
    assert [x.stalled for x in r.stages] == [2, 0, 0, 1, 1, 0]
    assert r.stalled_count == 4
    assert [(x.title, x.days_in_stage, x.over_by, x.manager) for x in r.stalled] == [
        ("Edge", 24, 21, "Ivan Petrov"), ("October", 23, 13, "Ivan Petrov"),
        ("Pumps", 15, 8, "Ivan Petrov"), ("Valves", 5, 2, "Ivan Petrov")]


async def test_funnel_edges_follow_the_viewers_time_zone(any_crm: CRM) -> None:
    """31 Oct 23:30 in Moscow is 1 Nov in Vladivostok: the "Edge" deal is opened in November
    there; Sam's deal counts for an admin of everyone."""
    ids = await build_funnel(any_crm.db)
    far = await any_crm.reports.funnel(await actor(any_crm.db, ids["far"]), NOVEMBER)
    assert far.audience.kind is ScopeKind.ALL
    assert (far.opened, far.stages[0].reached) == (7, 7)
    moscow = await any_crm.reports.funnel(await actor(any_crm.db, ids["admin"]), NOVEMBER)
    assert (moscow.opened, moscow.stages[0].reached) == (6, 6)


async def test_a_manager_sees_only_their_own(crm: CRM) -> None:
    ids = await build_funnel(crm.db)
    r = await crm.reports.funnel(await actor(crm.db, ids["olga"]), NOVEMBER)
    assert r.audience.kind is ScopeKind.OWN
    assert (r.opened, r.open_count, r.open_amount, r.stalled_count) == (1, 1, D(1000), 0)
    assert r.previous_opened == 1


async def test_funnel_text_in_russian_and_english(crm: CRM) -> None:
    ids = await build_funnel(crm.db)
    r = await crm.reports.funnel(await actor(crm.db, ids["helen"]), NOVEMBER)
    with in_locale(create_i18n("ru"), "en"):
        en = funnel_text(r)
    assert "Open now (25 Nov 2026): 5 · RUB186,000.00" in en
    assert "• New lead: 3 · RUB56,000.00" in en and "Qualified: 0" not in en
    assert "Deals opened in the period: 5</b> (▲ 3)" in en
    assert "• New lead: 5 (▲ 3)\n• Qualified: 2 (▲ 1) · 40%\n" in en
    assert "• Negotiation: 1 · 50%\n• Contract &amp; invoice: 1 (▲ 1) · 100%\n" in en
    assert "• Won: 1 (▲ 1) · 100%" in en
    assert "• New lead: 2.3 d. (▼ 3.7 d.)" in en
    assert "• Meeting / demo: 17 d.\n" in en
    assert "<b>Stalled: 4</b>" in en
    assert ("• Alpha «Edge» RUB5,000.00 — New lead, 24 days (limit 3) · Ivan Petrov"
            in en)
    assert en.index("«Edge»") < en.index("«October»") < en.index("«Pumps»") < en.index(
        "«Valves»")
    with in_locale(create_i18n("ru"), "ru"):
        ru = funnel_text(r)
    assert "Воронка и этапы" in ru and "команда «North»" in ru
    assert "• Квалификация: 2 (▲ 1) · 40\u202f%" in ru
    assert "• Новый лид: 2,3 дн. (▼ 3,7 дн.)" in ru
    assert "24 дня (норма 3) · Ivan Petrov" in ru
    # A manager's own report names no manager on each stalled line.
    own = await crm.reports.funnel(await actor(crm.db, ids["ivan"]), NOVEMBER)
    with in_locale(create_i18n("ru"), "en"):
        mine = funnel_text(own)
    assert "your figures" in mine and "(limit 3)\n" in mine and "· Ivan" not in mine


async def test_funnel_spreadsheet_and_chart(crm: CRM) -> None:
    ids = await build_funnel(crm.db)
    r = await crm.reports.funnel(await actor(crm.db, ids["helen"]), NOVEMBER)
    with in_locale(create_i18n("ru"), "en"):
        data = funnel_xlsx(r)
        bars = funnel_bars(r)
        png = funnel_picture(r, NOVEMBER)
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Stages", "Stalled deals", "Period"]
    ws = wb["Stages"]
    assert [c.value for c in ws[1]] == [
        "Stage", "Open deals", "Amount", "Reached", "Previous period", "Conversion",
        "Average days in stage", "Stays", "Previous period, days", "Stalled"]
    assert [c.value for c in ws[2]] == ["New lead", 3, 56000, 5, 2, None, 2.3, 3, 6, 2]
    assert [c.value for c in ws[3]] == ["Qualified", 0, 0, 2, 1, 0.4, 13.5, 2, None, 0]
    assert [c.value for c in ws[8]] == ["Won", None, None, 1, 0, 1, None, None, None, None]
    assert [c.value for c in ws[9]] == ["Total", 5, 186000, 5, 2, None, None, None, None, 4]
    assert ws["C2"].number_format == "#,##0.00" and ws["F3"].number_format == "0.0%"
    assert ws["G2"].number_format == "0.0" and ws.freeze_panes == "B2"
    st = wb["Stalled deals"]
    assert [c.value for c in st[1]] == ["Client", "Deal", "Manager", "Stage", "Amount",
                                        "Days in stage", "Limit, days", "Days over"]
    assert [c.value for c in st[2]] == ["Alpha", "Edge", "Ivan Petrov", "New lead", 5000, 24,
                                        3, 21]
    assert [row[1].value for row in st.iter_rows(min_row=2)] == ["Edge", "October", "Pumps",
                                                                 "Valves"]
    period = wb["Period"]
    assert period["B2"].value.date() == date(2026, 11, 1)
    assert period["C3"].value.date() == date(2026, 10, 25)
    assert bars[0] == ("New lead", 5.0, "5") and bars[1] == ("Qualified", 2.0, "2 (40%)")
    assert bars[-1] == ("Won", 1.0, "1 (100%)")
    assert png.startswith(b"\x89PNG")


def test_chart_money_reads_like_a_person_writes_it() -> None:
    assert compact_money(Decimal(1_500_000), "RUB", "ru") == "1,5\u00a0млн\u00a0₽"


async def test_stalled_deal_drill_down_and_back(harness: Harness, crm: CRM) -> None:
    """Helen opens the funnel for November, a stalled deal from it, moves it on, and comes
    back to the same report, period and all."""
    ids = await build_funnel(crm.db)
    calls = await harness.send(HELEN, "📊 Reports")
    calls = await harness.press(HELEN, button(calls, "Funnel and stages"))
    calls = await harness.press(HELEN, button(calls, "This month"))
    report = last_text(calls)
    assert "Funnel and stages" in report and "1 Nov 2026 – 25 Nov 2026" in report
    labels = [t for t, _ in buttons(calls)]
    assert labels[:3] == ["📥 XLSX", "📈 Chart", "🗓 Period"] and labels[-1] == "« Reports"
    assert labels[3:7] == ["⏳ Alpha «Edge»: 24 days", "⏳ Beta «October»: 23 days",
                           "⏳ Alpha «Pumps»: 15 days", "⏳ Beta «Valves»: 5 days"]
    shown = calls
    opened = await harness.press(HELEN, button(shown, "Pumps"))
    assert "Pumps" in last_text(opened) and "Proposal sent" in last_text(opened)
    back = button(opened, "Back to the report")
    assert ReportCD.unpack(back) == ReportCD(
        action=ReportAction.SHOW, kind=ReportKind.FUNNEL, period=PeriodKind.MONTH,
        start=date(2026, 11, 1).toordinal(), end=date(2026, 11, 25).toordinal())
    # Moving the deal on keeps the way back on the deal's screen.
    stages = await harness.press(HELEN, button(opened, "Move stage"))
    moved = await harness.press(HELEN, button(stages, "Negotiation"))
    assert "Back to the report" in [t for t, _ in buttons(moved)][-1]
    calls = await harness.press(HELEN, button(moved, "Back to the report"))
    again = last_text(calls)
    assert "Funnel and stages" in again and "1 Nov 2026 – 25 Nov 2026" in again
    assert "<b>Stalled: 3</b>" in again  # Pumps has just changed its stage
    # The same deal opened from its card has no way back to a report.
    card = await harness.press(HELEN, DealCD(id=ids["d1"], action=DealAction.OPEN).pack())
    assert "Back to the report" not in [t for t, _ in buttons(card)]
    # The chart and the spreadsheet.
    calls = await harness.press(HELEN, button(shown, "Chart"))
    (photo,) = [c for c in calls if isinstance(c, SendPhoto)]
    assert "Funnel and stages" in (photo.caption or "")
    calls = await harness.press(HELEN, button(shown, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile) and doc.filename == "fun_20261101-20261125.xlsx"
    assert load_workbook(BytesIO(doc.data))["Stalled deals"]["B2"].value == "Edge"


async def test_an_admins_team_comes_back_with_the_report(harness: Harness, crm: CRM) -> None:
    await build_funnel(crm.db)
    calls = await harness.send(ANN, "📊 Reports")
    calls = await harness.press(ANN, button(calls, "South"))
    calls = await harness.press(ANN, button(calls, "Funnel"))
    calls = await harness.press(ANN, button(calls, "Last month"))
    assert "team «South»" in last_text(calls)
    opened = await harness.press(ANN, button(calls, "Zeta"))
    calls = await harness.press(ANN, button(opened, "Back to the report"))
    text = last_text(calls)
    assert "team «South»" in text and "1 Oct 2026 – 31 Oct 2026" in text


async def test_funnel_access_per_role(harness: Harness, crm: CRM) -> None:
    ids = await build_funnel(crm.db)
    calls = await harness.send(HELEN, "/reports")
    calls = await harness.press(HELEN, button(calls, "Funnel"))
    calls = await harness.press(HELEN, button(calls, "This month"))
    pumps = button(calls, "Pumps")
    # Olga, a manager, sees only her own deals; Ivan's deal from Helen's report is refused.
    calls = await harness.send(OLGA, "/reports")
    calls = await harness.press(OLGA, button(calls, "Funnel"))
    calls = await harness.press(OLGA, button(calls, "This month"))
    text = last_text(calls)
    assert "your figures" in text and "Pumps" not in text and "Stalled" not in text
    assert alerts(await harness.press(OLGA, pumps)) == [
        "This is not available (it may have been removed or is not yours)."]
    # A manager cannot borrow a team with a forged button: still her own figures.
    day = date(2026, 11, 1).toordinal()
    south = (await actor(crm.db, ids["sam"])).team_id
    calls = await harness.press(OLGA, f"rp:show:fun:m:{day}:{day + 24}:{south}:")
    assert "your figures" in last_text(calls) and "South" not in last_text(calls)
    # A marketer has no funnel report.
    calls = await harness.press(MARK, f"rp:show:fun:m:{day}:{day + 24}::")
    assert alerts(calls) == ["Your role does not allow this."]
    calls = await harness.press(MARK, f"rp:xlsx:time:m:{day}:{day + 24}::")
    assert alerts(calls) == ["Your role does not allow this."]


async def test_receivables_invoice_gets_back_to_the_report(harness: Harness,
                                                          crm: CRM) -> None:
    ids = await build_funnel(crm.db)
    await add_invoice(crm.db, ids["d1"], 40_000, date(2026, 11, 1), number="F-7")
    calls = await harness.send(HELEN, "/reports")
    calls = await harness.press(HELEN, button(calls, "Receivables"))
    opened = await harness.press(HELEN, button(calls, "Alpha"))
    assert "F-7" in last_text(opened)
    calls = await harness.press(HELEN, button(opened, "Back to the report"))
    assert "Receivables" in last_text(calls) and "As of 25 Nov 2026" in last_text(calls)
    # The invoice opened from its deal has no way back to a report.
    plain = await harness.press(HELEN, InvoiceCD(id=1, action=InvoiceAction.OPEN).pack())
    assert "Back to the report" not in [t for t, _ in buttons(plain)]
