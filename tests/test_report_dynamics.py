"""Dynamics of the results by month and by week against the digest's hand-built data set
(tests/test_digest.py: NOW is Wed 25 Nov 2026, 12:00 in Moscow), calendar edges across time
zones and a DST change, the text, the chart and the spreadsheet cell by cell, and the screens
through the real dispatcher with who sees whose figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook

from bot.i18n import create_i18n
from bot.report_charts import dynamics_chart
from bot.report_views import dynamics_text, has_dynamics
from bot.xlsx import dynamics_xlsx
from crm.errors import NotAvailable
from crm.reports.dynamics import DynamicsReport, Point, Series, periods_of, span
from crm.reports.period import Period, PeriodKind
from crm.reports.scope import Audience, Member, ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import actor, add_activity, add_client, add_user, update_user
from tests.test_digest import build, msk
from tests.test_texts import russian_in, said

TODAY = date(2026, 11, 25)
HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")
ANN = TgUser(9007, "Ann", "Admin", language_code="en")


def figures(s: Series) -> list[tuple[object, ...]]:
    return [(p.contacts, p.new_deals, p.won_count, p.revenue, p.payments) for p in s.points]


def by_name(r: DynamicsReport) -> dict[str, Series]:
    return {s.name.split()[0]: s for s in r.managers}


Z = (0, 0, 0, Decimal(0), Decimal(0))


def test_spans_are_calendar_weeks_and_months() -> None:
    months = span(PeriodKind.MONTH, 12, TODAY)
    assert months == Period(PeriodKind.MONTH, date(2025, 12, 1), TODAY)
    assert periods_of(months)[0] == (date(2025, 12, 1), date(2025, 12, 31))
    assert periods_of(months)[-1] == (date(2026, 11, 1), TODAY)
    weeks = span(PeriodKind.WEEK, 6, TODAY)
    assert weeks == Period(PeriodKind.WEEK, date(2026, 10, 19), TODAY)
    assert periods_of(weeks)[:2] == [(date(2026, 10, 19), date(2026, 10, 25)),
                                     (date(2026, 10, 26), date(2026, 11, 1))]
    assert len(periods_of(weeks)) == 6
    # A year's turn and a short February.
    assert [a for a, _ in periods_of(span(PeriodKind.MONTH, 3, date(2027, 3, 31)))] == [
        date(2027, 1, 1), date(2027, 2, 1), date(2027, 3, 1)]
    assert periods_of(span(PeriodKind.MONTH, 2, date(2027, 3, 2)))[0] == (
        date(2027, 2, 1), date(2027, 2, 28))
    for forged in (Period(PeriodKind.CUSTOM, date(2026, 11, 1), TODAY),  # not a granularity
                   Period(PeriodKind.MONTH, date(2026, 11, 2), TODAY),  # not a 1st
                   Period(PeriodKind.WEEK, date(2026, 11, 24), TODAY),  # not a Monday
                   Period(PeriodKind.MONTH, date(2025, 1, 1), TODAY)):  # 23 months
        with pytest.raises(NotAvailable):
            periods_of(forged)


async def test_dynamics_by_month_of_a_team(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    helen = await actor(any_crm.db, ids["helen"])
    r = await any_crm.reports.dynamics(helen, span(PeriodKind.MONTH, 6, TODAY))
    assert (r.audience.kind, r.audience.team_name, r.grain) == (ScopeKind.TEAM, "North",
                                                                PeriodKind.MONTH)
    assert [a for a, _ in r.periods] == [date(2026, m, 1) for m in range(6, 12)]
    assert r.total is not None
    # Sep: "Old win" opened; Oct: "Lost long ago" opened, "Old win" won (70 000);
    # Nov: Ivan's 6 and Olga's 2 contacts, 6 + 6 deals opened, "Big order" won, 170 000 paid.
    assert figures(r.total) == [Z, Z, Z, (0, 1, 0, 0, 0), (0, 1, 1, Decimal("70000.00"), 0),
                                (8, 12, 1, Decimal("200000.00"), Decimal("170000.00"))]
    people = by_name(r)
    assert list(people) == ["Ivan", "Olga", "Vera"]
    assert figures(people["Ivan"])[-1] == (6, 6, 1, Decimal("200000.00"),
                                           Decimal("170000.00"))
    assert figures(people["Olga"])[-1] == (2, 6, 0, 0, 0)
    assert people["Vera"].empty and not people["Ivan"].empty
    # Sam is in another team; the admin sees everyone.
    everyone = await any_crm.reports.dynamics(await actor(any_crm.db, ids["admin"]),
                                              span(PeriodKind.MONTH, 6, TODAY))
    assert everyone.audience.kind is ScopeKind.ALL and len(everyone.managers) == 4
    assert everyone.total is not None and everyone.total.points[-1].contacts == 9


async def test_dynamics_by_week_of_a_manager(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    ivan = await actor(any_crm.db, ids["ivan"])
    r = await any_crm.reports.dynamics(ivan, span(PeriodKind.WEEK, 12, TODAY))
    assert r.audience.kind is ScopeKind.OWN and r.total is None
    assert [s.name for s in r.managers] == ["Ivan Petrov"]
    assert r.overall is r.managers[0]
    assert r.periods[0] == (date(2026, 9, 7), date(2026, 9, 13))
    weeks = figures(r.managers[0])
    # Thu 1 Oct: "Lost long ago" opened and "Old win" won; Sun 1 Nov closes the week of
    # 26 Oct: four deals opened that day.
    assert weeks[3] == (0, 1, 1, Decimal("70000.00"), 0)
    assert weeks[7] == (0, 4, 0, 0, 0)
    # 16–22 Nov: calls on the 17th (23:00 Moscow), 19th, 20th and a meeting on the 22nd;
    # 23–25 Nov: the call at 23:30 on the 24th and this morning's.
    assert weeks[10] == (4, 2, 1, Decimal("200000.00"), Decimal("150000.00"))
    assert weeks[11] == (2, 0, 0, 0, Decimal("20000.00"))


async def test_month_edges_follow_the_viewers_time_zone(any_crm: CRM) -> None:
    """A call at 23:30 on 31 Oct in Moscow is 06:30 on 1 Nov in Vladivostok."""
    ids = await build(any_crm.db)
    client = await add_client(any_crm.db, ids["ivan"], "Edge")
    await add_activity(any_crm.db, client, ids["ivan"], "call", msk(10, 31, 23, 30))
    months = span(PeriodKind.MONTH, 2, TODAY)
    moscow = await any_crm.reports.dynamics(await actor(any_crm.db, ids["admin"]), months)
    assert [p.contacts for p in by_name(moscow)["Ivan"].points] == [1, 6]
    far = await add_user(any_crm.db, 9100, "Far Admin", role="admin", tz="Asia/Vladivostok")
    there = await any_crm.reports.dynamics(await actor(any_crm.db, far), months)
    assert [p.contacts for p in by_name(there)["Ivan"].points] == [0, 7]


async def test_a_week_across_the_dst_change_keeps_its_last_hour(any_crm: CRM) -> None:
    """Berlin leaves summer time on Sun 25 Oct 2026: that week has 169 hours. 23:30 that
    Sunday (22:30 UTC) is still the week of 19 Oct, which a week taken as 7 × 24 hours from
    Monday's midnight (18 Oct, 22:00 UTC) would have lost to the next."""
    bea = await add_user(any_crm.db, 9200, "Bea Berlin", tz="Europe/Berlin")
    client = await add_client(any_crm.db, bea, "Kunde")
    for at in (datetime(2026, 10, 18, 21, 59), datetime(2026, 10, 18, 22, 30),  # Sun, Mon
               datetime(2026, 10, 25, 22, 30), datetime(2026, 10, 25, 23, 0),  # Sun, Mon
               datetime(2026, 11, 1, 22, 59), datetime(2026, 11, 1, 23, 0)):  # Sun, Mon
        await add_activity(any_crm.db, client, bea, "call", at.replace(tzinfo=UTC))
    r = await any_crm.reports.dynamics(await actor(any_crm.db, bea),
                                       span(PeriodKind.WEEK, 2, date(2026, 11, 1)))
    assert r.periods == ((date(2026, 10, 19), date(2026, 10, 25)),
                         (date(2026, 10, 26), date(2026, 11, 1)))
    assert [p.contacts for p in r.overall.points] == [2, 2]


async def test_dynamics_text_chart_and_spreadsheet(crm: CRM) -> None:
    ids = await build(crm.db)
    r = await crm.reports.dynamics(await actor(crm.db, ids["helen"]),
                                   span(PeriodKind.MONTH, 6, TODAY))
    i18n = create_i18n("ru")
    with in_locale(i18n, "ru"):
        ru = dynamics_text(r)
        png = dynamics_chart(r, "Динамика по месяцам")
    with in_locale(i18n, "en"):
        en = dynamics_text(r)
        data = dynamics_xlsx(r)
    assert "<b>📈 Динамика</b> · команда «North»" in ru
    assert "По месяцам: 1 июн. 2026 – 25 нояб. 2026" in ru
    assert "в тысячах ₽" in ru
    assert "<b>Итого</b>\n<pre>         Конт Сдел Выигр Выр Опл\n" in ru
    assert "\nокт. 26     0    1     1  70   0\n" in ru
    assert "\nнояб. 26    8   12     1 200 170</pre>" in ru
    assert "<b>Vera Away</b>\nЗа эти периоды ничего нет." in ru
    assert "By month: 1 Jun 2026 – 25 Nov 2026" in en
    assert "\nNov 26     8  12    1  200  170</pre>" in en
    assert png.startswith(b"\x89PNG")
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Dynamics", "Contacts", "New deals", "Won", "Revenue",
                             "Payments received"]
    ws = wb["Dynamics"]
    assert [c.value for c in ws[1]] == ["From", "To", "Contacts", "New deals", "Won",
                                        "Revenue", "Payments received"]
    assert ws.freeze_panes == "B2" and ws["A1"].font.b and ws.max_row == 7
    assert [c.value for c in ws[7]] == [datetime(2026, 11, 1), datetime(2026, 11, 25), 8,
                                        12, 1, 200000, 170000]
    assert [c.value for c in ws[6]][2:] == [0, 1, 1, 70000, 0]
    assert ws["A2"].number_format == "DD.MM.YYYY" and ws["C2"].number_format == "0"
    assert ws["F2"].number_format == "#,##0.00"
    revenue = wb["Revenue"]
    assert [c.value for c in revenue[1]] == ["Manager", "June 2026", "July 2026",
                                             "August 2026", "September 2026", "October 2026",
                                             "November 2026"]
    assert [[c.value for c in row] for row in revenue.iter_rows(min_row=2)] == [
        ["Ivan Petrov", 0, 0, 0, 0, 70000, 200000], ["Olga Smirnova", 0, 0, 0, 0, 0, 0],
        ["Vera Away", 0, 0, 0, 0, 0, 0], ["Total", 0, 0, 0, 0, 70000, 200000]]
    assert revenue["G2"].number_format == "#,##0.00"
    assert revenue.column_dimensions["A"].width >= len("Olga Smirnova")
    contacts = wb["Contacts"]
    assert [c.value for c in contacts["G"]] == ["November 2026", 6, 2, 0, 8]
    assert contacts["G2"].number_format == "0"


async def test_dynamics_screens_through_the_dispatcher(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    calls = await harness.send(HELEN, "📊 Reports")
    menu = [t for t, _ in buttons(calls)]
    assert "📈 Dynamics" in menu and "🔮 Forecast" in menu
    seen = said(calls)
    calls = await harness.press(HELEN, button(calls, "📈 Dynamics"))
    seen += said(calls)
    text = last_text(calls)
    assert "team «North»" in text and "By month: 1 Dec 2025 – 25 Nov 2026" in text
    assert [t for t, _ in buttons(calls)] == ["📥 XLSX", "📈 Chart", "✓ By month",
                                              "By week", "6 months", "✓ 12 months",
                                              "« Reports"]
    calls = await harness.press(HELEN, button(calls, "By week"))
    seen += said(calls)
    assert "By week: 7 Sep 2026 – 25 Nov 2026" in last_text(calls)
    calls = await harness.press(HELEN, button(calls, "6 weeks"))
    assert "By week: 19 Oct 2026 – 25 Nov 2026" in last_text(calls)
    assert "✓ 6 weeks" in [t for t, _ in buttons(calls)]
    screen = calls
    calls = await harness.press(HELEN, button(screen, "Chart"))
    photos = [c for c in calls if isinstance(c, SendPhoto)]
    assert len(photos) == 1 and "📈 Dynamics" in (photos[0].caption or "")
    photo = photos[0].photo
    assert isinstance(photo, BufferedInputFile) and photo.data.startswith(b"\x89PNG")
    calls = await harness.press(HELEN, button(screen, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile) and doc.filename == "dyn_20261019-20261125.xlsx"
    ws = load_workbook(BytesIO(doc.data))["Dynamics"]
    assert ws.max_row == 7 and ws["C7"].value == 4  # this week: 2 calls, 2 e-mails
    # From the results: «📈 Dynamics» opens the weeks up to the results' last day.
    calls = await harness.press(HELEN, button(screen, "« Reports"))
    calls = await harness.press(HELEN, button(calls, "Results"))
    calls = await harness.press(HELEN, button(calls, "This week"))
    calls = await harness.press(HELEN, button(calls, "📈 Dynamics"))
    assert "By week: 7 Sep 2026 – 25 Nov 2026" in last_text(calls)
    calls = await harness.send(HELEN, "/reports")
    calls = await harness.press(HELEN, button(calls, "Results"))
    calls = await harness.press(HELEN, button(calls, "Last month"))
    calls = await harness.press(HELEN, button(calls, "📈 Dynamics"))
    assert "By month: 1 Nov 2025 – 31 Oct 2026" in last_text(calls)
    assert not russian_in(seen)


async def test_dynamics_in_russian(harness: Harness, crm: CRM) -> None:
    ids = await build(crm.db)
    helen = TgUser(9001, "Helen", "Head", language_code="ru")
    await update_user(crm.db, ids["helen"], locale="ru")
    calls = await harness.send(helen, "/reports")
    calls = await harness.press(helen, button(calls, "📈 Динамика"))
    text = last_text(calls)
    assert "По месяцам: 1 дек. 2025 – 25 нояб. 2026" in text
    assert [t for t, _ in buttons(calls)][2:6] == ["✓ По месяцам", "По неделям", "6 месяцев",
                                                   "✓ 12 месяцев"]


async def test_who_sees_whose_dynamics(harness: Harness, crm: CRM) -> None:
    ids = await build(crm.db)
    calls = await harness.send(IVAN, "/reports")
    calls = await harness.press(IVAN, button(calls, "Dynamics"))
    text = last_text(calls)
    assert "your figures" in text and "Ivan Petrov" in text
    assert "Olga" not in text and "Total" not in text
    # A marketer has no dynamics: the menu has none, a forged button is refused.
    calls = await harness.send(MARK, "/reports")
    assert "📈 Dynamics" not in [t for t, _ in buttons(calls)]
    start, end = date(2025, 12, 1).toordinal(), TODAY.toordinal()
    calls = await harness.press(MARK, f"rp:show:dyn:m:{start}:{end}::")
    assert alerts(calls) == ["Your role does not allow this."]
    calls = await harness.press(MARK, f"rp:chart:dyn:m:{start}:{end}::")
    assert alerts(calls) == ["Your role does not allow this."]
    # Spans no screen of the bot draws are refused.
    gone = "This is not available (it may have been removed or is not yours)."
    for forged in (f"rp:show:dyn:c:{start}:{end}::", f"rp:show:dyn:m:{start + 1}:{end}::",
                   f"rp:xlsx:dyn:w:{start}:{end}::", f"rp:chart:dyn:d:{end}:{end}::"):
        assert alerts(await harness.press(IVAN, forged)) == [gone], forged
    # A head's forged team is their own team; an admin's team is honoured.
    sam = await actor(crm.db, ids["sam"])
    calls = await harness.press(HELEN, f"rp:show:dyn:m:{start}:{end}:{sam.team_id}:")
    assert "team «North»" in last_text(calls) and "Sam" not in last_text(calls)
    calls = await harness.press(ANN, f"rp:show:dyn:m:{start}:{end}:{sam.team_id}:")
    assert "team «South»" in last_text(calls) and "Sam South" in last_text(calls)
    assert "Ivan" not in last_text(calls)


def test_chart_of_many_managers_and_none_of_nothing() -> None:
    """Six managers are drawn one by one, the rest as "Others"; a span with no figures at
    all has no chart (no bars of zeros on a −0.04 axis)."""
    periods = tuple(periods_of(span(PeriodKind.MONTH, 3, TODAY)))

    def series(i: int, k: int) -> Series:
        return Series(i, f"Manager {i}", tuple(
            Point(a, b, k * n, n, n % 2, Decimal(k * 1_500_000), Decimal(k * 1000))
            for n, (a, b) in enumerate(periods)))

    managers = tuple(series(i, i) for i in range(1, 10))
    who = Audience(ScopeKind.ALL, None, tuple(Member(m.id, m.name) for m in managers))
    total = Series(0, "", tuple(
        Point(a, b, sum(m.points[n].contacts for m in managers),
              sum(m.points[n].new_deals for m in managers),
              sum(m.points[n].won_count for m in managers),
              sum((m.points[n].revenue for m in managers), Decimal(0)),
              sum((m.points[n].payments for m in managers), Decimal(0)))
        for n, (a, b) in enumerate(periods)))
    r = DynamicsReport(who, span(PeriodKind.MONTH, 3, TODAY), "RUB", periods, managers, total)
    assert has_dynamics(r) is r
    with in_locale(create_i18n("ru"), "ru"):
        assert dynamics_chart(r, "Динамика").startswith(b"\x89PNG")
        text = dynamics_text(r)
    # 67.5 million in thousands, with the locale's grouping.
    assert "\nнояб. 26   90   18     0 67\xa0500  45</pre>" in text
    nothing = DynamicsReport(who, r.period, "RUB", periods, (), Series(0, "", tuple(
        Point(a, b, 0, 0, 0, Decimal(0), Decimal(0)) for a, b in periods)))
    assert has_dynamics(nothing) is None
