"""Loss analytics against a hand-built data set (the digest's, plus a few losses of Olga's
and Sam's): shares, by stage, by manager, the previous period, the chart and the spreadsheet,
and who sees whose losses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import BytesIO

from aiogram.methods import SendPhoto
from openpyxl import load_workbook

from bot.i18n import create_i18n
from bot.report_charts import loss_chart
from bot.report_views import loss_bars, losses_text
from bot.xlsx import losses_xlsx
from crm.reports.losses import LossReport
from crm.reports.period import Period, PeriodKind
from crm.reports.scope import ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import actor, add_client, add_deal
from tests.test_digest import build, msk

WEEK = Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24))
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")


async def build_losses(db: Database) -> dict[str, int]:
    ids = await build(db)
    olga = await add_client(db, ids["olga"], "Olga lost")
    await add_deal(db, olga, ids["olga"], "No benefit", 5000, status="lost", stage="proposal",
                   closed_at=msk(11, 22), loss_reason="no_benefit")
    await add_deal(db, olga, ids["olga"], "No reason", 5000, status="lost",
                   closed_at=msk(11, 21))
    await add_deal(db, olga, ids["olga"], "Earlier", 5000, status="lost",
                   closed_at=msk(11, 12), loss_reason="price")
    sam = await add_client(db, ids["sam"], "Sam lost")
    await add_deal(db, sam, ids["sam"], "South loss", 7000, status="lost",
                   closed_at=msk(11, 20), loss_reason="price")
    return ids


def reasons(r: LossReport) -> list[tuple[str | None, int, Decimal, int]]:
    return [(x.reason.code if x.reason else None, x.count, x.share, x.previous_count)
            for x in r.reasons]


async def test_losses_of_a_team(any_crm: CRM) -> None:
    ids = await build_losses(any_crm.db)
    r = await any_crm.reports.losses(await actor(any_crm.db, ids["helen"]), WEEK)
    assert r.audience.kind is ScopeKind.TEAM
    assert (r.count, r.previous_count, r.amount) == (5, 1, Decimal("40000.00"))
    assert reasons(r) == [("price", 2, Decimal("40.0"), 1),
                          ("no_benefit", 1, Decimal("20.0"), 0),
                          ("competitor", 1, Decimal("20.0"), 0), (None, 1, Decimal("20.0"), 0)]
    assert [(st.stage.code, st.count,
             [(c.reason.code if c.reason else None, c.count) for c in st.reasons])
            for st in r.by_stage] == [
        ("new", 4, [("price", 2), ("competitor", 1), (None, 1)]),
        ("proposal", 1, [("no_benefit", 1)])]
    assert [(m.member.name, m.count, m.previous_count,
             [(c.reason.code if c.reason else None, c.count) for c in m.reasons])
            for m in r.by_manager] == [
        ("Ivan Petrov", 3, 0, [("price", 2), ("competitor", 1)]),
        ("Olga Smirnova", 2, 1, [("no_benefit", 1), (None, 1)]),
        ("Vera Away", 0, 0, [])]


async def test_everyone_for_admin_and_marketer_own_for_a_manager(crm: CRM) -> None:
    ids = await build_losses(crm.db)
    for who in ("admin", "mark"):
        r = await crm.reports.losses(await actor(crm.db, ids[who]), WEEK)
        assert r.audience.kind is ScopeKind.ALL and r.count == 6
        assert reasons(r)[0] == ("price", 3, Decimal("50.0"), 1)
    mine = await crm.reports.losses(await actor(crm.db, ids["ivan"]), WEEK)
    assert [m.member.name for m in mine.by_manager] == ["Ivan Petrov"]
    assert reasons(mine) == [("price", 2, Decimal("66.7"), 0),
                             ("competitor", 1, Decimal("33.3"), 0)]


async def test_loss_text_chart_and_spreadsheet(crm: CRM) -> None:
    ids = await build_losses(crm.db)
    r = await crm.reports.losses(await actor(crm.db, ids["helen"]), WEEK)
    with in_locale(create_i18n("ru"), "en"):
        text = losses_text(r)
        data = losses_xlsx(r)
        bars = loss_bars(r)
    assert "Lost: 5 (▲ 4) · RUB40,000.00" in text
    assert "• Price — 40% (2) (▲ 1)" in text
    assert "• Did not see the benefit — 20% (1) (▲ 1)" in text
    assert "• no reason given — 20% (1)" in text
    assert "• New lead: 4 — Price 2, Chose a competitor 1, no reason given 1" in text
    assert "• Olga Smirnova: 2 (▲ 1) — Did not see the benefit 1, no reason given 1" in text
    assert "Vera" not in text  # nothing lost in either period
    with in_locale(create_i18n("ru"), "ru"):
        assert "• Цена — 40\u202f% (2) (▲ 1)" in losses_text(r)
    assert bars[0] == ("Price", 40.0, "40% (2)")
    png = loss_chart(bars, "Loss analytics")
    assert png.startswith(b"\x89PNG")
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Reasons", "By stage", "By manager", "Period"]
    ws = wb["Reasons"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["Reason", "Lost", "Share", "Amount", "Previous period"],
        ["Price", 2, 0.4, 20000, 1],
        ["Did not see the benefit", 1, 0.2, 5000, 0],
        ["Chose a competitor", 1, 0.2, 10000, 0],
        ["no reason given", 1, 0.2, 5000, 0]]
    assert ws["C2"].number_format == "0.0%" and ws["D2"].number_format == "#,##0.00"
    assert ws.freeze_panes == "B2"
    assert [[c.value for c in row] for row in wb["By stage"].iter_rows(min_row=2)] == [
        ["New lead", "Price", 2], ["New lead", "Chose a competitor", 1],
        ["New lead", "no reason given", 1], ["Proposal sent", "Did not see the benefit", 1]]
    assert [[c.value for c in row] for row in wb["By manager"].iter_rows(min_row=2)] == [
        ["Ivan Petrov", "Price", 2], ["Ivan Petrov", "Chose a competitor", 1],
        ["Olga Smirnova", "Did not see the benefit", 1],
        ["Olga Smirnova", "no reason given", 1]]


async def test_no_losses_says_so(crm: CRM) -> None:
    ids = await build_losses(crm.db)
    quiet = Period(PeriodKind.CUSTOM, date(2026, 11, 13), date(2026, 11, 17))
    r = await crm.reports.losses(await actor(crm.db, ids["helen"]), quiet)
    with in_locale(create_i18n("ru"), "en"):
        text = losses_text(r)
    assert "No deals lost in this period." in text
    assert "The period before: 2 deals lost." in text  # 10 Nov (Ivan), 12 Nov (Olga)


async def test_marketer_opens_losses_and_its_chart(harness: Harness, crm: CRM) -> None:
    await build_losses(crm.db)
    calls = await harness.send(MARK, "📊 Reports")
    assert [t for t, _ in buttons(calls)] == ["📉 Loss analytics", "📣 Marketing",
                                              "🗂 Client lists", "📥 Import clients",
                                              "📤 Export clients"]
    calls = await harness.press(MARK, button(calls, "Loss analytics"))
    calls = await harness.send(MARK, "18.11-24.11")
    text = last_text(calls)
    assert "all managers" in text and "Sam South: 1 (▲ 1) — Price 1" in text
    calls = await harness.press(MARK, button(calls, "Chart"))
    photos = [c for c in calls if isinstance(c, SendPhoto)]
    assert len(photos) == 1 and "Loss analytics" in (photos[0].caption or "")
    # A marketer has no results report: a forged button for it is refused.
    day = date(2026, 11, 20).toordinal()
    calls = await harness.press(MARK, f"rp:show:res:c:{day}:{day}::")
    assert alerts(calls) == ["Your role does not allow this."]
    # A report without a chart has no chart button to forge either.
    calls = await harness.press(IVAN, f"rp:chart:res:c:{day}:{day}::")
    assert alerts(calls) == ["Your role does not allow this."]
