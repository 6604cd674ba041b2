"""«« Back to the report» on what a report's drill-down opened (a deal, an invoice).

A report with drill-down buttons remembers itself (its SHOW callback: kind, period, team)
in the chat's FSM data when it is shown; its drill-down buttons use the opened screen's own
callback with a REPORT action, whose handler marks that screen as opened from the report.
The screen then carries one more button, the remembered report's SHOW callback — pressed,
it is checked like any report button (crm.access via the reports handler), so a forged or
stale one proves nothing. Screens opened any other way show no such button.

Forms keep their draft under their own key (bot/forms.py), so finishing a form does not
forget the report.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.reports import ReportAction, ReportCD

KEY = "report_back"


class Opened(StrEnum):
    DEAL = "deal"
    INVOICE = "invoice"


async def remember(state: FSMContext, report: ReportCD) -> None:
    """The report just shown, to come back to from what it opens."""
    await state.update_data({KEY: {"cd": report.pack()}})


async def forget(state: FSMContext) -> None:
    await state.update_data({KEY: None})


async def opened(state: FSMContext, what: Opened, id_: int) -> None:
    """The screen of `what` #id_ was opened from the remembered report."""
    data = (await state.get_data()).get(KEY)
    if isinstance(data, dict) and "cd" in data:
        await state.update_data({KEY: {"cd": data["cd"], "what": what.value, "id": id_}})


async def button(state: FSMContext, what: Opened, id_: int) -> InlineKeyboardButton | None:
    """«« Back to the report», when this screen was opened from a report."""
    data = (await state.get_data()).get(KEY)
    if not isinstance(data, dict) or (data.get("what"), data.get("id")) != (what.value, id_):
        return None
    try:
        cd = ReportCD.unpack(str(data.get("cd")))
    except (TypeError, ValueError):
        return None
    if cd.action is not ReportAction.SHOW:
        return None
    return InlineKeyboardButton(text=_("« Back to the report"), callback_data=cd.pack())


async def add_button(markup: InlineKeyboardMarkup, state: FSMContext, what: Opened,
                     id_: int) -> InlineKeyboardMarkup:
    """The screen's keyboard with «« Back to the report» as its last row, if it applies."""
    back = await button(state, what, id_)
    if back is None:
        return markup
    return InlineKeyboardMarkup(inline_keyboard=[*markup.inline_keyboard, [back]])
