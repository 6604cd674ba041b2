"""Check-ins, «Nearby» and a day's route: their callback data and keyboards.

Client ids in here are re-checked in `crm/` when pressed (crm/visits.py)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot import forms
from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.people import UserAction, UserCD
from bot.keyboards.types import CD, DbId, Page, Step
from bot.render import fmt_distance
from crm.clients import ClientRef
from crm.visits import NEARBY_PAGE, NearbyClient, NearbyPage

BTN_SEND_LOCATION = __("📍 Send my location")
BTN_CANCEL_LOCATION = __("✖️ Cancel")


class VisitPickCD(CD, prefix="vp"):
    """«Which client are you at?»: this one (the prompt's step)."""

    client_id: DbId
    step: Step


class VisitCancelCD(CD, prefix="vx"):
    step: Step


class PlaceAction(StrEnum):
    SAVE = "save"
    SKIP = "skip"


class PlaceCD(CD, prefix="vpl"):
    """Save the check-in's place as the client's, or not (the confirm prompt's step)."""

    action: PlaceAction
    step: Step


class NearbyCD(CD, prefix="nb"):
    """A page of «Nearby»; the location waits in the FSM data."""

    page: Page


# yyyymmdd of a day of the route, within years a calendar holds.
Day = Annotated[int, Field(ge=1_000_01_01, le=9_999_12_31)]


class RouteCD(CD, prefix="rt"):
    """A person's check-ins of one day."""

    user_id: DbId
    day: Day


def day_value(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def location_kb() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=str(BTN_SEND_LOCATION), request_location=True)],
                  [KeyboardButton(text=str(BTN_CANCEL_LOCATION))]],
        resize_keyboard=True, one_time_keyboard=True,
    )


def _short(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def which_client_kb(near: list[NearbyClient], found: list[ClientRef], step: int
                    ) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for c in near:
        kb.button(text=f"{_short(c.name)} · {fmt_distance(c.distance_km)}",
                  callback_data=VisitPickCD(client_id=c.id, step=step))
    for ref in found:
        kb.button(text=_short(ref.name, 40), callback_data=VisitPickCD(client_id=ref.id,
                                                                         step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=VisitCancelCD(step=step))
    kb.adjust(1)
    return kb.as_markup()


def place_kb(step: int) -> InlineKeyboardMarkup:
    return forms.confirm_kb(
        _("📍 Yes, save the place"), PlaceCD(action=PlaceAction.SAVE, step=step),
        InlineKeyboardButton(text=_("Not now"),
                             callback_data=PlaceCD(action=PlaceAction.SKIP, step=step).pack()),
    )


def nearby_kb(page: NearbyPage) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    first = page.page * NEARBY_PAGE
    for i, c in enumerate(page.items, start=first + 1):
        kb.row(InlineKeyboardButton(
            text=f"{i}. {_short(c.name)} · {fmt_distance(c.distance_km)}",
            callback_data=ClientCD(id=c.id, action=ClientAction.OPEN).pack()))
    nav: list[InlineKeyboardButton] = []
    if page.page > 0:
        nav.append(InlineKeyboardButton(text=_("‹ Closer"),
                                        callback_data=NearbyCD(page=page.page - 1).pack()))
    if page.has_more:
        nav.append(InlineKeyboardButton(text=_("Farther ›"),
                                        callback_data=NearbyCD(page=page.page + 1).pack()))
    if nav:
        kb.row(*nav)
    return kb.as_markup()


def route_kb(user_id: int, day: date, today: date) -> InlineKeyboardMarkup:
    nav = [InlineKeyboardButton(
        text=_("‹ Day before"),
        callback_data=RouteCD(user_id=user_id, day=day_value(day - timedelta(days=1))).pack())]
    if day < today:
        nav.append(InlineKeyboardButton(
            text=_("Day after ›"),
            callback_data=RouteCD(user_id=user_id, day=day_value(day + timedelta(days=1))).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[nav, [InlineKeyboardButton(
        text=_("« Back"), callback_data=UserCD(user_id=user_id, action=UserAction.OPEN).pack())]])
