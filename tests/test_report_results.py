"""Results per manager against the digest's hand-built data set (tests/test_digest.py:
NOW is Wed 25 Nov 2026, 12:00 in Moscow), the spreadsheet cell by cell, the reports menu
through the real dispatcher, and who sees whose figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook

from bot.i18n import create_i18n
from bot.keyboards.reports import PeriodCD, ReportAction, ReportCD, ReportKind
from bot.report_views import results_text
from bot.xlsx import results_xlsx
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.reports.period import Period, PeriodKind
from crm.reports.results import ResultsReport
from crm.reports.scope import ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from storage.models import Client as ClientRow
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, texts
from tests.notify_data import actor, add_activity, add_client, add_planned, add_user
from tests.test_digest import build
from tests.test_texts import russian_in, said

WEEK = Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24))
HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")


def lines_by_name(r: ResultsReport) -> dict[str, object]:
    return {line.current.name.split()[0]: line for line in r.lines}


async def test_results_of_a_team(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    r = await any_crm.reports.results(await actor(any_crm.db, ids["helen"]), WEEK)
    assert (r.audience.kind, r.audience.team_name) == (ScopeKind.TEAM, "North")
    assert r.previous == Period(PeriodKind.CUSTOM, date(2026, 11, 11), date(2026, 11, 17))
    assert [line.current.name for line in r.lines] == ["Ivan Petrov", "Olga Smirnova",
                                                         "Vera Away"]
    ivan, olga, vera = r.lines
    cur = ivan.current
    assert {c.label.code: c.count for c in cur.contacts} == {"call": 3, "meeting": 1}
    assert cur.contacts_total == 4 and ivan.clients_in_work == 2
    assert (cur.new_deals, cur.won_count, cur.revenue, cur.lost_count) == (
        2, 1, Decimal("200000.00"), 3)
    assert cur.conversion == Decimal("25.0") and cur.avg_check == Decimal("200000.00")
    assert cur.avg_days == Decimal("20.0")
    assert cur.payments == Decimal("170000.00") and cur.commission == Decimal("0.00")
    before = ivan.previous  # 11–17 Nov: one call late on the 17th, Moscow time
    assert (before.contacts_total, before.new_deals, before.won_count, before.lost_count,
            before.payments, before.conversion) == (1, 0, 0, 0, Decimal(0), None)
    assert (olga.current.contacts_total, olga.current.new_deals, olga.clients_in_work) == (
        2, 0, 6)
    assert vera.current.contacts_total == 0 and vera.current.avg_days is None
    assert r.total is not None
    total = r.total.current
    assert (total.contacts_total, total.new_deals, total.won_count, total.lost_count,
            total.revenue, total.payments) == (6, 2, 1, 3, Decimal("200000.00"),
                                               Decimal("170000.00"))
    assert r.total.clients_in_work == 8


async def test_overdue_contacts_per_manager(any_crm: CRM) -> None:
    """Overdue contacts, as of now (Wed 25 Nov 2026, 12:00 Moscow): planned ones still open
    whose time has passed. From the digest's data: Ivan has one (a done one and one ahead do
    not count). Added here: Olga two overdue, one due exactly now (not yet overdue), one
    cancelled and one on a deleted client; Sam (South) one — not in Helen's table."""
    ids = await build(any_crm.db)
    olga, sam = ids["olga"], ids["sam"]
    c1 = await add_client(any_crm.db, olga, "Overdue 1")
    c2 = await add_client(any_crm.db, olga, "Overdue 2")
    gone = await add_client(any_crm.db, olga, "Deleted")
    await add_planned(any_crm.db, c1, olga, datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    await add_planned(any_crm.db, c2, olga, datetime(2026, 11, 25, 8, 59, tzinfo=UTC))
    await add_planned(any_crm.db, c2, olga, datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # = now
    await add_planned(any_crm.db, c1, olga, datetime(2026, 11, 3, tzinfo=UTC),
                      status="cancelled")
    await add_planned(any_crm.db, gone, olga, datetime(2026, 11, 3, tzinfo=UTC))
    async with any_crm.db.transaction() as s:
        deleted = await s.get(ClientRow, gone)
        assert deleted is not None
        deleted.is_deleted = True
    await add_planned(any_crm.db, await add_client(any_crm.db, sam, "South 2"), sam,
                      datetime(2026, 11, 20, tzinfo=UTC))
    helen = await actor(any_crm.db, ids["helen"])
    r = await any_crm.reports.results(helen, WEEK)
    assert [(x.current.name, x.overdue_contacts) for x in r.lines] == [
        ("Ivan Petrov", 1), ("Olga Smirnova", 2), ("Vera Away", 0)]
    assert r.total is not None and r.total.overdue_contacts == 3
    # As of now, whatever the period: last month's report shows the same.
    october = Period(PeriodKind.LAST_MONTH, date(2026, 10, 1), date(2026, 10, 31))
    again = await any_crm.reports.results(helen, october)
    assert [x.overdue_contacts for x in again.lines] == [1, 2, 0]
    # The digest counts the same contacts (one query, one figure).
    digest = await any_crm.digest.for_actor(helen)
    assert [f.overdue_planned for f in digest.managers] == [1, 2, 0]
    everyone = await any_crm.reports.results(await actor(any_crm.db, ids["admin"]), WEEK)
    assert {x.current.name: x.overdue_contacts for x in everyone.lines}["Sam South"] == 1
    # The chat's text and spreadsheet show the figure.
    with in_locale(create_i18n("ru"), "en"):
        text = results_text(r)
        data = results_xlsx(r)
    blocks = {b.split("\n")[0]: b for b in text.split("\n\n")}
    assert "\nOverdue contacts: 1\n" in blocks["<b>Ivan Petrov</b>"]
    assert "\nOverdue contacts: 2\n" in blocks["<b>Olga Smirnova</b>"]
    assert "\nOverdue contacts: 3\n" in blocks["<b>Total</b>"]
    ws = load_workbook(BytesIO(data))["Results"]
    assert ws["D1"].value == "Overdue contacts"
    assert [ws[f"D{i}"].value for i in range(2, 6)] == [1, 2, 0, 3]


async def test_month_against_last_month_and_commission(db: Database,
                                                      clock: FrozenClock) -> None:
    crm = CRM(db, CRMConfig(commission_rate=Decimal("2.5")), clock)
    ids = await build(db)
    month = Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 25))
    r = await crm.reports.results(await actor(db, ids["ivan"]), month)
    assert r.audience.kind is ScopeKind.OWN and r.total is None
    assert [line.current.name for line in r.lines] == ["Ivan Petrov"]
    (ivan,) = r.lines
    assert r.previous == Period(PeriodKind.MONTH, date(2026, 10, 1), date(2026, 10, 25))
    # October: "Old win" (70 000, 30 days) — November: "Big order" and four losses.
    assert (ivan.previous.won_count, ivan.previous.revenue, ivan.previous.avg_days) == (
        1, Decimal("70000.00"), Decimal("30.0"))
    assert (ivan.current.won_count, ivan.current.lost_count) == (1, 4)
    assert ivan.current.conversion == Decimal("20.0")
    assert ivan.current.commission == Decimal("4250.00")  # 2.5 % of 170 000
    with in_locale(create_i18n("ru"), "en"):
        text = results_text(r)
    assert "Won: 1 · RUB200,000.00 (▲ RUB130,000.00)" in text
    assert "Conversion: 20% (▼ 80 pp)" in text
    assert "Commission (2.5%): RUB4,250.00" in text


async def test_period_edges_follow_the_viewers_time_zone(crm: CRM) -> None:
    """The same rows, seen from Vladivostok (UTC+10): a call at 23:00 on 17 Nov in Moscow is
    already the 18th there, and one at 23:30 on the 24th is the 25th."""
    ids = await build(crm.db)
    far = await add_user(crm.db, 9100, "Far Admin", role="admin", tz="Asia/Vladivostok")
    r = await crm.reports.results(await actor(crm.db, far), WEEK)
    assert r.audience.kind is ScopeKind.ALL
    ivan = lines_by_name(r)["Ivan"]
    assert ivan.current.contacts_total == 4  # type: ignore[attr-defined]
    assert ivan.previous.contacts_total == 0  # type: ignore[attr-defined]
    moscow = await crm.reports.results(await actor(crm.db, ids["admin"]), WEEK)
    assert lines_by_name(moscow)["Ivan"].previous.contacts_total == 1  # type: ignore[attr-defined]


async def test_a_day_of_25_hours_counts_its_last_hour(crm: CRM) -> None:
    """Berlin leaves summer time on 25 Oct 2026: 23:30 that evening is 22:30 UTC, which a
    day taken as 24 hours from midnight (22:00 UTC) would lose."""
    berlin = await add_user(crm.db, 9200, "Bea Berlin", tz="Europe/Berlin")
    client = await add_client(crm.db, berlin, "Kunde")
    await add_activity(crm.db, client, berlin, "call", datetime(2026, 10, 25, 22, 30,
                                                                   tzinfo=UTC))
    await add_activity(crm.db, client, berlin, "call", datetime(2026, 10, 24, 21, 59,
                                                                   tzinfo=UTC))
    day = Period(PeriodKind.CUSTOM, date(2026, 10, 25), date(2026, 10, 25))
    r = await crm.reports.results(await actor(crm.db, berlin), day)
    assert r.lines[0].current.contacts_total == 1
    assert r.lines[0].previous.contacts_total == 1  # 24 Oct, 23:59 in Berlin


async def test_results_spreadsheet_cell_by_cell(crm: CRM) -> None:
    ids = await build(crm.db)
    r = await crm.reports.results(await actor(crm.db, ids["helen"]), WEEK)
    with in_locale(create_i18n("ru"), "en"):
        data = results_xlsx(r)
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Results", "Previous period", "Contacts by type", "Period"]
    ws = wb["Results"]
    assert [c.value for c in ws[1]] == [
        "Manager", "Contacts", "Clients in work", "Overdue contacts", "New deals", "Won",
        "Revenue", "Lost", "Conversion", "Average check", "Average duration, days",
        "Payments received", "Commission"]
    assert ws.freeze_panes == "B2" and ws["A1"].font.b
    assert [c.value for c in ws[2]] == ["Ivan Petrov", 4, 2, 1, 2, 1, 200000, 3, 0.25,
                                         200000, 20, 170000, 0]
    assert ws["G2"].number_format == "#,##0.00" and ws["I2"].number_format == "0.0%"
    assert ws["K2"].number_format == "0.0" and ws["B2"].number_format == "0"
    assert [c.value for c in ws[4]][:2] == ["Vera Away", 0] and ws["I4"].value is None
    assert [c.value for c in ws[5]][:8] == ["Total", 6, 8, 1, 2, 1, 200000, 3]
    assert ws.max_row == 5 and ws.column_dimensions["A"].width >= len("Olga Smirnova")
    prev = wb["Previous period"]
    assert [c.value for c in prev[2]][:4] == ["Ivan Petrov", 1, None, None]
    contacts = wb["Contacts by type"]
    assert [[c.value for c in row] for row in contacts.iter_rows(min_row=2)] == [
        ["Ivan Petrov", "Call", 3], ["Ivan Petrov", "Meeting", 1],
        ["Olga Smirnova", "E-mail", 2]]
    period = wb["Period"]
    assert period["B2"].value.date() == date(2026, 11, 18)
    assert period["C3"].value.date() == date(2026, 11, 17)
    assert period["B2"].number_format == "DD.MM.YYYY"


async def test_reports_menu_period_picker_and_xlsx(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    calls = await harness.send(HELEN, "📊 Reports")
    assert "Pick a report" in last_text(calls)
    assert [t for t, _ in buttons(calls)] == ["🏆 Results per manager", "📉 Loss analytics",
                                              "🧾 Receivables", "📡 Coverage of the base",
                                              "🔻 Funnel and stages", "📈 Dynamics",
                                              "🔮 Forecast", "⏱ How managers spend their time",
                                              "📰 Digest", "📣 Marketing", "🗂 Client lists",
                                              "📥 Import clients", "📤 Export clients"]
    seen = said(calls)
    calls = await harness.press(HELEN, button(calls, "Results per manager"))
    seen += said(calls)
    assert "type dates" in last_text(calls)
    assert [t for t, _ in buttons(calls)] == ["Today", "This week", "This month",
                                              "Last month", "This quarter", "This year",
                                              "« Reports"]
    picker = calls
    calls = await harness.press(HELEN, button(picker, "This week"))
    seen += said(calls)
    text = last_text(calls)
    assert "team «North»" in text and "23 Nov 2026 – 25 Nov 2026" in text
    assert "compared with 20 Nov 2026 – 22 Nov 2026" in text
    # The picker's buttons are spent once answered: another tap does nothing, quietly.
    again = await harness.press(HELEN, button(picker, "This month"))
    assert not alerts(again) and not texts(again)
    calls = await harness.press(HELEN, button(calls, "XLSX"))
    docs = [c for c in calls if isinstance(c, SendDocument)]
    assert len(docs) == 1
    doc = docs[0].document
    assert isinstance(doc, BufferedInputFile) and doc.filename == "res_20261123-20261125.xlsx"
    assert load_workbook(BytesIO(doc.data))["Results"]["A2"].value == "Ivan Petrov"
    # Typed dates, a bad one first.
    calls = await harness.press(HELEN, ReportCD(action=ReportAction.PICK,
                                                kind=ReportKind.RESULTS).pack())
    calls = await harness.send(HELEN, "32.11-1.12")
    seen += said(calls)
    assert "no such date" in last_text(calls)
    calls = await harness.send(HELEN, "18.11–24.11")
    seen += said(calls)
    text = last_text(calls)
    assert "18 Nov 2026 – 24 Nov 2026, compared with 11 Nov 2026 – 17 Nov 2026" in text
    assert "<b>Total</b>\nContacts: 6 (▲ 5)" in text
    assert "Won: 1 (▲ 1) · RUB200,000.00 (▲ RUB200,000.00)" in text
    assert "Average deal duration: 20 days" in text
    calls = await harness.press(HELEN, button(calls, "« Reports"))
    assert "Pick a report" in last_text(calls)
    calls = await harness.press(HELEN, button(calls, "Digest"))
    assert "Team digest: North" in last_text(calls)
    assert not russian_in(seen)


async def test_digest_command_still_works(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    assert "Team digest: North" in last_text(await harness.send(HELEN, "/digest"))


async def test_a_manager_sees_only_their_own_figures(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    calls = await harness.send(IVAN, "/reports")
    calls = await harness.press(IVAN, button(calls, "Results"))
    calls = await harness.send(IVAN, "18.11-24.11")
    text = last_text(calls)
    assert "your figures" in text and "Ivan Petrov" in text
    assert "Olga" not in text and "Total" not in text
    calls = await harness.press(IVAN, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile)
    ws = load_workbook(BytesIO(doc.data))["Results"]
    assert [row[0].value for row in ws.iter_rows(min_row=2)] == ["Ivan Petrov"]


async def test_forged_report_buttons_are_refused(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    stale = "This button is out of date. Open the screen again."
    day = date(2026, 11, 20).toordinal()
    for forged in (
        f"rp:xlsx:res:c:{day}:{day - 1}::",  # ends before it starts
        f"rp:show:res:c:{day - 800}:{day}::",  # longer than two years
        f"rp:xlsx:res:c:{day}:::",  # no end
        "rp:pick::::::",  # no report
        f"rp:show:forecast:c:{day}:{day}::",  # no such report
        f"rp:show:res:century:{day}:{day}::",
        f"rp:show:res:c:{day}:{day}:0:",  # no such team id
        f"rp:show:res:c:{day}:{day}",  # an older layout
        f"rp:show:res:c:{day}:{day}:",  # the layout before the marketing grouping
        "rpp:res:m:0:",  # a step token out of range
    ):
        assert alerts(await harness.press(IVAN, forged)) == [stale], forged
    calls = await harness.press(IVAN, f"rp:show:res:c:{day}:{day}::")
    assert "Ivan Petrov" in last_text(calls)  # the same layout, well formed, is taken
    # A marketer has no results report to open (yet): refused by role.
    calls = await harness.press(MARK, ReportCD(action=ReportAction.PICK,
                                               kind=ReportKind.RESULTS).pack())
    assert alerts(calls) == ["Your role does not allow this."]
    calls = await harness.press(MARK, PeriodCD(kind=ReportKind.RESULTS,
                                               period=PeriodKind.MONTH, step=5).pack())
    assert alerts(calls) == ["Your role does not allow this."]


async def test_an_admin_picks_one_team(harness: Harness, crm: CRM) -> None:
    ids = await build(crm.db)
    ann = TgUser(9007, "Ann", "Admin", language_code="en")
    calls = await harness.send(ann, "📊 Reports")
    assert "Figures of: all teams" in last_text(calls)
    # (the last row: import and export of clients)
    assert [t for t, _ in buttons(calls)][-5:-2] == ["✓ All teams", "North", "South"]
    calls = await harness.press(ann, button(calls, "South"))
    assert "Figures of: team «South»" in last_text(calls)
    assert "✓ South" in [t for t, _ in buttons(calls)]
    calls = await harness.press(ann, button(calls, "Results"))
    calls = await harness.press(ann, button(calls, "This month"))
    text = last_text(calls)
    assert "team «South»" in text and "Sam South" in text and "Ivan" not in text
    # The team travels with XLSX, another period and back to the list.
    calls = await harness.press(ann, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile)
    ws = load_workbook(BytesIO(doc.data))["Results"]
    assert [row[0].value for row in ws.iter_rows(min_row=2)] == ["Sam South", "Total"]
    # A team that does not exist is refused.
    calls = await harness.press(ann, ReportCD(action=ReportAction.MENU, team=999).pack())
    assert alerts(calls) == [
        "This is not available (it may have been removed or is not yours)."]
    # A head cannot borrow an admin's choice: a forged team gives the head's own team.
    sam = await actor(crm.db, ids["sam"])
    calls = await harness.press(HELEN, ReportCD(action=ReportAction.PICK,
                                                kind=ReportKind.RESULTS,
                                                team=sam.team_id).pack())
    calls = await harness.press(HELEN, button(calls, "This month"))
    assert "team «North»" in last_text(calls) and "Sam" not in last_text(calls)
