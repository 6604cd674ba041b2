"""How managers spend their time against a hand-built data set (tests/report_funnel_data.py:
typed records around the week of 16–22 Nov 2026), per day and per week, the viewer's time
zone and a DST day, the text within Telegram's limit, the spreadsheet cell by cell, and the
report through the real dispatcher per role."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook

from bot.i18n import create_i18n
from bot.render import TELEGRAM_TEXT_LIMIT
from bot.report_views import timeuse_text
from bot.xlsx import timeuse_xlsx
from crm.classifiers import Label
from crm.reports.period import Period, PeriodKind
from crm.reports.scope import Audience, Member, ScopeKind
from crm.reports.timeuse import (
    ManagerTime,
    Slot,
    SlotCounts,
    TimeUseReport,
    slots_of,
    utc_offsets,
)
from crm.service import CRM
from scheduler.sender import in_locale
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import actor, add_activity, add_client, add_user
from tests.report_funnel_data import build_time_use

WEEK = Period(PeriodKind.CUSTOM, date(2026, 11, 16), date(2026, 11, 22))
HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")


def codes(r: TimeUseReport) -> list[str]:
    return [t.code for t in r.types]


def days(m: ManagerTime) -> dict[date, int]:
    return {c.slot.start: c.total for c in m.slots if c.total}


async def test_a_week_per_day_for_a_team(any_crm: CRM) -> None:
    ids = await build_time_use(any_crm.db)
    r = await any_crm.reports.time_use(await actor(any_crm.db, ids["helen"]), WEEK)
    assert (r.audience.kind, r.by_week, len(r.slots)) == (ScopeKind.TEAM, False, 7)
    assert r.previous == Period(PeriodKind.CUSTOM, date(2026, 11, 9), date(2026, 11, 15))
    assert codes(r) == ["call", "meeting", "email", "visit"]
    ivan, olga = r.managers
    assert ivan.member.name == "Ivan Petrov"
    assert dict(zip(codes(r), ivan.totals, strict=True)) == {
        "call": 3, "meeting": 1, "email": 0, "visit": 1}
    assert (ivan.total, ivan.previous_total) == (5, 2)
    assert days(ivan) == {date(2026, 11, 16): 2, date(2026, 11, 18): 1, date(2026, 11, 19): 1,
                          date(2026, 11, 22): 1}
    assert ivan.slots[0].counts == (2, 0, 0, 0)
    assert (olga.total, olga.previous_total, days(olga)) == (2, 0, {date(2026, 11, 20): 2})
    assert (r.total, r.previous_total) == (7, 2)
    assert r.totals == (3, 1, 2, 1)


async def test_days_follow_the_viewers_time_zone(any_crm: CRM) -> None:
    """From Vladivostok (UTC+10) the call late on Sunday the 15th in Moscow is Monday the
    16th, and the one late on the 22nd falls out of the week."""
    ids = await build_time_use(any_crm.db)
    r = await any_crm.reports.time_use(await actor(any_crm.db, ids["far"]), WEEK)
    assert r.audience.kind is ScopeKind.ALL
    by_name = {m.member.name: m for m in r.managers}
    ivan = by_name["Ivan Petrov"]
    assert days(ivan) == {date(2026, 11, 16): 3, date(2026, 11, 18): 1, date(2026, 11, 19): 1}
    assert ivan.previous_total == 1
    assert by_name["Sam South"].total == 1


async def test_a_day_of_25_hours_keeps_its_last_hour(crm: CRM) -> None:
    """Berlin leaves summer time on 25 Oct 2026: 23:30 that evening is 22:30 UTC."""
    bea = await add_user(crm.db, 9200, "Bea Berlin", tz="Europe/Berlin")
    kunde = await add_client(crm.db, bea, "Kunde")
    await add_activity(crm.db, kunde, bea, "call", datetime(2026, 10, 25, 22, 30, tzinfo=UTC))
    await add_activity(crm.db, kunde, bea, "call", datetime(2026, 10, 25, 23, 5, tzinfo=UTC))
    two = Period(PeriodKind.CUSTOM, date(2026, 10, 25), date(2026, 10, 26))
    r = await crm.reports.time_use(await actor(crm.db, bea), two)
    assert days(r.managers[0]) == {date(2026, 10, 25): 1, date(2026, 10, 26): 1}


async def test_a_record_at_midnight_belongs_to_the_day_it_starts(any_crm: CRM) -> None:
    kate = await add_user(any_crm.db, 9300, "Kate Kolkata", tz="Asia/Kolkata")  # UTC+5:30
    shop = await add_client(any_crm.db, kate, "Shop")
    midnight = datetime(2026, 11, 16, 18, 30, tzinfo=UTC)  # 17 Nov, 00:00 in Kolkata
    await add_activity(any_crm.db, shop, kate, "call", midnight)
    await add_activity(any_crm.db, shop, kate, "call", midnight - timedelta(milliseconds=1))
    r = await any_crm.reports.time_use(await actor(any_crm.db, kate), WEEK)
    assert days(r.managers[0]) == {date(2026, 11, 16): 1, date(2026, 11, 17): 1}


def test_utc_offsets_split_a_period_at_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = datetime(2026, 10, 20, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert utc_offsets(berlin, start, end) == [
        (datetime(2026, 10, 25, 1, tzinfo=UTC), 7200), (end, 3600)]
    moscow = ZoneInfo("Europe/Moscow")
    assert utc_offsets(moscow, start, end) == [(end, 10800)]


async def test_a_long_period_goes_by_week(crm: CRM) -> None:
    ids = await build_time_use(crm.db)
    quarter = Period(PeriodKind.QUARTER, date(2026, 10, 1), date(2026, 11, 25))
    r = await crm.reports.time_use(await actor(crm.db, ids["ivan"]), quarter)
    assert r.by_week and r.audience.kind is ScopeKind.OWN
    assert r.slots[0] == Slot(date(2026, 10, 1), date(2026, 10, 4))  # Thursday to Sunday
    assert r.slots[-1] == Slot(date(2026, 11, 23), date(2026, 11, 25))
    assert len(r.slots) == 9
    (ivan,) = r.managers
    assert days(ivan) == {date(2026, 11, 9): 2, date(2026, 11, 16): 5}
    # 31 days still go by day, 32 by week.
    assert not slots_of(Period(PeriodKind.CUSTOM, date(2026, 11, 1), date(2026, 12, 1)))[0]
    assert slots_of(Period(PeriodKind.CUSTOM, date(2026, 11, 1), date(2026, 12, 2)))[0]


async def test_time_use_text_and_spreadsheet(crm: CRM) -> None:
    ids = await build_time_use(crm.db)
    r = await crm.reports.time_use(await actor(crm.db, ids["helen"]), WEEK)
    with in_locale(create_i18n("ru"), "en"):
        en = timeuse_text(r)
        data = timeuse_xlsx(r)
    assert "Records in the history by type, per day." in en
    assert "<b>Total</b>: 7 (▲ 5) — Call 3, Meeting 1, E-mail 2, Visit 1" in en
    assert ("<b>Ivan Petrov</b>: 5 (▲ 3) — Call 3, Meeting 1, Visit 1\n"
            "Mon 16 Nov: 2 — Call 2\nWed 18 Nov: 1 — Meeting 1\nThu 19 Nov: 1 — Visit 1\n"
            "Sun 22 Nov: 1 — Call 1") in en
    assert "<b>Olga Smirnova</b>: 2 (▲ 2) — E-mail 2\nFri 20 Nov: 2 — E-mail 2" in en
    with in_locale(create_i18n("ru"), "ru"):
        ru = timeuse_text(r)
    assert "На что уходит время менеджеров" in ru and "Записи в истории по типам, по дням." in ru
    assert "<b>Всего</b>: 7 (▲ 5) — Звонок 3, Встреча 1, E-mail 2, Визит 1" in ru
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["By day", "Totals", "Period"]
    ws = wb["By day"]
    assert [c.value for c in ws[1]] == ["Manager", "Day", "Call", "Meeting", "E-mail", "Visit",
                                        "Total"]
    assert ws.max_row == 1 + 2 * 7  # every day of both managers, empty ones too
    assert ws["A2"].value == "Ivan Petrov" and ws["B2"].value.date() == date(2026, 11, 16)
    assert [c.value for c in ws[2]][2:] == [2, 0, 0, 0, 2]
    assert [c.value for c in ws[5]][2:] == [0, 0, 0, 1, 1]  # Thursday: the visit
    assert [c.value for c in ws[13]][:2] == ["Olga Smirnova", datetime(2026, 11, 20)]
    assert ws["B2"].number_format == "DD.MM.YYYY" and ws["C2"].number_format == "0"
    assert ws.freeze_panes == "B2"
    totals = wb["Totals"]
    assert [c.value for c in totals[1]] == ["Manager", "Call", "Meeting", "E-mail", "Visit",
                                            "Total", "Previous period"]
    assert [c.value for c in totals[2]] == ["Ivan Petrov", 3, 1, 0, 1, 5, 2]
    assert [c.value for c in totals[4]] == ["Total", 3, 1, 2, 1, 7, 2]


def test_a_long_table_fits_one_message_and_points_to_the_file() -> None:
    """Fifty managers with a record every day of a month: the text stops within Telegram's
    limit and says the rest is in the spreadsheet."""
    period = Period(PeriodKind.CUSTOM, date(2026, 11, 1), date(2026, 11, 30))
    _w, slots = slots_of(period)
    types = (Label(1, "call", "Звонок", "Call"), Label(2, "visit", "Визит", "Visit"))
    managers = tuple(ManagerTime(Member(i, f"Manager {i}"),
                                 tuple(SlotCounts(s, (3, 1)) for s in slots), (90, 30), 100)
                     for i in range(1, 51))
    r = TimeUseReport(Audience(ScopeKind.ALL, None, tuple(m.member for m in managers)), period,
                      period, False, slots, types, managers, (4500, 1500), (5000, 0))
    with in_locale(create_i18n("ru"), "ru"):
        text = timeuse_text(r)
    assert len(text) <= TELEGRAM_TEXT_LIMIT
    assert text.rstrip().endswith("XLSX.") and "Manager 50" not in text


async def test_time_use_through_the_menu_per_role(harness: Harness, crm: CRM) -> None:
    await build_time_use(crm.db)
    calls = await harness.send(HELEN, "📊 Reports")
    calls = await harness.press(HELEN, button(calls, "How managers spend their time"))
    calls = await harness.send(HELEN, "16.11-22.11")
    text = last_text(calls)
    assert "team «North»" in text and "Ivan Petrov</b>: 5 (▲ 3)" in text and "Sam" not in text
    labels = [t for t, _ in buttons(calls)]
    assert labels == ["📥 XLSX", "🗓 Period", "« Reports"]
    calls = await harness.press(HELEN, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile) and doc.filename == "time_20261116-20261122.xlsx"
    assert [r[0].value for r in load_workbook(BytesIO(doc.data))["Totals"].iter_rows(
        min_row=2)] == ["Ivan Petrov", "Olga Smirnova", "Total"]
    # Ivan sees his own only, whatever team a forged button names.
    day = date(2026, 11, 16).toordinal()
    calls = await harness.press(IVAN, f"rp:show:time:c:{day}:{day + 6}:2:")
    text = last_text(calls)
    assert "your figures" in text and "Olga" not in text and "Total" not in text
    # A chart is not offered, and a forged chart button is refused.
    calls = await harness.press(IVAN, f"rp:chart:time:c:{day}:{day + 6}::")
    assert alerts(calls) == ["Your role does not allow this."]
