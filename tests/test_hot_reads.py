"""The hot display paths read through Database.read (a history page, Today): they answer
what the session-based reads answered, on both databases; their quick renderers write what
the slower ones wrote."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime

from bot.i18n import create_i18n
from bot.keyboards.client import (
    ClientAction,
    ClientCD,
    HistCD,
    hist_data,
    open_card_data,
)
from bot.render import fmt_datetime
from crm.clock import FrozenClock
from crm.dto import Actor
from crm.service import CRM
from storage.repo import history as repo
from tests.test_deals import client_of, team  # noqa: F401  (a fixture)


async def test_today_totals_are_the_open_deals_and_what_is_still_owed(
    any_crm: CRM, team: tuple[Actor, ...]  # noqa: F811
) -> None:
    _, _, max_, lone = team
    today = any_crm.clock.now().astimezone(max_.tz).date()
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D("1000.00"), None)
    deal_id = deal.id
    owed = await any_crm.billing.add_invoice(max_, deal_id, D("300.10"), today - timedelta(days=3))
    await any_crm.billing.add_payment(max_, owed.id, D("100.05"), today)
    paid = await any_crm.billing.add_invoice(max_, deal_id, D("50.00"), today - timedelta(days=2))
    await any_crm.billing.pay_rest(max_, paid.id, today)
    await any_crm.billing.add_invoice(max_, deal_id, D("70.00"), today + timedelta(days=2))
    await any_crm.billing.add_invoice(max_, deal_id, D("0.99"), today - timedelta(days=1))
    other = await client_of(any_crm, lone, "ООО Лютик")
    theirs = await any_crm.deals.create(lone, other, "Lena's", D("5"), None)
    await any_crm.billing.add_invoice(
        lone, theirs.id, D("5"), today - timedelta(days=1))

    async with any_crm.db.read() as r:
        got = await repo.today_totals(r, max_.id, today)
    async with any_crm.db.transaction() as s:
        n, amount = await repo.open_deal_totals(s, max_.id)
        debts = await repo.overdue_debts(s, max_.id, today)
    assert got == (n, amount, len(debts), sum(debts, D(0)))
    assert got == (1, D("1000.00"), 2, D("201.04"))
    view = await any_crm.planning.today(max_)
    assert (view.overdue_invoices, view.overdue_amount) == (2, D("201.04"))
    async with any_crm.db.read() as r:
        assert await repo.today_totals(r, 999_999, today) == (0, D("0.00"), 0, D(0))


def test_quick_callback_data_is_what_the_models_pack() -> None:
    for cid, page, tid in ((1, 0, None), (2_147_483_647, 1_000_000, 5), (42, 400, None)):
        assert hist_data(cid, page, tid) == HistCD(client_id=cid, page=page, type_id=tid).pack()
        assert open_card_data(cid) == ClientCD(id=cid, action=ClientAction.OPEN).pack()


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_quick_datetime_is_babels(locale: str) -> None:
    i18n = create_i18n(locale)
    tz = ZoneInfo("Asia/Vladivostok")
    with i18n.context(), i18n.use_locale(locale):
        at = datetime(2025, 12, 31, 14, 59, tzinfo=UTC)
        while at < datetime(2027, 1, 2, tzinfo=UTC):
            assert fmt_datetime(at, tz) == format_datetime(
                at.astimezone(tz), "d MMM y, HH:mm", locale=locale)
            at += timedelta(days=9, hours=7, minutes=13)
    assert date(2026, 1, 1)  # the loop crossed a year


async def test_todays_agenda_reads_as_the_session_reads_it(
    any_crm: CRM, team: tuple[Actor, ...], clock: FrozenClock  # noqa: F811
) -> None:
    _, head, max_, _ = team
    now = clock.now()
    for name, hours in (("ООО Ромашка", 30), ("ООО Василёк", 2), ("ООО Лютик", 50)):
        cid = await client_of(any_crm, max_, name)
        await any_crm.planning.plan(max_, cid, now + timedelta(hours=hours, microseconds=7))
    clock.advance(timedelta(hours=40))  # two overdue, one later today
    until = clock.now() + timedelta(days=1)
    async with any_crm.db.transaction() as s:
        agenda = list(await repo.agenda(s, max_.id, until))
        team_rows = [(p.id, p.client_id, client, p.due_at, p.note, owner) for p, client, owner
                     in await repo.team_overdue(s, head.team_id or 0, head.id, until)]
    start = clock.now()
    async with any_crm.db.read() as r:
        late, late_n, due, due_n = await repo.shown_agenda(r, max_.id, start, until)
        assert late + due == agenda and (late_n, due_n) == (2, 1)
        assert [row[2] for row in late] == ["ООО Василёк", "ООО Ромашка"]
        assert await repo.shown_team_overdue(r, head.team_id or 0, head.id, until) == (
            team_rows, 3)
    assert len(agenda) == 3 and agenda[0][3] == now + timedelta(hours=2, microseconds=7)
    assert agenda[0][3].tzinfo is not None and len(team_rows) == 3
