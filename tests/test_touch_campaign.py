"""A campaign touch counts towards its own campaign (migration 0020), on SQLite and
PostgreSQL: a «Black Friday» broadcast, sent through the real dispatcher and the sender to
clients whose card says «Exhibition», counts one touch per client towards Black Friday in
the marketing report — everyone's (read from the roll-up) and a head's (from the raw rows)
alike — while the clients, their deals and a touch a manager logs by hand stay with
Exhibition; the other groupings count the broadcast's touches towards the clients' values."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.factory import create_dispatcher
from crm.reports.marketing import Dimension, MarketingReport
from crm.reports.period import PeriodKind, period_of
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, ClassifierItem, Client
from tests.factories import admin, client, person
from tests.harness import Harness, button, last_text, make_bot
from tests.test_bot_mailings import HELEN, JOHN, MAX, MIA, OLGA, deliver, link, scalar


@pytest.fixture
async def h(any_crm: CRM) -> AsyncIterator[Harness]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="ru")
    yield Harness(dp=dp, bot=bot, session=session)
    await bot.session.close()


async def campaign(crm: CRM, code: str, name: str, order: int) -> int:
    async with crm.db.transaction() as s:
        item = ClassifierItem(kind="campaign", code=code, name_ru=name, name_en=name,
                              sort_order=order, is_active=True)
        s.add(item)
        await s.flush()
        return item.id


def by_campaign(r: MarketingReport) -> dict[str, tuple[int, int, int, int]]:
    """Per campaign code: (new clients, deals opened, deals won, touches) this period."""
    return {x.item.code if x.item else "-": (x.current.new_clients, x.current.deals_opened,
                                             x.current.won_count, x.current.touches)
            for x in r.by[Dimension.CAMPAIGN]}


async def test_a_black_friday_mailing_counts_towards_black_friday(
    h: Harness, any_crm: CRM
) -> None:
    crm = any_crm
    boss = await admin(crm)
    alpha = await crm.people.create_team(boss, "Alpha")
    helen = await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=alpha.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", Role.MANAGER, team_id=alpha.id)
    mia = await person(crm, MIA.id, "Mia Marketer", Role.MARKETER)
    expo = await campaign(crm, "exhibition", "Exhibition", 10)
    friday = await campaign(crm, "black_friday", "Black Friday", 11)
    horns = (await client(crm, max_, "Horns", campaign_id=expo)).id
    hooves = (await client(crm, max_, "Hooves", campaign_id=expo)).id
    await link(crm, horns, OLGA, "Olga & Co")
    await link(crm, hooves, JOHN, "John Smith")
    await crm.deals.create(max_, horns, "Pumps", Decimal(1000), None)

    # The wizard with «Black Friday» as the campaign, sent now, delivered.
    calls = await h.send(MIA, "/mailings")
    calls = await h.press(MIA, button(calls, "New mailing"))
    calls = await h.send(MIA, "Black Friday deals")
    assert "Which campaign" in last_text(calls)
    calls = await h.press(MIA, button(calls, "Black Friday"))
    calls = await h.press(MIA, button(calls, "Every client I see"))
    calls = await h.press(MIA, button(calls, "Next"))
    calls = await h.send(MIA, "Hello, {name}! 30% off today")
    assert "Telegram: 2 recipients" in last_text(calls)
    await h.press(MIA, button(calls, "Send now"), message_id=77)
    await deliver(crm, h)

    # Each delivery is a touch with the mailing's campaign of its own.
    async with crm.db.transaction() as s:
        touches = list(await s.execute(select(Activity.client_id, Activity.campaign_id)
                                       .where(Activity.text == "📣 Black Friday deals")))
    assert sorted((c, k) for c, k in touches) == [(horns, friday), (hooves, friday)]

    # Max logs a touch by hand on Horns: it is for the client's campaign, Exhibition.
    touch_type = await crm.classifiers.by_code("activity_type", "campaign_touch")
    assert touch_type is not None
    logged = await crm.history.log(max_, horns, touch_type.id, None, "Invited to the stand")
    assert await scalar(crm, select(Activity.campaign_id)
                        .where(Activity.id == logged.activity_id)) == expo

    month = period_of(PeriodKind.MONTH, crm.clock.now().date())
    everyone = await crm.reports.marketing(mia, month)
    team = await crm.reports.marketing(helen, month)
    for r in (everyone, team):
        assert by_campaign(r) == {"exhibition": (2, 1, 0, 1), "black_friday": (0, 0, 0, 2)}
        assert r.total.current.touches == 3
        # Other groupings: the clients' values (no source on either card).
        assert [(x.item, x.current.touches) for x in r.by[Dimension.SOURCE]] == [(None, 3)]
    assert everyone.by == team.by

    # The card's campaign changes later: the broadcast's touches stay with Black Friday,
    # the one logged by hand with Exhibition; the clients go with their card.
    webinar = await crm.classifiers.by_code("campaign", "webinar")
    assert webinar is not None
    async with crm.db.transaction() as s:
        for cid in (horns, hooves):
            row = await s.get(Client, cid)
            assert row is not None
            row.campaign_id = webinar.id
    everyone = await crm.reports.marketing(mia, month)
    team = await crm.reports.marketing(helen, month)
    for r in (everyone, team):
        assert by_campaign(r) == {"webinar": (2, 1, 0, 0), "black_friday": (0, 0, 0, 2),
                                  "exhibition": (0, 0, 0, 1)}
