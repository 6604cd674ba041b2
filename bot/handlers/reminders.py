"""One tap under a reminder (no answer, snooze, done), the digest's drill-down, /digest.

"Log call" and "Open card" under a reminder, and the buttons under an overdue-payment
alert, are the card's own callbacks (LogTypeCD, ClientCD, InvoiceCD, PlanCD): the same flow
as on the card, handled there.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.charts import digest_chart, has_chart
from bot.keyboards.reminders import (
    NO_ANSWER,
    SNOOZE,
    DigestCD,
    DigestKind,
    RemAction,
    RemCD,
    client_list_kb,
    digest_kb,
    open_card_kb,
)
from bot.notices import digest_parts, overdue_list_text, stalled_text
from bot.render import clip, fmt_datetime
from crm.dto import Actor
from crm.service import CRM


async def _close_reminder(query: CallbackQuery, status: str, client_id: int | None) -> None:
    """Show what was done under the reminder's text; the buttons go (they are spent)."""
    msg = query.message
    if isinstance(msg, Message):
        body = msg.html_text if msg.text else ""
        markup: InlineKeyboardMarkup | None = open_card_kb(client_id) if client_id else None
        text = clip(f"{body}\n\n{status}") if body else status
        # An edit can fail (the message was deleted meanwhile): the toast still tells.
        with contextlib.suppress(TelegramBadRequest):
            await msg.edit_text(text, reply_markup=markup)
    await query.answer(status if len(status) <= 200 else None)


def _when(at: datetime, actor: Actor) -> str:
    return fmt_datetime(at, ZoneInfo(actor.timezone))


async def cb_reminder(
    query: CallbackQuery, callback_data: RemCD, actor: Actor, crm: CRM
) -> None:
    action, pid = callback_data.action, callback_data.planned_id
    if action in NO_ANSWER:
        moved = await crm.reminders.no_answer(actor, pid, NO_ANSWER[action])
        status = _("🔕 No answer — logged. Next call: {when}").format(
            when=_when(moved.due_at, actor))
        client_id = moved.client_id
    else:
        moved = await crm.reminders.snooze(actor, pid, SNOOZE[action])
        status = _("⏰ Snoozed until {when}").format(when=_when(moved.due_at, actor))
        client_id = moved.client_id
    await _close_reminder(query, status, client_id)


async def cb_reminder_done(query: CallbackQuery, callback_data: RemCD, actor: Actor,
                           crm: CRM) -> None:
    client_id = await crm.reminders.done(actor, callback_data.planned_id)
    await _close_reminder(query, _("✅ Done"), client_id)


async def send_digest(message: Message, actor: Actor, crm: CRM, i18n: I18n) -> None:
    digest = await crm.digest.for_actor(actor)
    parts = digest_parts(digest)
    markup = digest_kb(digest)
    for i, part in enumerate(parts):
        await message.answer(part, reply_markup=markup if i == len(parts) - 1 else None)
    if not has_chart(digest):
        return
    titles = (_("Contacts per day"), _("Open deals by stage"))
    png = await asyncio.to_thread(digest_chart, digest, i18n.current_locale, titles)
    await message.answer_photo(BufferedInputFile(png, filename="digest.png"),
                               caption=_("📈 The week's activity and the pipeline"))


async def cmd_digest(
    message: Message, actor: Actor, crm: CRM, i18n: I18n, state: FSMContext
) -> None:
    await state.set_state(None)
    await send_digest(message, actor, crm, i18n)


async def cb_digest(
    query: CallbackQuery, callback_data: DigestCD, actor: Actor, crm: CRM, bot: Bot
) -> None:
    uid = callback_data.user_id
    name = await crm.digest.person_name(actor, uid)
    if callback_data.kind == DigestKind.STALLED:
        deals = await crm.digest.stalled_deals(actor, uid)
        text = stalled_text(name, deals)
        markup = client_list_kb([(d.client_id, f"{d.client_name} — {d.title}") for d in deals])
    else:
        invoices = await crm.digest.overdue_invoices(actor, uid)
        text = overdue_list_text(name, invoices)
        markup = client_list_kb([(i.client_id, i.client_name) for i in invoices])
    await query.answer()
    await bot.send_message(query.from_user.id, text, reply_markup=markup)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(cb_reminder_done, RemCD.filter(F.action == RemAction.DONE))
    router.callback_query.register(cb_reminder, RemCD.filter())
    router.callback_query.register(cb_digest, DigestCD.filter())
    router.message.register(cmd_digest, Command("digest"))
    return router
