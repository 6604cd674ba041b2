"""/help, /lang, and the error handler that turns domain errors into a polite answer."""

from __future__ import annotations

import logging
from contextlib import suppress

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, ExceptionTypeFilter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ErrorEvent, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.handlers.start import set_user_commands
from bot.keyboards.menu import (
    BTN_DOCS,
    BTN_FIND,
    BTN_HELP,
    BTN_INVITE,
    BTN_LANGUAGE,
    BTN_NEW,
    BTN_PEOPLE,
    BTN_REPORTS,
    BTN_SETTINGS,
    BTN_TODAY,
    main_menu,
)
from bot.keyboards.people import LangCD, lang_kb
from bot.texts import error_text
from crm.dto import Actor
from crm.errors import CRMError, InvalidInput
from crm.roles import Role, can_invite, can_list_people
from crm.service import CRM

log = logging.getLogger(__name__)


def help_text(role: Role, bot_username: str | None = None) -> str:
    """Everything this role can do, by the menu button and the command that do it."""
    sales = role in (Role.ADMIN, Role.HEAD, Role.MANAGER)
    lines = [_("<b>Salesbot</b> — your CRM in Telegram."), ""]
    if sales:
        lines.append(_("{button} /today — your plan: contacts due today and overdue").format(
            button=BTN_TODAY))
    lines.append(_("{button} /find — find a client by name, phone, e-mail or INN; or simply "
                   "type it in this chat").format(button=BTN_FIND))
    if role is not Role.SERVICE:
        lines.append(_("{button} /new — add a client; sharing a Telegram contact works too")
                     .format(button=BTN_NEW))
    if bot_username:
        lines.append(_("In any chat, type @{bot} and a client's name to send their card.")
                     .format(bot=bot_username))
    lines += ["", _("<b>On a client's card</b>")]
    lines.append(_("📝 log a call, meeting or message (a voice note, photo or file goes into "
                   "the history) · ⏭ plan the next contact · 💼 deals · 🧾 invoices and "
                   "payments · 📜 history"))
    if sales:
        lines.append(_("📎 send a standard document to the client's Telegram or e-mail · 🔗 "
                       "a personal link for the client's Telegram"))
    if sales or role is Role.MARKETER:
        lines += ["", _("<b>Reports</b>")]
        lines.append(_("{button} /reports — results, losses, receivables and coverage of the "
                       "base, for any period against the one before, as text and a "
                       "spreadsheet").format(button=BTN_REPORTS))
    if sales:
        lines.append(_("/digest — the digest now; it also comes every working day at the time "
                       "set in /settings"))
    if can_invite(role) or can_list_people(role):
        lines += ["", _("<b>Team</b>")]
    if can_invite(role):
        lines.append(_("{button} /invite — an invitation link for a new colleague").format(
            button=BTN_INVITE))
    if can_list_people(role):
        lines.append(_("{button} /people — people, roles, teams and vacations").format(
            button=BTN_PEOPLE))
    if role is Role.ADMIN:
        lines.append(_("/newteam NAME — create a team"))
    lines += ["", _("<b>General</b>")]
    lines.append(_("{button} /settings — language, time zone, working hours and days, the "
                   "daily digest").format(button=BTN_SETTINGS))
    if role in (Role.ADMIN, Role.MARKETER):
        lines.append(_("/classifiers — regions, industries, segments, sources, campaigns, "
                       "loss reasons, contact types and outcomes"))
        lines.append(_("{button} /docs — standard documents (price list, presentation …) "
                       "that managers send from the card").format(button=BTN_DOCS))
    if role is Role.ADMIN:
        lines.append(_("/stages — the sales stages: order, probability, stall days"))
    lines.append(_("/lang — switch the language"))
    lines.append(_("/cancel — leave the form you are filling in"))
    lines.append(_("{button} /help — this help").format(button=BTN_HELP))
    return "\n".join(lines)


async def cmd_help(message: Message, actor: Actor, state: FSMContext, bot: Bot) -> None:
    await forms.finish(state)
    me = await bot.me()
    await message.answer(help_text(actor.role, me.username),
                         reply_markup=main_menu(actor.role))


async def cmd_lang(message: Message, state: FSMContext) -> None:
    await forms.finish(state)
    await message.answer(_("Choose the language:"), reply_markup=lang_kb())


async def cb_lang(
    query: CallbackQuery, callback_data: LangCD, actor: Actor, crm: CRM, bot: Bot, i18n: I18n
) -> None:
    await crm.people.set_locale(actor, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await query.answer()
        if query.message is not None:
            await bot.send_message(
                query.from_user.id,
                _("Language: English") if callback_data.code == "en" else _("Language: Russian"),
                reply_markup=main_menu(actor.role),
            )
    await set_user_commands(bot, actor, callback_data.code, i18n)


async def on_crm_error(event: ErrorEvent, state: FSMContext | None = None) -> None:
    err = event.exception
    assert isinstance(err, CRMError)
    text = error_text(err)
    if state is not None and not isinstance(err, InvalidInput):
        # The thing a form was about is gone or closed: typing more into it is pointless.
        await state.set_state(None)
    update = event.update
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.message is not None:
        await update.message.answer(text)


async def on_not_modified(event: ErrorEvent) -> None:
    """A double tap redraws a screen into itself; Telegram refuses, the user sees no change."""
    if event.update.callback_query is not None:
        with suppress(TelegramBadRequest):  # already answered before the edit failed
            await event.update.callback_query.answer()


async def on_telegram_error(event: ErrorEvent) -> None:
    """Telegram refused a call even after its retries (bot.retry). What the handler wrote
    before its reply is committed, so "Something went wrong" would be untrue — and would
    most likely not get through either. Stop a tapped button spinning, quietly."""
    log.warning("update %s: Telegram refused the reply: %s", event.update.update_id,
                event.exception)
    if event.update.callback_query is not None:
        with suppress(TelegramAPIError):
            await event.update.callback_query.answer()


async def on_unexpected(event: ErrorEvent) -> None:
    """Whatever else went wrong: say so instead of leaving a button spinning."""
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    text = _("Something went wrong. Please try again or open the menu.")
    query = event.update.callback_query
    try:
        if query is not None:
            await query.answer(text, show_alert=True)
        elif event.update.message is not None:
            await event.update.message.answer(text)
    except TelegramAPIError:
        log.warning("could not tell the user about the failure")


async def cb_stale(query: CallbackQuery) -> None:
    """A button no handler takes: from an older version of the bot, or forged."""
    await query.answer(_("This button is out of date. Open the screen again."), show_alert=True)


async def msg_in_form(message: Message, raw_state: str | None) -> None:
    """Inside a form, something its step does not take: say what it does take."""
    if forms.is_button_step(raw_state):
        text = _("Tap one of the buttons above, or /cancel to leave.")
    elif message.text:
        text = _("Type the answer to the question above, or /cancel to leave.")
    else:
        text = _("I need text here: type the answer, or /cancel to leave.")
    await message.answer(text)


async def msg_unusable(message: Message) -> None:
    """Outside forms: a location, a sticker, a video … nothing to do with it yet."""
    await message.answer(_("I cannot use this here. Type a client's name to find them, or "
                           "see /help."))


def create_form_fallback_router() -> Router:
    """After every feature router: what a form's step did not take."""
    router = Router(name=__name__ + ".forms")
    router.message.register(msg_in_form, ~StateFilter(None))
    return router


def create_fallback_router() -> Router:
    """Included last of all."""
    router = Router(name=__name__ + ".fallback")
    router.callback_query.register(cb_stale)
    router.message.register(msg_unusable, ~F.text)
    return router


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_help, Command("help"))
    router.message.register(cmd_help, F.text == BTN_HELP)
    router.message.register(cmd_lang, Command("lang"))
    router.message.register(cmd_lang, F.text == BTN_LANGUAGE)
    router.callback_query.register(cb_lang, LangCD.filter())
    router.error.register(on_crm_error, ExceptionTypeFilter(CRMError))
    router.error.register(
        on_not_modified,
        ExceptionTypeFilter(TelegramBadRequest),
        F.exception.message.contains("message is not modified"),
    )
    router.error.register(on_telegram_error, ExceptionTypeFilter(TelegramAPIError))
    router.error.register(on_unexpected)
    return router
