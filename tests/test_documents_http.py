"""Standard documents over HTTP against the fake Bot API server, the dispatcher polling in
this process: the marketer's file is downloaded by the bot (getFile and the file server),
kept, and later sent to the client's linked Telegram by its file id, which the server
accepts (it refuses file ids it does not know)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress

import pytest
from sqlalchemy import select

from bot.factory import create_bot, create_dispatcher
from crm.roles import Role
from crm.service import CRM
from storage.models import DocumentVersion
from tests.e2e import press, reply_with
from tests.factories import admin, client, person
from tests.fakebotapi import FakeBotAPI

PDF = b"%PDF-1.4 price list " + bytes(range(256)) * 16


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


async def test_a_document_uploaded_once_goes_to_the_client_by_its_file_id(
    api: FakeBotAPI, crm: CRM
) -> None:
    await admin(crm)
    await person(crm, 3301, "Mark Eting", Role.MARKETER)
    max_ = await person(crm, 3302, "Max Sokolov", Role.MANAGER)
    ref = await client(crm, max_, "Horns & Hooves", contact_name="Olga Ivanova")
    card = await crm.clients.card(max_, ref.id)
    link = await crm.channel.create_link(max_, ref.id, card.contacts[0].id)
    await crm.channel.open_link(5301, "Olga", None, "ru", link.token, staff=False)

    bot = create_bot(api.token, api.base_url)
    dp = create_dispatcher(crm, default_locale="ru")
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        await api.wait_for(lambda: api.polling > 0, timeout=30, what="polling")
        mark = api.user(3301, "Mark", language_code="en")
        mark.send_text("/docs")
        await reply_with(mark, "No documents yet")
        press(mark, "Add a document")
        await reply_with(mark, "Send the file")
        mark.send_document(PDF, "Прайс-лист 2026.pdf")
        await reply_with(mark, "What is the document called?")
        mark.send_text("Price list 2026")
        await reply_with(mark, "Added")
        async with crm.db.transaction() as s:
            version = await s.scalar(select(DocumentVersion))
        assert version is not None and version.content == PDF  # downloaded over HTTP
        assert version.tg_file_id in api.files

        manager = api.user(3302, "Max", language_code="en")
        manager.send_text("Horns")
        await reply_with(manager, "Horns & Hooves")
        press(manager, "Send a document")
        await reply_with(manager, "Which one?")
        press(manager, "Price list 2026")
        await reply_with(manager, "Add a comment")
        press(manager, "Send without a comment")
        await reply_with(manager, "Sent: «Price list 2026» → Olga Ivanova")
        sent = [r for r in api.calls("sendDocument") if r.ok]
        assert len(sent) == 1 and str(sent[0].params["document"]) == version.tg_file_id
        olga = api.chat(5301).messages
        assert [m["document"]["file_name"] for m in olga if "document" in m] == [
            "Прайс-лист 2026.pdf"]
    finally:
        await dp.stop_polling()
        with suppress(asyncio.CancelledError):
            await polling
        await bot.session.close()
