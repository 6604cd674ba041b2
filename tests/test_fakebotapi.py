"""The fake Bot API server, driven by a real aiogram Bot / Dispatcher over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from tests.fakebotapi import FakeBotAPI, inline_buttons, reply_buttons

CHAT = 42


def kb(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=t, callback_data=d)] for t, d in buttons]
    return InlineKeyboardMarkup(inline_keyboard=rows)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(api.token, session=session)
    yield bot
    await bot.session.close()


async def test_get_me(bot: Bot, api: FakeBotAPI) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123, True, "salesbot_test_bot")
    assert api.requests[-1].method == "getMe" and api.requests[-1].ok


async def test_wrong_token_and_unknown_method(api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{api.base_url}/bot999:XYZ/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {
                "ok": False, "error_code": 401, "description": "Unauthorized"
            }
        async with http.post(f"{api.base_url}/bot{api.token}/sendTelepathy") as resp:
            assert resp.status == 404
            assert (await resp.json())["description"] == "Not Found: method not found"
        async with http.get(f"{api.base_url}/bot{api.token}/GETME") as resp:
            assert (await resp.json())["result"]["username"] == "salesbot_test_bot"


async def test_send_message_appears_in_chat_state(bot: Bot, api: FakeBotAPI) -> None:
    api.user(CHAT, first_name="Ivan")
    sent = await bot.send_message(CHAT, "<b>Hello</b> &amp; welcome", parse_mode="HTML",
                                  reply_markup=kb(("Open", "deal:1"), ("Close", "deal:close")))
    assert sent.message_id == 1 and sent.text == "Hello & welcome"
    assert sent.chat.first_name == "Ivan" and sent.from_user and sent.from_user.is_bot
    second = await bot.send_message(CHAT, "Second")
    assert second.message_id == 2
    chat = api.chat(CHAT)
    assert chat.texts == ["Hello & welcome", "Second"]
    assert inline_buttons(chat.messages[0]) == [("Open", "deal:1"), ("Close", "deal:close")]
    assert api.last_message(CHAT) == chat.messages[1]
    req = api.calls("sendMessage")[0]
    assert req.params["chat_id"] == CHAT
    assert req.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "deal:1"
    assert [m["text"] for m in api.sent_messages(CHAT)] == ["Hello & welcome", "Second"]


async def test_reply_keyboard_is_recorded_but_not_returned(bot: Bot, api: FakeBotAPI) -> None:
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Share", request_contact=True)],
                                           [KeyboardButton(text="Cancel")]])
    sent = await bot.send_message(CHAT, "Phone?", reply_markup=markup)
    assert sent.reply_markup is None  # Telegram only echoes inline keyboards
    assert reply_buttons(api.last_message(CHAT)) == ["Share", "Cancel"]


async def test_edit_message_text_applies(bot: Bot, api: FakeBotAPI) -> None:
    sent = await bot.send_message(CHAT, "Draft", reply_markup=kb(("Go", "go")))
    edited = await bot.edit_message_text("Final", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "Final" and edited.edit_date
    msg = api.last_message(CHAT)
    assert msg is not None and msg["text"] == "Final" and inline_buttons(msg) == []
    assert [e.kind for e in api.chat(CHAT).history] == ["sent", "edited"]
    assert api.chat(CHAT).history[0].message["text"] == "Draft"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Final", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
    assert await bot.delete_message(CHAT, sent.message_id)
    assert api.chat(CHAT).messages == [] and api.chat(CHAT).history[-1].kind == "deleted"


async def test_validation_errors(bot: Bot, api: FakeBotAPI) -> None:
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(CHAT, "   ")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "hi", reply_markup=kb(("Long", "x" * 65)))
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, "<b>unclosed", parse_mode="HTML")
    doc = BufferedInputFile(b"data", filename="a.txt")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(CHAT, doc, caption="c" * 1025)
    await bot.send_message(CHAT, "я" * 4096)  # the limit counts characters, not bytes
    assert api.chat(CHAT).texts == ["я" * 4096]
    assert [r.status for r in api.requests] == [400, 400, 400, 400, 400, 200]


async def test_injected_429_raises_retry_after(bot: Bot, api: FakeBotAPI) -> None:
    api.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as exc_info:
        await bot.send_message(CHAT, "hi")
    assert exc_info.value.retry_after == 7
    assert api.chat(CHAT).messages == []  # nothing delivered
    await bot.send_message(CHAT, "hi")  # the next call goes through
    assert api.chat(CHAT).texts == ["hi"]
    assert [(r.status, r.injected) for r in api.calls("sendMessage")] == [
        (429, True), (200, False)
    ]
    api.fail_next("*", status=502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_chat_action(CHAT, "typing")
    assert await bot.send_chat_action(CHAT, "typing")
    assert api.chat(CHAT).actions == ["typing"]


async def test_blocked_chat_raises_forbidden(bot: Bot, api: FakeBotAPI) -> None:
    api.block_chat(CHAT)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT + 1, "other chats still work")
    api.unblock_chat(CHAT)
    await bot.send_message(CHAT, "hi again")
    assert api.chat(CHAT).texts == ["hi again"]
    assert api.calls("sendMessage")[0].status == 403


async def test_long_polling_returns_promptly(bot: Bot, api: FakeBotAPI) -> None:
    user = api.user(CHAT)
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await api.wait_for(lambda: api.polling, timeout=2)  # getUpdates is now waiting
    assert not poll.done()
    user.send_text("hello")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert loop.time() - started < 2
    assert len(updates) == 1 and updates[0].message and updates[0].message.text == "hello"
    assert updates[0].message.from_user and updates[0].message.from_user.id == CHAT


async def test_get_updates_timeout_and_offset(bot: Bot, api: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as http:  # aiogram only sends whole seconds
        started = asyncio.get_running_loop().time()
        async with http.post(f"{api.base_url}/bot{api.token}/getUpdates",
                             data={"timeout": "0.2"}) as resp:
            assert await resp.json() == {"ok": True, "result": []}
        assert asyncio.get_running_loop().time() - started >= 0.2
    user = api.user(CHAT)
    first = user.send_command("start", "ref_7")
    user.send_text("second")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [1, 2]
    assert first["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert [u.update_id for u in await bot.get_updates()] == [1, 2]  # not confirmed yet
    assert [u.update_id for u in await bot.get_updates(offset=2)] == [2]
    assert [u.update_id for u in await bot.get_updates(offset=3)] == []
    assert api.updates == []


async def test_dispatcher_echo_and_button(bot: Bot, api: FakeBotAPI) -> None:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}", reply_markup=kb(("Ping", "ping")))

    @dp.callback_query(F.data == "ping")
    async def ping(query: CallbackQuery) -> None:
        await query.answer("pong!", show_alert=True)
        assert isinstance(query.message, Message)
        await query.message.edit_text("pinged")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    try:
        user = api.user(CHAT, first_name="Ivan")
        user.send_text("hello")
        reply = await user.wait_reply()
        assert reply["text"] == "echo: hello"
        assert inline_buttons(reply) == [("Ping", "ping")]
        press = user.press_button("Ping")
        answer = await press.wait_answer()
        assert answer["text"] == "pong!" and answer["show_alert"] is True
        edited = await user.wait_reply()
        assert edited["text"] == "pinged" and edited["message_id"] == reply["message_id"]
        assert api.chat(CHAT).texts == ["pinged"]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, timeout=5)
    assert api.calls("getMe") and api.calls("getUpdates")


async def test_send_document_upload_is_stored(bot: Bot, api: FakeBotAPI) -> None:
    payload = b"%PDF-1.4 fake invoice"
    msg = await bot.send_document(CHAT, BufferedInputFile(payload, filename="invoice.pdf"),
                                  caption="Invoice #7")
    assert msg.document and msg.document.file_name == "invoice.pdf"
    assert msg.caption == "Invoice #7"
    stored = api.files[msg.document.file_id]
    assert stored.data == payload and stored.mime_type == "application/pdf"
    upload = next(iter(api.calls("sendDocument")[0].files.values()))
    assert (upload.filename, upload.data) == ("invoice.pdf", payload)
    file = await bot.get_file(msg.document.file_id)
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == payload
    again = await bot.send_document(CHAT + 1, msg.document.file_id)  # re-send by file_id
    assert again.document and again.document.file_id == msg.document.file_id
    photo = await bot.send_photo(CHAT, BufferedInputFile(b"\xff\xd8jpeg", filename="p.jpg"))
    assert photo.photo and api.files[photo.photo[-1].file_id].data == b"\xff\xd8jpeg"


async def test_user_side_updates(bot: Bot, api: FakeBotAPI) -> None:
    user = api.user(CHAT, username="ivan")
    user.send_contact("+79001234567", "Petr", user_id=77)
    user.send_location(55.75, 37.61)
    voice = user.send_voice(duration=5, data=b"OggS voice")
    user.forward_text("call me", "Anna")
    user.forward_text("hi", "Boris", from_user_id=555)
    query = user.inline_query("acme")
    updates = await bot.get_updates()
    msgs = [u.message for u in updates[:5]]
    assert msgs[0] and msgs[0].contact and msgs[0].contact.user_id == 77
    assert msgs[1] and msgs[1].location and msgs[1].location.latitude == 55.75
    assert msgs[2] and msgs[2].voice and msgs[2].voice.duration == 5
    assert msgs[3] and msgs[3].forward_origin and msgs[3].forward_origin.type == "hidden_user"
    assert msgs[4] and msgs[4].forward_origin and msgs[4].forward_origin.type == "user"
    assert updates[5].inline_query and updates[5].inline_query.query == "acme"
    file = await bot.get_file(voice["voice"]["file_id"])
    assert file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"OggS voice"
    assert await bot.answer_inline_query(query.id, results=[], cache_time=1)
    assert query.answer is not None and query.answer["cache_time"] == 1
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_inline_query(query.id, results=[])


async def test_commands_webhook_and_misc(bot: Bot, api: FakeBotAPI) -> None:
    cmds = [BotCommand(command="start", description="Start"),
            BotCommand(command="deals", description="Deals")]
    assert await bot.set_my_commands(cmds, language_code="ru")
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == [
        "start", "deals"
    ]
    assert await bot.get_my_commands() == []
    assert await bot.delete_my_commands(language_code="ru")
    assert await bot.get_my_commands(language_code="ru") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Cmd", description="x")])
    assert await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Exception, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.set_chat_menu_button(chat_id=CHAT)
    assert await bot.log_out() and await bot.close()


async def test_make_bot_helper(api: FakeBotAPI) -> None:
    async with api.make_bot() as bot:
        assert (await bot.get_me()).username == "salesbot_test_bot"


async def test_delay_and_wait_for(bot: Bot, api: FakeBotAPI) -> None:
    api.delay("sendMessage", 0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = asyncio.create_task(bot.send_message(CHAT, "slow"))
    msg = await api.wait_for(lambda: api.last_message(CHAT), timeout=2)
    assert msg["text"] == "slow" and loop.time() - started >= 0.2
    await task
    with pytest.raises(TimeoutError, match="a reply in chat 7"):
        await api.user(7).wait_reply(timeout=0.05)
