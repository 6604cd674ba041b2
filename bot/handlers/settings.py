"""/settings: language, time zone, working hours and days, the daily digest — each one or
two taps from one screen that shows what is set now."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.filters import FormText
from bot.handlers.start import set_user_commands
from bot.keyboards.classifiers import settings_rows as classifier_rows
from bot.keyboards.menu import BTN_SETTINGS, main_menu
from bot.keyboards.settings import (
    SetAction,
    SetCD,
    SetDayCD,
    SetLangCD,
    SetZoneCD,
    back_kb,
    day_names,
    days_kb,
    lang_kb,
    settings_kb,
    zone_city,
    zones_kb,
)
from crm.dto import Actor
from crm.service import CRM
from crm.settings import RUSSIAN_ZONES, UserSettings


class SettingsForm(StatesGroup):
    timezone = State()
    hours = State()
    digest_time = State()


forms.register(SettingsForm, lambda: _("settings"))


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def offset_text(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "−"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def settings_text(current: UserSettings) -> str:
    city = zone_city(current.timezone)
    zone = html.escape(current.timezone)
    zone = f"{city} ({zone})" if city else zone
    names = day_names()
    days = " ".join(names[int(d) - 1] for d in sorted(current.work_days))
    if current.digest_enabled:
        digest = _("on, at {time}").format(time=hhmm(current.digest_time_min))
    else:
        digest = _("off")
    language = "Русский" if current.locale == "ru" else "English"
    return "\n".join([
        _("<b>⚙️ Settings</b>"),
        "",
        _("🌐 Language: {value}").format(value=language),
        _("🕒 Time zone: {value}").format(value=f"{zone}, {offset_text(current.utc_offset_min)}"),
        _("💼 Working hours: {start}–{end}").format(
            start=hhmm(current.work_start_min), end=hhmm(current.work_end_min)),
        _("📆 Working days: {value}").format(value=days),
        _("📰 Daily digest: {value}").format(value=digest),
        "",
        _("Reminders wait for your working hours; the digest comes on working days."),
    ])


async def show(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    current = await crm.settings.get(actor)
    markup = settings_kb(current)
    markup.inline_keyboard.extend(classifier_rows(actor))  # 🗂 Classifiers, 🪜 Sales stages
    await forms.screen(target, settings_text(current), markup)


async def cmd_settings(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show(message, actor, crm)


async def cb_main(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show(query, actor, crm)


async def cb_lang(query: CallbackQuery) -> None:
    await forms.screen(query, _("Choose the language:"), lang_kb())


async def cb_set_lang(query: CallbackQuery, callback_data: SetLangCD, actor: Actor, crm: CRM,
                      bot: Bot, i18n: I18n) -> None:
    locale = callback_data.code.value
    await crm.people.set_locale(actor, locale)
    with i18n.use_locale(locale):
        await show(query, actor, crm)
        # The reply keyboard is only replaced by a new message.
        await bot.send_message(
            query.from_user.id,
            _("Language: English") if locale == "en" else _("Language: Russian"),
            reply_markup=main_menu(actor.role),
        )
    await set_user_commands(bot, actor, locale, i18n)


async def cb_zone(query: CallbackQuery, state: FSMContext) -> None:
    await forms.start(state, SettingsForm.timezone)
    await forms.prompt(
        query, state, SettingsForm.timezone,
        _("Pick your time zone, or type its name, for example Europe/Berlin or Asia/Almaty."),
        zones_kb,
    )


async def cb_zone_pick(query: CallbackQuery, callback_data: SetZoneCD, actor: Actor, crm: CRM,
                       state: FSMContext) -> None:
    if await forms.claim(state, callback_data.step) is None:
        await query.answer()
        return
    await crm.settings.set_timezone(actor, RUSSIAN_ZONES[callback_data.zone][0])
    await forms.finish(state)
    await show(query, actor, crm)


async def on_zone_typed(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await _typed(message, actor, crm, state, crm.settings.set_timezone)


async def cb_hours(query: CallbackQuery, state: FSMContext) -> None:
    await forms.start(state, SettingsForm.hours)
    await forms.prompt(query, state, SettingsForm.hours,
                       _("Type your working hours, for example 9-18 or 09:00–18:30."),
                       lambda _step: back_kb())


async def on_hours_typed(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await _typed(message, actor, crm, state, crm.settings.set_work_hours)


async def cb_days(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    current = await crm.settings.get(actor)
    await forms.screen(query, _("Tap a day to switch it on or off:"), days_kb(current.work_days))


async def cb_day(query: CallbackQuery, callback_data: SetDayCD, actor: Actor,
                 crm: CRM) -> None:
    current = await crm.settings.set_work_day(actor, callback_data.day, callback_data.on)
    await forms.screen(query, _("Tap a day to switch it on or off:"), days_kb(current.work_days))


async def cb_digest_on(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    await crm.settings.set_digest_enabled(actor, True)
    await show(query, actor, crm)


async def cb_digest_off(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    await crm.settings.set_digest_enabled(actor, False)
    await show(query, actor, crm)


async def cb_digest_time(query: CallbackQuery, state: FSMContext) -> None:
    await forms.start(state, SettingsForm.digest_time)
    await forms.prompt(query, state, SettingsForm.digest_time,
                       _("At what time should the daily digest come? Type it, for example "
                         "08:30."),
                       lambda _step: back_kb())


async def on_digest_time_typed(message: Message, actor: Actor, crm: CRM,
                               state: FSMContext) -> None:
    await _typed(message, actor, crm, state, crm.settings.set_digest_time)


async def _typed(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                 change: Callable[[Actor, str], Awaitable[UserSettings]]) -> None:
    # Bad input raises InvalidInput: the error handler says why and the question stays open.
    await change(actor, message.text or "")
    await forms.finish(state)
    await show(message, actor, crm)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_settings, Command("settings"))
    router.message.register(cmd_settings, F.text == BTN_SETTINGS)
    router.callback_query.register(cb_main, SetCD.filter(F.action == SetAction.MAIN))
    router.callback_query.register(cb_lang, SetCD.filter(F.action == SetAction.LANG))
    router.callback_query.register(cb_set_lang, SetLangCD.filter())
    router.callback_query.register(cb_zone, SetCD.filter(F.action == SetAction.ZONE))
    router.callback_query.register(cb_zone_pick, SetZoneCD.filter())
    router.callback_query.register(cb_hours, SetCD.filter(F.action == SetAction.HOURS))
    router.callback_query.register(cb_days, SetCD.filter(F.action == SetAction.DAYS))
    router.callback_query.register(cb_day, SetDayCD.filter())
    router.callback_query.register(cb_digest_on, SetCD.filter(F.action == SetAction.DIGEST_ON))
    router.callback_query.register(cb_digest_off, SetCD.filter(F.action == SetAction.DIGEST_OFF))
    router.callback_query.register(cb_digest_time,
                                   SetCD.filter(F.action == SetAction.DIGEST_TIME))
    router.message.register(on_zone_typed, SettingsForm.timezone, FormText())
    router.message.register(on_hours_typed, SettingsForm.hours, FormText())
    router.message.register(on_digest_time_typed, SettingsForm.digest_time, FormText())
    return router
