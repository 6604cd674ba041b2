"""Callback data and keyboards of /settings.

Buttons that change a value carry the value itself (a day *on*, the digest *off*), not a
toggle: a double tap then changes nothing more.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import get_day_names
from pydantic import Field

from bot.keyboards.types import CD, Step
from bot.render import current_locale
from crm.settings import RUSSIAN_ZONES, UserSettings

ZoneIndex = Annotated[int, Field(ge=0, le=len(RUSSIAN_ZONES) - 1)]
Weekday = Annotated[int, Field(ge=1, le=7)]


class SetAction(StrEnum):
    MAIN = "main"
    LANG = "lang"
    ZONE = "zone"
    HOURS = "hours"
    DAYS = "days"
    DIGEST_ON = "don"
    DIGEST_OFF = "doff"
    DIGEST_TIME = "dtime"


class Lang(StrEnum):
    RU = "ru"
    EN = "en"


class SetCD(CD, prefix="set"):
    action: SetAction


class SetLangCD(CD, prefix="setl"):
    code: Lang


class SetDayCD(CD, prefix="setd"):
    day: Weekday
    on: bool


class SetZoneCD(CD, prefix="setz"):
    """A Russian time zone picked at the time-zone prompt (an index into RUSSIAN_ZONES)."""

    zone: ZoneIndex
    step: Step


def zone_city(zone: str) -> str | None:
    cities = {
        "Europe/Kaliningrad": _("Kaliningrad"),
        "Europe/Moscow": _("Moscow"),
        "Europe/Samara": _("Samara"),
        "Asia/Yekaterinburg": _("Yekaterinburg"),
        "Asia/Omsk": _("Omsk"),
        "Asia/Krasnoyarsk": _("Krasnoyarsk"),
        "Asia/Irkutsk": _("Irkutsk"),
        "Asia/Yakutsk": _("Yakutsk"),
        "Asia/Vladivostok": _("Vladivostok"),
        "Asia/Magadan": _("Magadan"),
        "Asia/Kamchatka": _("Kamchatka"),
    }
    return cities.get(zone)


def day_names() -> list[str]:
    """Short weekday names, Monday first, in the user's language."""
    names = get_day_names("abbreviated", locale=current_locale())
    return [str(names[i]) for i in range(7)]


def settings_kb(current: UserSettings) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🌐 Language"), callback_data=SetCD(action=SetAction.LANG))
    kb.button(text=_("🕒 Time zone"), callback_data=SetCD(action=SetAction.ZONE))
    kb.button(text=_("💼 Working hours"), callback_data=SetCD(action=SetAction.HOURS))
    kb.button(text=_("📆 Working days"), callback_data=SetCD(action=SetAction.DAYS))
    if current.digest_enabled:
        kb.button(text=_("🔕 Digest off"), callback_data=SetCD(action=SetAction.DIGEST_OFF))
    else:
        kb.button(text=_("🔔 Digest on"), callback_data=SetCD(action=SetAction.DIGEST_ON))
    kb.button(text=_("⏰ Digest time"), callback_data=SetCD(action=SetAction.DIGEST_TIME))
    kb.adjust(2)
    return kb.as_markup()


def back_button(kb: InlineKeyboardBuilder) -> None:
    kb.button(text=_("« Settings"), callback_data=SetCD(action=SetAction.MAIN))


def back_kb() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    back_button(kb)
    return kb.as_markup()


def lang_kb() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text="🇷🇺 Русский", callback_data=SetLangCD(code=Lang.RU))
    kb.button(text="🇬🇧 English", callback_data=SetLangCD(code=Lang.EN))
    back_button(kb)
    kb.adjust(2)
    return kb.as_markup()


def zones_kb(step: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for i, (zone, offset) in enumerate(RUSSIAN_ZONES):
        kb.button(text=f"{zone_city(zone)} UTC+{offset}",
                  callback_data=SetZoneCD(zone=i, step=step))
    back_button(kb)
    kb.adjust(2)
    return kb.as_markup()


def days_kb(days: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for i, name in enumerate(day_names(), start=1):
        on = str(i) in days
        kb.button(text=f"{'✅' if on else '▫️'} {name}", callback_data=SetDayCD(day=i, on=not on))
    back_button(kb)
    kb.adjust(4, 3, 1)
    return kb.as_markup()
