"""Logging a contact (type → outcome → comment or voice) and the next step that follows it:
plan the next contact, close the deal, or say explicitly that there is none."""

from __future__ import annotations

import html
from datetime import date, datetime, time

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.filters import FormText
from bot.handlers.clients import input_error, show
from bot.keyboards.client import (
    CalCD,
    ClientCD,
    FwdCD,
    LogOutcomeCD,
    LogSkipCD,
    LogTypeCD,
    PlanCD,
    calendar_kb,
    card_back_kb,
    hours_kb,
    next_step_kb,
    outcomes_kb,
    skip_comment_kb,
    types_kb,
)
from bot.render import current_locale, fmt_datetime
from crm.classifiers import outcomes_for
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.service import CRM
from crm.when import quick_when, read_when


class LogForm(StatesGroup):
    comment = State()


class PlanForm(StatesGroup):
    when = State()


async def cb_log_start(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                       crm: CRM) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    types = await crm.classifiers.items("activity_type")
    await show(query, _("<b>{name}</b>: what kind of contact?").format(
        name=html.escape(card.name)), types_kb(card.id, types, current_locale()))


async def cb_log_type(query: CallbackQuery, callback_data: LogTypeCD, actor: Actor,
                      crm: CRM) -> None:
    card = await crm.clients.card(actor, callback_data.client_id)
    kind = await crm.classifiers.item("activity_type", callback_data.type_id)
    if kind is None:
        raise InvalidInput("activity_type")
    outcomes = outcomes_for(kind.code, await crm.classifiers.items("outcome"))
    loc = current_locale()
    await show(
        query,
        _("<b>{name}</b> · {type}: the outcome?").format(
            name=html.escape(card.name), type=html.escape(kind.text(loc))
        ),
        outcomes_kb(card.id, kind.id, outcomes, loc, callback_data.planned_id),
    )


async def cb_log_outcome(query: CallbackQuery, callback_data: LogOutcomeCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    # Re-checks visibility now, not only when the comment arrives.
    card = await crm.clients.card(actor, callback_data.client_id)
    await state.set_state(LogForm.comment)
    await state.update_data(
        log_client=card.id, log_type=callback_data.type_id,
        log_outcome=callback_data.outcome_id or None,
    )
    await show(query, _("Write a comment or record a voice note:"), skip_comment_kb(card.id))


async def _save_log(bot: Bot, chat_id: int, actor: Actor, crm: CRM, state: FSMContext,
                    text: str | None, voice: str | None) -> None:
    data = await state.get_data()
    client_id = int(data["log_client"])
    logged = await crm.history.log(
        actor, client_id, int(data["log_type"]), data.get("log_outcome"), text,
        attachment_kind="voice" if voice else None, attachment_ref=voice,
    )
    await state.set_state(None)
    await bot.send_message(
        chat_id,
        _("✅ Saved to the history. What is the next step?"),
        reply_markup=next_step_kb(client_id, logged.deal_id),
    )


async def msg_log_comment(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                          bot: Bot) -> None:
    await _save_log(bot, message.chat.id, actor, crm, state, message.text, None)


async def msg_log_voice(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                        bot: Bot) -> None:
    assert message.voice is not None  # guaranteed by the F.voice filter
    await _save_log(bot, message.chat.id, actor, crm, state, message.caption,
                    message.voice.file_id)


async def cb_log_skip(query: CallbackQuery, callback_data: LogSkipCD, actor: Actor, crm: CRM,
                      state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    if await state.get_state() != LogForm.comment.state or data.get("log_client") != \
            callback_data.client_id:
        await query.answer(_("This form is no longer active."), show_alert=True)
        return
    await query.answer()
    # The prompt may be too old to edit or reply to; the chat is the user's own.
    await _save_log(bot, query.from_user.id, actor, crm, state, None, None)


async def _planned(target: Message | CallbackQuery, actor: Actor, crm: CRM, client_id: int,
                   due: datetime, deal_id: int) -> None:
    planned = await crm.planning.plan(actor, client_id, due, deal_id=deal_id or None)
    text = (_("⏭ Next contact moved to {when}.") if planned.moved
            else _("⏭ Next contact planned for {when}.")).format(
        when=fmt_datetime(planned.due_at, actor.tz))
    if isinstance(target, CallbackQuery):
        await show(target, text, card_back_kb(client_id))
    else:
        await target.answer(text, reply_markup=card_back_kb(client_id))


async def cb_plan_menu(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                       crm: CRM) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    deal_id = card.open_deals[0].id if len(card.open_deals) == 1 else None
    await show(query, _("<b>{name}</b>: when is the next contact?").format(
        name=html.escape(card.name)), next_step_kb(card.id, deal_id, with_close=False))


async def cb_plan(query: CallbackQuery, callback_data: PlanCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    cid, did = callback_data.client_id, callback_data.deal_id
    now_local = crm.clock.now().astimezone(actor.tz)
    if callback_data.when == "cal":
        await crm.clients.card(actor, cid)
        await show(query, _("Pick a day:"),
                   calendar_kb(cid, did, now_local.year, now_local.month, now_local.date()))
        return
    if callback_data.when == "text":
        await crm.clients.card(actor, cid)
        await state.set_state(PlanForm.when)
        await state.update_data(plan_client=cid, plan_deal=did)
        await show(query, _("When? For example: завтра 15:00, пт 11, через 3 дня, 03.12 14:30, "
                            "tomorrow 3pm."), card_back_kb(cid))
        return
    due = quick_when(callback_data.when, now_local, actor.hours).due
    await _planned(query, actor, crm, cid, due, did)


async def cb_calendar(query: CallbackQuery, callback_data: CalCD, actor: Actor,
                      crm: CRM) -> None:
    cid, did, value = callback_data.client_id, callback_data.deal_id, callback_data.value
    today = crm.clock.now().astimezone(actor.tz).date()
    try:
        if callback_data.action == "month":
            year, month = divmod(value, 100)
            date(year, month, 1)
            await show(query, _("Pick a day:"), calendar_kb(cid, did, year, month, today))
            return
        if callback_data.action == "day":
            day = date(value // 10000, value // 100 % 100, value % 100)
            await show(query, _("Pick the time:"), hours_kb(cid, did, day))
            return
        day = date(value // 1000000, value // 10000 % 100, value // 100 % 100)
        due = datetime.combine(day, time(value % 100), actor.tz)
    except (ValueError, OverflowError):
        raise InvalidInput("when") from None
    await _planned(query, actor, crm, cid, due, did)


async def msg_plan_text(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    data = await state.get_data()
    now_local = crm.clock.now().astimezone(actor.tz)
    try:
        due = read_when(message.text or "", now_local, actor.hours).due
        await _planned(message, actor, crm, int(data["plan_client"]), due,
                       int(data.get("plan_deal") or 0))
    except InvalidInput as err:
        await message.answer(input_error(err.code))
        return
    await state.set_state(None)


async def cb_no_next(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                     crm: CRM) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    deal_id = card.open_deals[0].id if len(card.open_deals) == 1 else None
    await crm.planning.no_next_step(actor, card.id, deal_id)
    await show(query, _("Recorded: no next step for «{name}».").format(
        name=html.escape(card.name)), card_back_kb(card.id))


async def msg_forwarded(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    """A client's message forwarded to the bot: offer to put it into a client's history."""
    origin = message.forward_origin
    sender = ""
    if origin is not None:
        sender = (getattr(origin, "sender_user_name", None)
                  or getattr(getattr(origin, "sender_user", None), "full_name", None)
                  or getattr(getattr(origin, "chat", None), "title", None) or "")
    text = message.text or message.caption or ""
    await state.update_data(fwd_text=text[:3000], fwd_from=sender[:100])
    result = await crm.clients.search(actor, sender) if sender else None
    kb = InlineKeyboardBuilder()
    for ref in (result.items if result else [])[:6]:
        kb.button(text=ref.name[:40], callback_data=FwdCD(client_id=ref.id))
    kb.adjust(1)
    prompt = _("Log this message into a client's history?")
    if result and result.items:
        prompt += "\n" + _("Pick the client, or find another one by typing /find and a name.")
    else:
        prompt += "\n" + _("Find the client with /find and a name, then open their card and "
                           "press «Log contact».")
    await message.answer(prompt, reply_markup=kb.as_markup())


async def cb_forward(query: CallbackQuery, callback_data: FwdCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    data = await state.get_data()
    text = data.get("fwd_text")
    if not text:
        await query.answer(_("This form is no longer active."), show_alert=True)
        return
    kind = await crm.classifiers.by_code("activity_type", "message")
    if kind is None:
        raise InvalidInput("activity_type")
    sender = data.get("fwd_from")
    body = (f"{sender}: " if sender else "") + text
    logged = await crm.history.log(actor, callback_data.client_id, kind.id, None, body)
    await state.update_data(fwd_text=None, fwd_from=None)
    await show(query, _("✅ Saved to the history. What is the next step?"),
               next_step_kb(callback_data.client_id, logged.deal_id))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(cb_log_start, ClientCD.filter(F.action == "log"))
    router.callback_query.register(cb_log_type, LogTypeCD.filter())
    router.callback_query.register(cb_log_outcome, LogOutcomeCD.filter())
    router.callback_query.register(cb_log_skip, LogSkipCD.filter())
    router.message.register(msg_log_comment, LogForm.comment, FormText())
    router.message.register(msg_log_voice, LogForm.comment, F.voice)
    router.callback_query.register(cb_plan_menu, ClientCD.filter(F.action == "plan"))
    router.callback_query.register(cb_plan, PlanCD.filter())
    router.callback_query.register(cb_calendar, CalCD.filter())
    router.message.register(msg_plan_text, PlanForm.when, FormText())
    router.callback_query.register(cb_no_next, ClientCD.filter(F.action == "nonext"))
    router.message.register(msg_forwarded, StateFilter(None), F.forward_origin)
    router.callback_query.register(cb_forward, FwdCD.filter())
    return router

