"""Replies survive Telegram's hiccups: a 429 or a 5xx is retried by the bot's session, and
a reply that still fails after a committed write does not tell the user it failed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import AnswerCallbackQuery

from bot.factory import create_bot
from crm.service import CRM
from tests.factories import client, person
from tests.fakebotapi import FakeBotAPI
from tests.harness import Harness, alerts, button, texts
from tests.test_bot_manager_day import MAX, setup_max


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


async def test_a_5xx_or_a_429_is_retried_and_the_message_goes_out(api: FakeBotAPI) -> None:
    bot = create_bot(api.token, api.base_url)
    try:
        api.fail_next("sendMessage", 502, times=2)
        await bot.send_message(77, "after two 502s")
        api.fail_next("sendMessage", 429, retry_after=1)
        await bot.send_message(77, "after a 429")
        assert [m["text"] for m in api.sent_messages(77)] == ["after two 502s", "after a 429"]
        assert len(api.calls("sendMessage")) == 5  # 2 refused + 1, 1 refused + 1
    finally:
        await bot.session.close()


async def test_three_attempts_at_most_and_no_long_waits(api: FakeBotAPI) -> None:
    bot = create_bot(api.token, api.base_url)
    try:
        api.fail_next("sendMessage", 500, times=3)
        with pytest.raises(TelegramServerError):
            await bot.send_message(77, "never")
        assert len(api.calls("sendMessage")) == 3
        # Telegram asks for a minute: a handler does not sit that out.
        api.fail_next("sendMessage", 429, retry_after=60)
        started = time.monotonic()
        with pytest.raises(TelegramRetryAfter):
            await bot.send_message(77, "later")
        assert time.monotonic() - started < 30
        assert len(api.calls("sendMessage")) == 4
        assert api.sent_messages(77) == []
    finally:
        await bot.session.close()


async def test_the_scheduler_bot_does_not_retry(api: FakeBotAPI) -> None:
    bot = create_bot(api.token, api.base_url, retry=False)
    try:
        api.fail_next("sendMessage", 502)
        with pytest.raises(TelegramServerError):
            await bot.send_message(77, "once")
        assert len(api.calls("sendMessage")) == 1
    finally:
        await bot.session.close()


async def test_a_failed_reply_after_a_saved_record_does_not_say_it_failed(
    harness: Harness, crm: CRM
) -> None:
    client_id = await setup_max(crm)
    calls = await harness.send(MAX, "иванов")
    calls = await harness.press(MAX, button(calls, "Log contact"))
    calls = await harness.press(MAX, button(calls, "Call"))
    calls = await harness.press(MAX, button(calls, "Reached"))
    harness.session.fail_next(times=1)  # the reply after the write: Telegram says 502
    calls = await harness.send(MAX, "Discussed the price list")
    assert len(harness.session.failed) == 1
    assert not any("went wrong" in t for t in texts(calls) + alerts(calls))
    actor = await crm.people.identify(MAX.id)
    assert actor is not None
    page = await crm.history.page(actor, client_id)
    assert page.items[0].text == "Discussed the price list"


async def test_a_failed_reply_to_a_tap_stops_the_spinner_quietly(
    harness: Harness, crm: CRM
) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    await client(crm, actor, "Acme", "89161234567")
    calls = await harness.send(MAX, "Acme")
    harness.session.fail_next(times=1)
    calls = await harness.press(MAX, button(calls, "Log contact"))
    assert not any("went wrong" in t for t in texts(calls) + alerts(calls))
    assert len(harness.session.failed) == 1
    assert [c for c in calls if isinstance(c, AnswerCallbackQuery)]  # not left spinning
