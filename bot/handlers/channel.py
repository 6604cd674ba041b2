"""The client's own channel in the bot.

Staff: «🔗 Link for the client» on the card (pick the contact person → a personal deep link
and its QR code, «Revoke»), and «↩️ Reply» under a client's message pushed to them (a form).
Clients who linked their Telegram: their messages go into the history (crm/channel.py),
`/stop` unsubscribes; they never see a CRM screen.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command, Filter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineQuery,
    Message,
    TelegramObject,
)
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.filters import FormText
from bot.keyboards.channel import (
    ChanAction,
    ChanCD,
    LinkCD,
    LinkRevokeCD,
    link_kb,
    link_targets_kb,
)
from bot.keyboards.client import ClientAction, ClientCD, card_back_kb
from bot.keyboards.mailings import UnsubCD
from crm.channel import Greeting, OpenResult
from crm.dto import Actor
from crm.service import CRM

e = html.escape


class LinkForm(StatesGroup):
    pick = State()


class ReplyForm(StatesGroup):
    text = State()


forms.register(LinkForm, lambda: _("client link"), buttons_only=(LinkForm.pick,))
forms.register(ReplyForm, lambda: _("reply to a client"))


# --- texts -------------------------------------------------------------------------------


async def greeting_text(greeting: Greeting, bot: Bot) -> str:
    company = greeting.company or (await bot.me()).first_name
    lines = [_("👋 Hello, {name}! This is the Telegram chat of {company}.").format(
        name=e(greeting.name), company=e(company))]
    if greeting.manager:
        lines.append(_("Your manager is {manager}. Write here: your messages go straight to "
                       "them.").format(manager=e(greeting.manager)))
    else:
        lines.append(_("Write here: your messages go straight to our team."))
    lines.append("")
    lines.append(_("/stop — unsubscribe"))
    return "\n".join(lines)


async def open_result_text(result: OpenResult, bot: Bot) -> str:
    if result.greeting is not None:
        return await greeting_text(result.greeting, bot)
    if result.outcome == "staff":
        return _("This is a client's personal link: it connects a client's Telegram to their "
                 "card. You are a user of the CRM, so nothing has changed.")
    if result.outcome == "revoked":
        return _("This link is no longer valid. Ask your manager for a new one.")
    return _("This link has already been used. Ask your manager for a new one.")


def qr_png(url: str) -> bytes:
    import io

    import segno  # lazily: only the link screen needs it

    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=8, border=2)
    return buf.getvalue()


# --- staff: links ------------------------------------------------------------------------


async def cb_link(query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    cid = callback_data.id
    client_name, targets = await crm.channel.link_targets(actor, cid)
    await forms.start(state, LinkForm.pick, client=cid)
    await forms.prompt(
        query, state, LinkForm.pick,
        _("🔗 <b>Link for the client «{name}»</b>\n\nWhose Telegram will it connect? The "
          "person who opens the link can write to you here, and you can answer them.").format(
            name=e(client_name)),
        lambda step: link_targets_kb(cid, targets, step),
    )


async def cb_link_pick(query: CallbackQuery, callback_data: LinkCD, actor: Actor, crm: CRM,
                       state: FSMContext, bot: Bot) -> None:
    draft = await forms.take(query, state, callback_data.step, LinkForm.pick)
    if draft is None:
        return
    await forms.finish(state)
    link = await crm.channel.create_link(actor, callback_data.client_id, callback_data.contact_id)
    me = await bot.me()
    url = f"https://t.me/{me.username}?start={link.token}"
    png = await asyncio.to_thread(qr_png, url)
    text = _("🔗 Personal link for {name}:\n{url}\n\nSend it or show the QR code. It works "
             "once; a new link replaces it.").format(name=e(link.name), url=e(url))
    await forms.screen(query, text, link_kb(link.id, link.client_id))
    await bot.send_photo(actor.tg_id, BufferedInputFile(png, filename="link.png"),
                         caption=_("QR code of the link for {name}").format(name=e(link.name)))


async def cb_link_revoke(query: CallbackQuery, callback_data: LinkRevokeCD, actor: Actor,
                         crm: CRM) -> None:
    if await crm.channel.revoke_link(actor, callback_data.link_id):
        await query.answer(_("The link is revoked: it no longer works."), show_alert=True)
    else:
        await query.answer(_("This link has been used or revoked already."), show_alert=True)


# --- staff: replies ----------------------------------------------------------------------


async def cb_reply(query: CallbackQuery, callback_data: ChanCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    target = await crm.channel.reply_target(actor, callback_data.channel_id)
    await forms.start(state, ReplyForm.text, channel=target.channel_id, client=target.client_id)
    if isinstance(query.message, Message):
        await query.answer()
    await forms.prompt(
        query.message if isinstance(query.message, Message) else query, state, ReplyForm.text,
        _("↩️ Reply to {name} («{client}»): type the message, it goes to their Telegram.")
        .format(name=e(target.name), client=e(target.client_name)),
    )


async def msg_reply(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                    bot: Bot) -> None:
    draft = await forms.values(state)
    text = message.text or ""
    await forms.finish(state)
    target = await crm.channel.reply_target(actor, int(draft["channel"]))
    try:
        sent = await bot.send_message(target.chat_id, text, parse_mode=None)
    except TelegramForbiddenError:
        await crm.channel.mark_blocked(target.channel_id)
        await message.answer(
            _("{name} has blocked the bot: the message was not delivered.").format(
                name=e(target.name)), reply_markup=card_back_kb(target.client_id))
        return
    await crm.channel.record_reply(actor, target.channel_id, text, sent.message_id)
    await message.answer(_("✅ Sent to {name}; it is in the client's history.").format(
        name=e(target.name)), reply_markup=card_back_kb(target.client_id))


# --- the client's side -------------------------------------------------------------------


class IsLinkedClient(Filter):
    passes_without_actor_only = True  # bot/routing.py: not tried for a registered user

    async def __call__(self, event: TelegramObject, actor: Any = None,
                       linked_client: Any = None) -> bool:
        return actor is None and linked_client is not None


def client_hint() -> str:
    return _("Just write here: your manager will read it. /stop — unsubscribe.")


async def client_stop(message: Message, crm: CRM) -> None:
    assert message.from_user is not None
    await crm.channel.stop(message.from_user.id)
    await message.answer(_("You have unsubscribed: we will not send you mailings any more. "
                           "Your messages still reach your manager; /start to subscribe "
                           "again."))


async def client_command(message: Message) -> None:
    await message.answer(client_hint())


async def client_message(message: Message, crm: CRM) -> None:
    assert message.from_user is not None
    kind: str | None = None
    ref: str | None = None
    if message.photo:
        kind, ref = "photo", message.photo[-1].file_id
    elif message.document:
        kind, ref = "document", message.document.file_id
    elif message.voice:
        kind, ref = "voice", message.voice.file_id
    text = message.text or message.caption
    if kind is None and not text:
        await message.answer(_("I can pass on text, photos, documents and voice messages."))
        return
    await crm.channel.incoming(message.from_user.id, message.chat.id, message.message_id,
                               text, kind, ref)


async def client_unsubscribe(query: CallbackQuery, crm: CRM) -> None:
    """«Отписаться» under a mailing: like /stop; a second tap keeps the first time."""
    await crm.channel.stop(query.from_user.id)
    await query.answer(_("You have unsubscribed: we will not send you mailings any more. "
                         "/start to subscribe again."), show_alert=True)


async def client_callback(query: CallbackQuery) -> None:
    await query.answer(client_hint(), show_alert=True)


async def client_inline(query: InlineQuery) -> None:
    await query.answer([], cache_time=0, is_personal=True)


def create_client_router() -> Router:
    """Before the stranger catch-all: a linked client is not a stranger, and not a user."""
    router = Router(name=f"{__name__}.client")
    router.message.filter(IsLinkedClient())
    router.callback_query.filter(IsLinkedClient())
    router.inline_query.filter(IsLinkedClient())
    router.message.register(client_stop, Command("stop"))
    router.message.register(client_command, F.text.startswith("/"))
    router.message.register(client_message)
    router.callback_query.register(client_unsubscribe, UnsubCD.filter())
    router.callback_query.register(client_callback)
    router.inline_query.register(client_inline)
    return router


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(cb_link, ClientCD.filter(F.action == ClientAction.LINK))
    router.callback_query.register(cb_link_pick, LinkCD.filter())
    router.callback_query.register(cb_link_revoke, LinkRevokeCD.filter())
    router.callback_query.register(cb_reply, ChanCD.filter(F.action == ChanAction.REPLY))
    router.message.register(msg_reply, ReplyForm.text, FormText())
    return router
