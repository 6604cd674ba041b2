"""When a digest (or a reminder) may say "the bot was unavailable", when a catch-up goes
out, and what an empty week looks like."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot

from bot.charts import compact_money, has_chart
from bot.factory import create_bot
from crm.clock import FrozenClock
from crm.service import CRM
from tests.fakebotapi import FakeBotAPI
from tests.notify_data import add_client, add_planned, add_user, outbox
from tests.test_sender_faults import make_jobs

MSK = ZoneInfo("Europe/Moscow")


def msk(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 11, d, h, mi, tzinfo=MSK).astimezone(UTC)  # 25th is a Wednesday


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def tg_bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    bot = create_bot(api.token, api.base_url, retry=False)
    yield bot
    await bot.session.close()


async def scan_at(crm: CRM, clock: FrozenClock, at: datetime) -> None:
    clock.set(at)
    await crm.notifications.enqueue_due()


async def test_first_digest_of_a_new_user_does_not_claim_the_bot_was_down(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    jobs, _, _ = make_jobs(crm, tg_bot)
    for hour in (8, 9, 10):  # the scheduler runs all morning, a scan a minute
        for minute in range(0, 60, 1):
            await scan_at(crm, clock, msk(25, hour, minute))
    await add_user(crm.db, 4101, "Nina")  # registers at 11:00, after the 09:00 digest
    clock.set(msk(25, 11))
    await jobs.tick()
    [row] = await outbox(crm.db, "digest")
    assert row.payload["late"] is False and row.status == "sent"
    [text] = [m["text"] for m in api.sent_messages(4101)]
    assert "unavailable" not in text and "Late" not in text and text.startswith("📊 Your digest")


async def test_a_digest_missed_while_the_scheduler_was_down_says_so(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    await add_user(crm.db, 4102, "Oleg")
    await scan_at(crm, clock, msk(25, 8))  # then nothing runs until noon
    jobs, _, _ = make_jobs(crm, tg_bot)
    clock.set(msk(25, 12))
    await jobs.tick()
    [row] = await outbox(crm.db, "digest")
    assert row.payload["late"] is True and row.due_at == msk(25, 12)
    [text] = [m["text"] for m in api.sent_messages(4102)]
    assert text.startswith("⏰")


async def test_a_catch_up_after_hours_waits_for_working_time(
    crm: CRM, clock: FrozenClock
) -> None:
    uid = await add_user(crm.db, 4103, "Pavel")
    cid = await add_client(crm.db, uid, "Acme")
    pid = await add_planned(crm.db, cid, uid, msk(25, 15))
    await scan_at(crm, clock, msk(25, 8))
    await scan_at(crm, clock, msk(25, 20))  # down 08:00–20:00; Pavel works 09–18
    # No digest at 20:00: Thursday's covers the same week.
    assert await outbox(crm.db, "digest") == []
    [reminder] = await outbox(crm.db, "reminder")
    assert reminder.payload["planned_id"] == pid and reminder.payload["late"] is True
    assert reminder.due_at == msk(26, 9)  # next morning, still saying it was due at 15:00
    await scan_at(crm, clock, msk(26, 9))
    [digest] = await outbox(crm.db, "digest")
    assert digest.idempotency_key.endswith("2026-11-26") and digest.payload["late"] is False


async def test_an_empty_week_is_one_short_text_and_no_chart(
    crm: CRM, clock: FrozenClock, api: FakeBotAPI, tg_bot: Bot
) -> None:
    await add_user(crm.db, 4104, "Rita", locale="ru")
    clock.set(msk(25, 9, 1))
    jobs, _, _ = make_jobs(crm, tg_bot)
    await jobs.tick()
    sent = api.sent_messages(4104)
    assert len(sent) == 1 and "photo" not in sent[0]
    assert "Пока пусто" in sent[0]["text"]
    digest = await crm.digest.for_user((await outbox(crm.db, "digest"))[0].user_id or 0)
    assert digest is not None and digest.is_empty and not has_chart(digest)


def test_money_on_chart_axes_is_compact_and_localised() -> None:
    assert compact_money(1_000_000, "RUB", "ru") == "1\xa0млн\xa0₽"
    assert compact_money(1_500_000, "RUB", "en") == "1.5M\xa0₽"
    assert compact_money(250_000, "RUB", "ru") == "250\xa0тыс.\xa0₽"
    assert compact_money(0, "RUB", "en") == "0\xa0₽"
    assert compact_money(2_000_000, "EUR", "en") == "2M\xa0€"


async def test_a_reminder_planned_for_the_past_is_not_called_late(
    crm: CRM, clock: FrozenClock
) -> None:
    uid = await add_user(crm.db, 4105, "Sasha", role="service")
    for minute in range(0, 60, 2):  # the scheduler runs through the hour
        await scan_at(crm, clock, msk(25, 11, minute))
    cid = await add_client(crm.db, uid, "Acme")
    await add_planned(crm.db, cid, uid, msk(25, 11, 30))  # entered afterwards
    await scan_at(crm, clock, msk(25, 12))
    [row] = await outbox(crm.db, "reminder")
    assert row.payload["late"] is False
    assert timedelta(0) <= row.due_at - msk(25, 11, 30) <= timedelta(minutes=31)
