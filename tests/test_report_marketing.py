"""Marketing against a hand-built data set (Moscow time; the period 1–30 Nov 2026 typed as
dates, compared with 2–31 Oct): new clients at both edges of the period, a deleted client
left out, deals opened / won / lost, the cycle, a campaign touch counted towards the
campaign of the client it was logged on, clients nobody owns; the text (Russian too), the
spreadsheet cell by cell, the menu and the groupings through the real dispatcher, and who
gets the report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from openpyxl import load_workbook
from pytest import approx
from sqlalchemy import update

from bot.i18n import create_i18n
from bot.keyboards.reports import ReportAction, ReportCD, ReportKind
from bot.report_views import marketing_text
from bot.xlsx import marketing_xlsx
from crm.reports.marketing import Channel, Dimension, MarketingReport
from crm.reports.period import Period, PeriodKind
from crm.reports.scope import ScopeKind
from crm.service import CRM
from scheduler.sender import in_locale
from storage.db import Database
from storage.models import Client
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.notify_data import (
    actor,
    add_activity,
    add_client,
    add_deal,
    add_team,
    add_user,
    item_id,
)

MSK = ZoneInfo("Europe/Moscow")
NOVEMBER = Period(PeriodKind.CUSTOM, date(2026, 11, 1), date(2026, 11, 30))
HELEN = TgUser(9001, "Helen", "Head", language_code="en")
IVAN = TgUser(9002, "Ivan", "Petrov", language_code="en")
MARK = TgUser(9008, "Mark", "Marketer", language_code="en")
ANN = TgUser(9007, "Ann", "Admin", language_code="en")


def msk(mo: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(2026, mo, d, h, mi, tzinfo=MSK).astimezone(UTC)


async def client(db: Database, owner: int | None, name: str, created: datetime,
                 deleted: bool = False, **codes: str) -> int:
    cid = await add_client(db, owner, name)
    values: dict[str, Any] = {"created_at": created, "is_deleted": deleted}
    for kind, code in codes.items():
        values[f"{kind}_id"] = await item_id(db, kind, code)
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == cid).values(**values))
    return cid


async def build(db: Database) -> dict[str, int]:
    north = await add_team(db, "North")
    south = await add_team(db, "South")
    ids = {
        "helen": await add_user(db, 9001, "Helen Head", role="head", team_id=north),
        "ivan": await add_user(db, 9002, "Ivan Petrov", team_id=north),
        "sam": await add_user(db, 9005, "Sam South", team_id=south),
        "admin": await add_user(db, 9007, "Ann Admin", role="admin"),
        "mark": await add_user(db, 9008, "Mark Marketer", role="marketer"),
    }
    ivan, sam, mark = ids["ivan"], ids["sam"], ids["mark"]
    # Created at the first minute of the period (Moscow), the last minute before it, the
    # last minute of it and the first minute after it.
    a = await client(db, ivan, "Alpha", msk(11, 1, 0, 0), source="website",
                     campaign="webinar", region="moscow")
    b = await client(db, ivan, "Beta", msk(10, 31, 23, 59), source="website", region="moscow")
    c = await client(db, sam, "Gamma", msk(11, 30, 23, 59), source="exhibition",
                     campaign="webinar", region="spb")
    await client(db, sam, "Later", msk(12, 1, 0, 0), source="website")
    await client(db, ivan, "Deleted", msk(11, 15), deleted=True, source="website")
    await client(db, None, "Nobody's lead", msk(11, 10), source="ads")
    # Alpha: won in 10 days, and a deal opened in October lost in November.
    await add_deal(db, a, ivan, "Pumps", 100_000, status="won", opened_at=msk(11, 2),
                   closed_at=msk(11, 12))
    await add_deal(db, a, ivan, "Valves", 20_000, status="lost", opened_at=msk(10, 20),
                   closed_at=msk(11, 5), loss_reason="price")
    # Beta: opened before the previous period (1 Oct), won in it in 20 days.
    await add_deal(db, b, ivan, "Old win", 50_000, status="won", opened_at=msk(10, 1),
                   closed_at=msk(10, 21))
    # Gamma: opened and won in November in 20 days; one more open deal.
    await add_deal(db, c, sam, "Big order", 300_000, status="won", opened_at=msk(11, 3),
                   closed_at=msk(11, 23))
    await add_deal(db, c, sam, "Follow-up", 10_000, opened_at=msk(11, 24))
    # Campaign touches: on Alpha in November, on Gamma in October; a call is no touch.
    await add_activity(db, a, mark, "campaign_touch", msk(11, 10))
    await add_activity(db, c, mark, "campaign_touch", msk(10, 15))
    await add_activity(db, a, ivan, "call", msk(11, 11))
    return ids


def fig(x: Channel) -> tuple[object, ...]:
    return (x.new_clients, x.deals_opened, x.won_count, x.revenue, x.lost_count, x.touches,
            x.conversion, x.avg_days)


def rows(r: MarketingReport, d: Dimension) -> dict[str, tuple[object, ...]]:
    return {x.item.code if x.item else "-": fig(x.current) for x in r.by[d]}


async def test_marketing_figures_for_everyone(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    r = await any_crm.reports.marketing(await actor(any_crm.db, ids["mark"]), NOVEMBER)
    assert r.audience.kind is ScopeKind.ALL
    assert r.previous == Period(PeriodKind.CUSTOM, date(2026, 10, 2), date(2026, 10, 31))
    assert fig(r.total.current) == (3, 3, 2, Decimal("400000.00"), 1, 1, Decimal("66.7"),
                                    Decimal("15.0"))
    assert fig(r.total.previous) == (1, 1, 1, Decimal("50000.00"), 0, 1, Decimal("100.0"),
                                     Decimal("20.0"))
    by_source = rows(r, Dimension.SOURCE)
    # Most revenue first; the lead nobody owns counts for everyone.
    assert list(by_source) == ["exhibition", "website", "ads"]
    assert by_source["exhibition"] == (1, 2, 1, Decimal("300000.00"), 0, 0, Decimal("100.0"),
                                       Decimal("20.0"))
    assert by_source["website"] == (1, 1, 1, Decimal("100000.00"), 1, 1, Decimal("50.0"),
                                    Decimal("10.0"))
    assert by_source["ads"] == (1, 0, 0, Decimal(0), 0, 0, None, None)
    # The touch on Alpha counts towards Alpha's campaign; Gamma's October one before.
    by_campaign = {x.item.code if x.item else "-": x for x in r.by[Dimension.CAMPAIGN]}
    assert list(by_campaign) == ["webinar", "-"]
    webinar = by_campaign["webinar"]
    assert fig(webinar.current) == (2, 3, 2, Decimal("400000.00"), 1, 1, Decimal("66.7"),
                                    Decimal("15.0"))
    assert (webinar.previous.touches, webinar.previous.deals_opened) == (1, 1)
    assert fig(by_campaign["-"].current)[:3] == (1, 0, 0)  # nobody's lead: no campaign
    assert by_campaign["-"].previous.new_clients == 1  # Beta, 31 Oct 23:59
    assert {k: v[0] for k, v in rows(r, Dimension.REGION).items()} == {
        "spb": 1, "moscow": 1, "-": 1}
    assert list(rows(r, Dimension.SEGMENT)) == ["-"]


async def test_marketing_scope(any_crm: CRM) -> None:
    ids = await build(any_crm.db)
    db = any_crm.db
    head = await any_crm.reports.marketing(await actor(db, ids["helen"]), NOVEMBER)
    assert (head.audience.kind, head.audience.team_name) == (ScopeKind.TEAM, "North")
    assert rows(head, Dimension.SOURCE) == {
        "website": (1, 1, 1, Decimal("100000.00"), 1, 1, Decimal("50.0"), Decimal("10.0"))}
    admin = await actor(db, ids["admin"])
    everyone = await any_crm.reports.marketing(admin, NOVEMBER)
    assert everyone.total.current.new_clients == 3
    sam = await actor(db, ids["sam"])
    south = await any_crm.reports.marketing(admin, NOVEMBER, sam.team_id)
    assert south.audience.kind is ScopeKind.TEAM
    assert list(rows(south, Dimension.SOURCE)) == ["exhibition"]  # not nobody's lead


async def test_marketing_text_and_spreadsheet(crm: CRM) -> None:
    ids = await build(crm.db)
    r = await crm.reports.marketing(await actor(crm.db, ids["mark"]), NOVEMBER)
    with in_locale(create_i18n("ru"), "en"):
        text = marketing_text(r, Dimension.SOURCE)
        campaigns = marketing_text(r, Dimension.CAMPAIGN)
        data = marketing_xlsx(r)
    assert "<b>📣 Marketing</b> · all managers" in text
    assert "1 Nov 2026 – 30 Nov 2026, compared with 2 Oct 2026 – 31 Oct 2026" in text
    assert "<i>By source</i>" in text
    assert ("<b>Total</b>\nNew clients: 3 (▲ 2) · deals opened: 3 (▲ 2)\n"
            "Won: 2 (▲ 1) · RUB400,000.00 (▲ RUB350,000.00)\n"
            "Conversion: 66.7% (▼ 33.3 pp)\nAverage cycle: 15 days\n"
            "Campaign touches: 1") in text
    assert text.index("<b>Exhibition</b>") < text.index("<b>Website</b>") < text.index(
        "<b>Advertising</b>")
    assert "<b>Advertising</b>\nNew clients: 1 (▲ 1) · deals opened: 0\nWon: 0 · RUB0.00" in text
    assert "<i>By campaign</i>" in campaigns and "<b>Webinar</b>" in campaigns
    assert "<b>not set</b>\nNew clients: 1 · deals opened: 0" in campaigns
    wb = load_workbook(BytesIO(data))
    assert wb.sheetnames == ["Source", "Segment", "Region", "Industry", "Campaign", "Period"]
    ws = wb["Source"]
    assert [c.value for c in ws[1]] == [
        "Source", "New clients", "Deals opened", "Won", "Revenue", "Lost", "Conversion",
        "Average cycle, days", "Campaign touches", "New clients, previous period",
        "Deals opened, previous period", "Won, previous period", "Revenue, previous period"]
    assert [c.value for c in ws[2]] == ["Exhibition", 1, 2, 1, 300000, 0, 1, 20, 0, 0, 0, 0, 0]
    assert [c.value for c in ws[3]] == ["Website", 1, 1, 1, 100000, 1, approx(0.5), 10, 1,
                                        1, 1, 1, 50000]
    assert [c.value for c in ws[4]] == ["Advertising", 1, 0, 0, 0, 0, None, None, 0,
                                        0, 0, 0, 0]
    assert [c.value for c in ws[5]] == ["Total", 3, 3, 2, 400000, 1, approx(0.667), 15, 1,
                                        1, 1, 1, 50000]
    assert ws.max_row == 5 and ws.freeze_panes == "B2"
    assert (ws["E2"].number_format, ws["G3"].number_format, ws["H2"].number_format,
            ws["B2"].number_format) == ("#,##0.00", "0.0%", "0.0", "0")
    assert [c.value for c in wb["Campaign"]["A"]] == ["Campaign", "Webinar", "not set", "Total"]
    period = wb["Period"]
    assert [c.value for c in period[2]] == ["Report", datetime(2026, 11, 1),
                                           datetime(2026, 11, 30)]


async def test_marketing_text_in_russian(crm: CRM) -> None:
    ids = await build(crm.db)
    r = await crm.reports.marketing(await actor(crm.db, ids["mark"]), NOVEMBER)
    with in_locale(create_i18n("ru"), "ru"):
        text = marketing_text(r, Dimension.CAMPAIGN)
    print(text)  # the screen of the closing note
    assert "📣 Маркетинг" in text and "<i>По кампаниям</i>" in text
    assert "<b>Вебинар</b>" in text and "Маркетинговые касания: 1" in text
    assert "Новых клиентов: 2" in text and "не указано" in text


def test_an_empty_period() -> None:
    from crm.reports.marketing import ChannelLine
    from crm.reports.scope import Audience

    empty = ChannelLine(None, Channel(), Channel())
    r = MarketingReport(Audience(ScopeKind.ALL, None, ()), NOVEMBER, NOVEMBER, "RUB", empty,
                        {d: () for d in Dimension})
    with in_locale(create_i18n("ru"), "en"):
        assert "No new clients, deals or touches in this period." in marketing_text(
            r, Dimension.REGION)


async def test_marketing_through_the_menu(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    calls = await harness.send(MARK, "📊 Reports")
    assert [t for t, _ in buttons(calls)] == ["📉 Loss analytics", "📣 Marketing",
                                              "🗂 Client lists", "📥 Import clients",
                                              "📤 Export clients"]
    calls = await harness.press(MARK, button(calls, "Marketing"))
    calls = await harness.send(MARK, "01.11-30.11")
    text = last_text(calls)
    assert "<i>By source</i>" in text and "<b>Exhibition</b>" in text
    assert "✓ Sources" in [t for t, _ in buttons(calls)]
    calls = await harness.press(MARK, button(calls, "Campaigns"))
    text = last_text(calls)
    assert "<i>By campaign</i>" in text and "<b>Webinar</b>" in text
    assert "✓ Campaigns" in [t for t, _ in buttons(calls)]
    calls = await harness.press(MARK, button(calls, "XLSX"))
    (doc,) = [c.document for c in calls if isinstance(c, SendDocument)]
    assert isinstance(doc, BufferedInputFile) and doc.filename == "mkt_20261101-20261130.xlsx"
    assert load_workbook(BytesIO(doc.data))["Campaign"]["A2"].value == "Webinar"
    # A head: the same report for the team, from the picker.
    calls = await harness.send(HELEN, "📊 Reports")
    calls = await harness.press(HELEN, button(calls, "Marketing"))
    calls = await harness.press(HELEN, button(calls, "This month"))
    text = last_text(calls)
    assert "team «North»" in text and "<b>Website</b>" in text and "Exhibition" not in text
    # An admin: everyone.
    calls = await harness.send(ANN, "📊 Reports")
    calls = await harness.press(ANN, button(calls, "Marketing"))
    calls = await harness.press(ANN, button(calls, "This month"))
    assert "all managers" in last_text(calls) and "Advertising" in last_text(calls)


async def test_a_manager_gets_no_marketing_report(harness: Harness, crm: CRM) -> None:
    await build(crm.db)
    calls = await harness.send(IVAN, "📊 Reports")
    assert "📣 Marketing" not in [t for t, _ in buttons(calls)]
    refused = ["Your role does not allow this."]
    day = date(2026, 11, 1).toordinal()
    for action in (ReportAction.PICK, ReportAction.SHOW, ReportAction.XLSX):
        forged = ReportCD(action=action, kind=ReportKind.MARKETING, period=PeriodKind.CUSTOM,
                          start=day, end=day + 29, dim=Dimension.CAMPAIGN).pack()
        assert alerts(await harness.press(IVAN, forged)) == refused, action
    # A forged grouping is stale, like any value out of its set.
    assert alerts(await harness.press(MARK, f"rp:show:mkt:c:{day}:{day}::colour")) == [
        "This button is out of date. Open the screen again."]
