"""The scheduler's tick and sender against the fake Bot API server, with faults injected:
429, 5xx, 403, slow answers and timeouts. Nothing is lost, nothing goes out twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiohttp import web

from bot.factory import create_bot
from bot.i18n import create_i18n
from bot.keyboards.client import ClientCD, LogTypeCD, PlanCD
from bot.keyboards.deals import InvoiceCD
from bot.keyboards.reminders import RemCD
from crm.clock import FrozenClock
from crm.service import CRM
from scheduler.jobs import Jobs
from scheduler.limiter import RateLimiter
from scheduler.sender import Sender, SenderConfig
from storage.models import User
from tests.fakebotapi import FakeBotAPI, inline_buttons
from tests.notify_data import (
    add_client,
    add_deal,
    add_invoice,
    add_planned,
    add_team,
    add_user,
    item_id,
    outbox,
    update_planned,
)

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday, 12:00 in Moscow


class CancellingFakeBotAPI(FakeBotAPI):
    """A server that drops a request whose client hung up (a timeout that never reached
    Telegram). The plain fake, like Telegram, may still deliver it: see test below."""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0,
                                     handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with CancellingFakeBotAPI() as server:
        yield server


@pytest.fixture
async def tg_bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = create_bot(api.token, api.base_url, retry=False)
    yield bot
    await bot.session.close()


def make_jobs(crm: CRM, bot: Bot, timeout: int = 10) -> tuple[Jobs, RateLimiter, FakeTime]:
    t = FakeTime()
    limiter = RateLimiter(25, 1, clock=t, sleep=t.sleep)
    sender = Sender(crm, bot, create_i18n("ru"), limiter, SenderConfig(request_timeout=timeout))
    return Jobs(crm, sender), limiter, t


async def reminder_for(crm: CRM, tg_id: int, name: str, due: datetime = NOW,
                       **user: Any) -> tuple[int, int, int]:
    uid = await add_user(crm.db, tg_id, f"User {tg_id}", role="service", **user)
    cid = await add_client(crm.db, uid, name)
    pid = await add_planned(crm.db, cid, uid, due, note="Discuss the price")
    return uid, cid, pid


def texts_in(api: FakeBotAPI, chat: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in api.sent_messages(chat)]


async def test_reminder_is_delivered_once_with_its_buttons(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    uid, cid, pid = await reminder_for(crm, 3001, "Acme Ltd")
    await add_deal(crm.db, cid, uid, "Pumps for the plant", 1000)
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    await jobs.tick()
    clock.advance(timedelta(minutes=1))
    await jobs.tick()
    [msg] = api.sent_messages(3001)
    text = msg["text"]
    assert "Acme Ltd" in text and "Pumps for the plant" in text and "Discuss the price" in text
    assert "+7 900 123-45-67" in text and "No history yet." in text and "Late" not in text
    call = await item_id(crm.db, "activity_type", "call")
    datas = [d for _, d in inline_buttons(msg)]
    assert LogTypeCD(client_id=cid, type_id=call, planned_id=pid).pack() in datas
    assert ClientCD(id=cid, action="open").pack() in datas
    for action in ("na2h", "natom", "s15m", "s1h", "stom", "done"):
        assert RemCD(planned_id=pid, action=action).pack() in datas
    [row] = await outbox(crm.db, "reminder")
    assert row.status == "sent" and row.tg_message_id == msg["message_id"]
    assert row.sent_at == clock.now() - timedelta(minutes=1) and row.payload["late"] is False


async def test_a_reminder_that_fires_late_says_so(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    await reminder_for(crm, 3002, "Late Ltd", due=NOW - timedelta(hours=2))
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    [text] = texts_in(api, 3002)
    assert text.startswith("⏰ Late: this was due at 25 Nov 2026, 10:00")
    [row] = await outbox(crm.db, "reminder")
    assert row.payload["late"] is True


async def test_429_pauses_all_sending_then_everything_goes_once(
    crm: CRM, api: FakeBotAPI, tg_bot: Bot
) -> None:
    chats = [3101, 3102, 3103, 3104]
    for chat in chats:
        await reminder_for(crm, chat, f"Client {chat}")
    api.fail_next("sendMessage", status=429, retry_after=5)
    jobs, limiter, t = make_jobs(crm, tg_bot)
    await jobs.tick()
    assert limiter.pauses == 1 and t.now >= 5.0
    for chat in chats:
        assert len(api.sent_messages(chat)) == 1
    assert [r.status for r in await outbox(crm.db, "reminder")] == ["sent"] * 4
    assert [r.status for r in api.calls("sendMessage")].count(429) == 1


async def test_5xx_goes_back_to_the_queue_and_is_retried(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    await reminder_for(crm, 3201, "Alpha")
    await reminder_for(crm, 3202, "Beta")
    api.fail_next("sendMessage", status=502, times=2)
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    rows = await outbox(crm.db, "reminder")
    assert [r.status for r in rows] == ["pending", "pending"]
    assert all("Bad Gateway" in (r.last_error or "") for r in rows)
    assert api.sent_messages() == []
    await jobs.tick()  # not yet: backing off
    assert api.sent_messages() == []
    clock.advance(timedelta(seconds=20))
    await jobs.tick()
    assert [len(api.sent_messages(c)) for c in (3201, 3202)] == [1, 1]
    assert [(r.status, r.attempts) for r in await outbox(crm.db, "reminder")] == [
        ("sent", 2), ("sent", 2)]


async def test_403_marks_the_user_unreachable(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    blocked, bcid, _ = await reminder_for(crm, 3301, "Alpha")
    await reminder_for(crm, 3302, "Beta")
    api.block_chat(3301)
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    rows = {r.chat_id: r for r in await outbox(crm.db, "reminder")}
    assert rows[3301].status == "failed" and "blocked" in (rows[3301].last_error or "")
    assert rows[3302].status == "sent"
    async with crm.db.transaction() as s:
        user = await s.get(User, blocked)
        assert user is not None and user.unreachable
    # Nothing more is queued for them.
    await add_planned(crm.db, bcid, blocked, NOW + timedelta(minutes=5))
    clock.advance(timedelta(minutes=10))
    await jobs.tick()
    assert len(await outbox(crm.db, "reminder")) == 2
    assert [r.status for r in api.calls("sendMessage")].count(403) == 1


async def test_slow_answers_lose_and_duplicate_nothing(
    crm: CRM, api: FakeBotAPI, tg_bot: Bot
) -> None:
    chats = list(range(3401, 3421))
    for chat in chats:
        await reminder_for(crm, chat, f"Client {chat}")
    api.delay("sendMessage", 0.2)
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    assert [len(api.sent_messages(c)) for c in chats] == [1] * len(chats)
    assert {r.status for r in await outbox(crm.db, "reminder")} == {"sent"}


async def test_timeout_is_retried_without_a_duplicate(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    await reminder_for(crm, 3501, "Slowpoke")
    api.delay("sendMessage", 3)
    jobs, _, _ = make_jobs(crm, tg_bot, timeout=1)
    await jobs.tick()
    [row] = await outbox(crm.db, "reminder")
    assert row.status == "pending" and "timeout" in (row.last_error or "").lower()
    api.delay("sendMessage", 0)
    clock.advance(timedelta(seconds=20))
    await jobs.tick()
    await api.wait_for(lambda: api.sent_messages(3501), timeout=5)
    assert len(api.sent_messages(3501)) == 1
    [row] = await outbox(crm.db, "reminder")
    assert row.status == "sent" and row.attempts == 2


async def test_contact_done_after_claim_is_not_sent(
    crm: CRM, api: FakeBotAPI, tg_bot: Bot
) -> None:
    _, _, pid = await reminder_for(crm, 3601, "Alpha")
    jobs, _, _ = make_jobs(crm, tg_bot)
    await crm.notifications.enqueue_due()
    items = await crm.outbox.claim()
    await update_planned(crm.db, pid, status="done")
    stats = await jobs.sender.deliver(items)
    assert stats.cancelled == 1 and api.sent_messages() == []
    [row] = await outbox(crm.db, "reminder")
    assert (row.status, row.last_error) == ("cancelled", "planned contact closed")


async def test_overdue_alert_and_escalation_messages(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    team = await add_team(crm.db, "North")
    await add_user(crm.db, 3701, "Helen Head", role="head", team_id=team, locale="en")
    mgr = await add_user(crm.db, 3702, "Ivan Petrov", team_id=team)
    cid = await add_client(crm.db, mgr, "Debtor LLC")
    deal = await add_deal(crm.db, cid, mgr, "Pumps", 100_000)
    inv = await add_invoice(crm.db, deal, 100_000, date(2026, 11, 15), number="INV-7")
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    [mine] = [m for m in api.sent_messages(3702) if "Payment overdue" in m.get("text", "")]
    assert "Payment overdue by 10 days" in mine["text"] and "Debtor LLC" in mine["text"]
    assert "INV-7" in mine["text"] and "100,000.00" in mine["text"]
    datas = [d for _, d in inline_buttons(mine)]
    assert datas == [InvoiceCD(id=inv, action="pay").pack(),
                     PlanCD(client_id=cid, when="tom10").pack(),
                     ClientCD(id=cid, action="open").pack()]
    [head] = [m for m in api.sent_messages(3701) if "Payment overdue" in m.get("text", "")]
    assert "Manager: Ivan Petrov" in head["text"]


async def test_digest_text_then_chart_resumes_after_a_failure(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    uid = await add_user(crm.db, 3801, "Ivan Petrov")
    await add_deal(crm.db, await add_client(crm.db, uid, "Acme"), uid, "Pumps", 1000)
    clock.set(datetime(2026, 11, 25, 9, 1, tzinfo=MSK).astimezone(UTC))
    api.fail_next("sendPhoto", status=500)
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    [text] = [m.get("text", "") for m in api.sent_messages(3801)]
    assert text.startswith("📊 Your digest, 18 Nov 2026 – 24 Nov 2026")
    [row] = await outbox(crm.db, "digest")
    assert row.status == "pending" and row.payload["sent_parts"] == 1
    clock.advance(timedelta(seconds=20))
    await jobs.tick()
    sent = api.sent_messages(3801)
    assert len(sent) == 2 and "photo" in sent[1] and "activity" in sent[1]["caption"]
    [row] = await outbox(crm.db, "digest")
    assert row.status == "sent" and row.tg_message_id == sent[0]["message_id"]


async def test_a_long_queue_in_one_chat_holds_up_no_one_else(
    crm: CRM, api: FakeBotAPI, tg_bot: Bot
) -> None:
    uid = await add_user(crm.db, 3901, "Busy", role="service")
    planned = []
    for i in range(4):
        cid = await add_client(crm.db, uid, f"Busy client {i}")
        planned.append(await add_planned(crm.db, cid, uid, NOW - timedelta(minutes=4 - i)))
    limiter = RateLimiter(25, 1)  # real time: this chat gets one message a second
    sender = Sender(crm, tg_bot, create_i18n("ru"), limiter, SenderConfig())
    jobs = Jobs(crm, sender, poll=0.1)
    tick = asyncio.create_task(jobs.tick())
    try:
        await api.wait_for(lambda: api.sent_messages(3901), timeout=10)
        # Meanwhile someone else's reminder falls due: it does not wait for the busy chat.
        await reminder_for(crm, 3902, "Other")
        await api.wait_for(lambda: api.sent_messages(3902), timeout=10)
        assert len(api.sent_messages(3901)) < 4
        await asyncio.wait_for(tick, timeout=15)
    finally:
        tick.cancel()
    order = [RemCD.unpack(d).planned_id for m in api.sent_messages(3901)
             for _, d in inline_buttons(m) if d and d.endswith(":done")]
    assert order == planned
