"""'My clients': the list's callback data and keyboards."""

from __future__ import annotations

from enum import StrEnum

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.client import client_button
from bot.keyboards.types import CD, DbId, Page
from crm.classifiers import StageInfo
from crm.clients import ClientListPage, ListFilter


class MyAction(StrEnum):
    LIST = "list"
    STAGES = "stages"  # pick the stage to filter by


class MyClientsCD(CD, prefix="mc"):
    action: MyAction
    show: ListFilter = ListFilter.ALL
    stage: DbId | None = None  # with ListFilter.STAGE only
    page: Page = 0


def filter_names() -> dict[ListFilter, str]:
    return {
        ListFilter.ALL: _("All"),
        ListFilter.STAGE: _("By stage"),
        ListFilter.NO_NEXT: _("No next contact"),
        ListFilter.OVERDUE: _("Overdue invoice"),
    }


def _list(flt: ListFilter, stage: int | None = None, page: int = 0) -> str:
    return MyClientsCD(action=MyAction.LIST, show=flt, stage=stage, page=page).pack()


def my_clients_kb(result: ClientListPage) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for ref in result.items:
        kb.row(client_button(ref))
    stage_id = result.stage.id if result.stage else None
    nav: list[InlineKeyboardButton] = []
    if result.page > 0:
        nav.append(InlineKeyboardButton(
            text="‹", callback_data=_list(result.filter, stage_id, result.page - 1)
        ))
    if result.page + 1 < result.pages:
        nav.append(InlineKeyboardButton(
            text="›", callback_data=_list(result.filter, stage_id, result.page + 1)
        ))
    if nav:
        kb.row(*nav)
    filters: list[InlineKeyboardButton] = []
    for flt, name in filter_names().items():
        mark = "• " if flt is result.filter else ""
        data = (MyClientsCD(action=MyAction.STAGES).pack() if flt is ListFilter.STAGE
                else _list(flt))
        filters.append(InlineKeyboardButton(text=mark + name, callback_data=data))
    kb.row(*filters[:2])
    kb.row(*filters[2:])
    return kb.as_markup()


def stages_kb(stages: list[StageInfo], locale: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for st in stages:
        kb.button(text=st.text(locale), callback_data=_list(ListFilter.STAGE, st.id))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(text=_("« All clients"), callback_data=_list(ListFilter.ALL)))
    return kb.as_markup()
