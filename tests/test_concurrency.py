"""Twice is normal: every write that creates, pays or closes happens once, whether the same
update comes twice at the same moment (a double tap, a resend) or one after the other, and
whether it is the same chat or two people racing for one invoice — on SQLite and PostgreSQL.

Each case runs TRIALS times on fresh rows. Zero duplicates, zero overpayments, zero
tracebacks ("Something went wrong", or an ERROR logged by the bot)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from aiogram.methods import TelegramMethod
from sqlalchemy import func, select

from bot.factory import create_dispatcher, create_storage
from bot.keyboards.client import ClientCD, LogOutcomeCD
from bot.keyboards.deals import DealCD, InvoiceCD
from bot.keyboards.reminders import RemCD
from crm.clients import ClientDraft
from crm.dto import Actor
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, Client, Deal, Payment
from tests.factories import person
from tests.harness import Harness, TgUser, alerts, button, make_bot, texts
from tests.notify_data import add_planned, item_id

TRIALS = 50
REDIS_URL = os.environ.get("TEST_REDIS_URL")
MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
HELEN = TgUser(4004, "Helen", "Head", language_code="en")
WENT_WRONG = "Something went wrong"

Send = Callable[[], Awaitable[list[TelegramMethod[Any]]]]


@dataclass
class Team:
    h: Harness
    crm: CRM
    max_: Actor
    helen: Actor


@pytest.fixture
async def team(any_crm: CRM) -> AsyncIterator[Team]:
    bot, session = make_bot()
    dp = create_dispatcher(any_crm, default_locale="en")
    boss = await person(any_crm, 1, "Anna Admin", Role.ADMIN)
    alpha = await any_crm.people.create_team(boss, "Alpha")
    max_ = await person(any_crm, MAX.id, "Max Sokolov", Role.MANAGER, alpha.id)
    helen = await person(any_crm, HELEN.id, "Helen Head", Role.HEAD, alpha.id)
    yield Team(Harness(dp=dp, bot=bot, session=session), any_crm, max_, helen)
    await bot.session.close()


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)


def assert_clean(t: Team, caplog: pytest.LogCaptureFixture) -> None:
    said = texts(t.h.session.calls) + alerts(t.h.session.calls)
    assert not [s for s in said if WENT_WRONG in s]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def twice(first: Send, second: Send, together: bool) -> None:
    if together:
        await asyncio.gather(first(), second())
    else:
        await first()
        await second()


async def count(crm: CRM, model: type[Any], *where: Any) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def new_client(t: Team, i: int) -> int:
    ref = await t.crm.clients.create(t.max_, ClientDraft(name=f"Client {i:03d}"))
    return ref.id


async def new_invoice(t: Team, i: int, amount: int = 1000) -> int:
    cid = await new_client(t, i)
    deal = await t.crm.deals.create(t.max_, cid, f"Deal {i}", Decimal(amount), None)
    inv = await t.crm.billing.add_invoice(t.max_, deal.id, Decimal(amount),
                                          date(2026, 12, 10))
    return inv.id


async def paid(t: Team, invoice_id: int) -> Decimal:
    async with t.crm.db.transaction() as s:
        total = await s.scalar(select(func.sum(Payment.amount))
                               .where(Payment.invoice_id == invoice_id))
    return Decimal(total or 0)


MODES = [pytest.param(True, id="together"), pytest.param(False, id="one-after-the-other")]


@pytest.mark.parametrize("together", MODES)
async def test_paid_in_full_tapped_twice(team: Team, together: bool,
                                         caplog: pytest.LogCaptureFixture) -> None:
    t = team
    for i in range(TRIALS):
        inv = await new_invoice(t, i)
        calls = await t.h.press(MAX, InvoiceCD(id=inv, action="payfull").pack())
        confirm = button(calls, "Confirm")
        await twice(partial(t.h.press, MAX, confirm),
                    partial(t.h.press, MAX, confirm), together)
        assert await paid(t, inv) == Decimal(1000), i
        assert await count(t.crm, Payment, Payment.invoice_id == inv) == 1, i
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_a_typed_payment_sent_twice(team: Team, together: bool,
                                          caplog: pytest.LogCaptureFixture) -> None:
    t = team
    for i in range(TRIALS):
        inv = await new_invoice(t, i)
        await t.h.press(MAX, InvoiceCD(id=inv, action="pay").pack())
        await twice(lambda: t.h.send(MAX, "600 yesterday"),
                    lambda: t.h.send(MAX, "600 yesterday"), together)
        assert await paid(t, inv) == Decimal(600), i
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_two_people_pay_the_rest_of_one_invoice(
    team: Team, together: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The manager and the head, each in their own chat: no lock of a chat helps here; the
    database must refuse the second payment (BEGIN IMMEDIATE on SQLite, FOR UPDATE on
    PostgreSQL), and the loser is told the invoice is already paid."""
    t = team
    for i in range(TRIALS):
        inv = await new_invoice(t, i)
        mine = button(await t.h.press(MAX, InvoiceCD(id=inv, action="payfull").pack()),
                      "Confirm")
        hers = button(await t.h.press(HELEN, InvoiceCD(id=inv, action="payfull").pack()),
                      "Confirm")
        await twice(partial(t.h.press, MAX, mine), partial(t.h.press, HELEN, hers), together)
        assert await paid(t, inv) == Decimal(1000), i
        assert await count(t.crm, Payment, Payment.invoice_id == inv) == 1, i
    assert any("already paid" in a for a in alerts(t.h.session.calls))
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_the_last_answer_of_new_client_typed_twice(
    team: Team, together: bool, caplog: pytest.LogCaptureFixture
) -> None:
    t = team
    for i in range(TRIALS):
        name = f"Newco {i:03d}"
        calls = await t.h.press(MAX, button(await t.h.send(MAX, f"/new {name}"), "Skip"))
        for _ in range(3):
            calls = await t.h.press(MAX, button(calls, "Skip"))
        await t.h.press(MAX, button(calls, "Skip"))  # what made them contact us
        await twice(lambda: t.h.send(MAX, "50"), lambda: t.h.send(MAX, "50"), together)
        assert await count(t.crm, Client, Client.name == name) == 1, i
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_the_close_date_button_of_a_new_deal_tapped_twice(
    team: Team, together: bool, caplog: pytest.LogCaptureFixture
) -> None:
    t = team
    for i in range(TRIALS):
        cid = await new_client(t, i)
        await t.h.press(MAX, ClientCD(id=cid, action="newdeal").pack())
        await t.h.send(MAX, "Printers")
        skip = button(await t.h.send(MAX, "150 000"), "Skip")
        await twice(partial(t.h.press, MAX, skip),
                    partial(t.h.press, MAX, skip), together)
        assert await count(t.crm, Deal, Deal.client_id == cid) == 1, i
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_a_comment_sent_twice(team: Team, together: bool,
                                    caplog: pytest.LogCaptureFixture) -> None:
    t = team
    call = await item_id(t.crm.db, "activity_type", "call")
    for i in range(TRIALS):
        cid = await new_client(t, i)
        await t.h.press(MAX, LogOutcomeCD(client_id=cid, type_id=call).pack())
        await twice(lambda: t.h.send(MAX, "Talked about the price"),
                    lambda: t.h.send(MAX, "Talked about the price"), together)
        assert await count(t.crm, Activity, Activity.client_id == cid) == 1, i
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_no_answer_under_a_reminder_tapped_twice(
    team: Team, together: bool, caplog: pytest.LogCaptureFixture
) -> None:
    t = team
    for i in range(TRIALS):
        cid = await new_client(t, i)
        pid = await add_planned(t.crm.db, cid, t.max_.id,
                                t.crm.clock.now() - timedelta(minutes=1))
        data = RemCD(planned_id=pid, action="na2h").pack()
        await twice(partial(t.h.press, MAX, data),
                    partial(t.h.press, MAX, data), together)
        assert await count(t.crm, Activity, Activity.client_id == cid) == 1, i
    assert_clean(t, caplog)


@pytest.mark.parametrize("together", MODES)
async def test_won_confirmed_twice(team: Team, together: bool,
                                   caplog: pytest.LogCaptureFixture) -> None:
    t = team
    for i in range(TRIALS):
        cid = await new_client(t, i)
        deal = await t.crm.deals.create(t.max_, cid, f"Deal {i}", Decimal(500), None)
        won = button(await t.h.press(MAX, DealCD(id=deal.id, action="won").pack()), "Confirm")
        await twice(partial(t.h.press, MAX, won),
                    partial(t.h.press, MAX, won), together)
        assert await count(t.crm, Activity, Activity.deal_id == deal.id,
                           Activity.event == "deal_won") == 1, i
    assert_clean(t, caplog)


async def test_a_button_and_cancel_at_the_same_moment(
    team: Team, caplog: pytest.LogCaptureFixture
) -> None:
    """`KeyError: 'nc_name'` once: a form's button and /cancel (or a typed answer) met."""
    t = team
    for i in range(TRIALS):
        await t.h.send(MAX, "/new")
        skip = button(await t.h.send(MAX, f"Racing {i:03d}"), "Skip")
        other = "/cancel" if i % 2 else "+7 916 000 00 00"
        await asyncio.gather(t.h.press(MAX, skip), t.h.send(MAX, other))
        await t.h.send(MAX, "/cancel")
    assert_clean(t, caplog)


async def test_two_workers_share_one_chat_lock(
    any_crm: CRM, caplog: pytest.LogCaptureFixture
) -> None:
    """Two dispatchers (two webhook workers) on Redis: the same typed payment delivered to
    both at once is recorded once."""
    if not REDIS_URL:
        pytest.skip("TEST_REDIS_URL is not set: the two-worker case needs a Redis server")
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    boss = await person(any_crm, 1, "Anna Admin", Role.ADMIN)
    max_ = await person(any_crm, MAX.id, "Max Sokolov", Role.MANAGER)
    workers = []
    for _ in range(2):
        bot, session = make_bot()
        dp = create_dispatcher(any_crm, default_locale="en", storage=create_storage(REDIS_URL))
        workers.append(Harness(dp=dp, bot=bot, session=session))
    one, two = workers
    try:
        for i in range(TRIALS):
            cid = (await any_crm.clients.create(max_, ClientDraft(name=f"W {i}"))).id
            deal = await any_crm.deals.create(max_, cid, "Deal", Decimal(1000), None)
            inv = await any_crm.billing.add_invoice(max_, deal.id, Decimal(1000),
                                                    date(2026, 12, 10))
            await one.press(MAX, InvoiceCD(id=inv.id, action="pay").pack())
            await asyncio.gather(one.send(MAX, "600 yesterday"), two.send(MAX, "600 yesterday"))
            async with any_crm.db.transaction() as s:
                total = await s.scalar(select(func.sum(Payment.amount))
                                       .where(Payment.invoice_id == inv.id))
            assert Decimal(total or 0) == Decimal(600), i
    finally:
        for w in workers:
            await w.dp.storage.close()
            await w.bot.session.close()
    assert boss is not None
    said = [s for w in workers for s in texts(w.session.calls) + alerts(w.session.calls)]
    assert not [s for s in said if WENT_WRONG in s]
