"""Client lists: the callback data and keyboards of the list menu, the filter builder (a
form: its buttons carry the prompt's step) and a list's result pages."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Self

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import model_validator

from bot.keyboards.client import client_button
from bot.keyboards.reports import back_to_reports
from bot.keyboards.types import CD, DbId, Page, Step
from crm.classifiers import Label
from crm.lists import PICKED, ClientFilter, Criterion, ListPage, SavedInfo


class ListAction(StrEnum):
    MENU = "menu"  # the saved lists and «New list»
    NEW = "new"  # an empty builder
    DRAFT = "draft"  # a page of the builder's result (the filter waits in the FSM data)
    DRAFT_XLSX = "dxlsx"
    BUILDER = "build"  # back from the result to the builder
    SAVE = "save"  # name the builder's filter and save it
    OPEN = "open"  # a page of a saved list, run afresh
    XLSX = "xlsx"  # … as a spreadsheet
    EDIT = "edit"  # its filter in the builder (saved as a new list)
    RENAME = "rename"
    DELETE = "delete"  # asks first


_WITH_ID = {ListAction.OPEN, ListAction.XLSX, ListAction.EDIT, ListAction.RENAME,
            ListAction.DELETE}


class ListCD(CD, prefix="cl"):
    action: ListAction
    id: DbId | None = None  # a saved list
    page: Page = 0

    @model_validator(mode="after")
    def _whole(self) -> Self:
        if (self.action in _WITH_ID) != (self.id is not None):
            raise ValueError("a saved list's action needs its id, and only those")
        return self


class BuildAction(StrEnum):
    CRITERION = "crit"  # open a criterion (or flip a yes/no one)
    CLEAR = "clear"  # the criterion back to «any»
    BACK = "back"  # to the builder, unchanged
    RESET = "reset"  # every criterion cleared
    SHOW = "show"  # the result


class BuildCD(CD, prefix="clb"):
    """A button of the builder form."""

    action: BuildAction
    step: Step
    criterion: Criterion | None = None

    @model_validator(mode="after")
    def _whole(self) -> Self:
        needs = self.action in (BuildAction.CRITERION, BuildAction.CLEAR)
        if needs != (self.criterion is not None):
            raise ValueError("a criterion action needs its criterion, and only those")
        return self


class PickCD(CD, prefix="clp"):
    """One value of a picked criterion (None: any)."""

    criterion: Criterion
    step: Step
    value: DbId | None = None

    @model_validator(mode="after")
    def _picked(self) -> Self:
        if self.criterion not in PICKED:
            raise ValueError("this criterion is not picked from a list")
        return self


class Share(StrEnum):
    TEAM = "team"
    PRIVATE = "me"


class ShareCD(CD, prefix="lsh"):
    """Who sees the list being saved: the form's last step."""

    share: Share
    step: Step


class ListDeleteCD(CD, prefix="cld"):
    """«Yes, delete» of a saved list: the confirm prompt's step."""

    id: DbId
    step: Step


def lists_title() -> str:
    return _("🗂 Client lists")


def criterion_name(c: Criterion) -> str:
    return {
        Criterion.MANAGER: _("👤 Manager"),
        Criterion.TEAM: _("👥 Team"),
        Criterion.REGION: _("📍 Region"),
        Criterion.INDUSTRY: _("🏭 Industry"),
        Criterion.SEGMENT: _("🎯 Segment"),
        Criterion.SOURCE: _("📥 Source"),
        Criterion.CAMPAIGN: _("📣 Campaign"),
        Criterion.STAGE: _("📊 Open deal at stage"),
        Criterion.OPEN_DEAL: _("💼 Has an open deal"),
        Criterion.PROBABILITY: _("🎲 Probability"),
        Criterion.SILENT: _("⏳ No contact for N days"),
        Criterion.CONTACTED: _("📞 Contacted within N days"),
        Criterion.NO_NEXT: _("🚫 No next contact"),
        Criterion.OVERDUE: _("💸 Overdue invoice"),
        Criterion.CREATED: _("🗓 Created in a period"),
    }[c]


def back_to_lists() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("« Client lists"),
                                callback_data=ListCD(action=ListAction.MENU).pack())


def lists_button() -> InlineKeyboardButton:
    """The way in, from the reports menu."""
    return InlineKeyboardButton(text=lists_title(),
                                callback_data=ListCD(action=ListAction.MENU).pack())


def menu_kb(saved: Sequence[SavedInfo]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for info in saved:
        mark = "👥 " if info.shared else "🔒 "
        text = mark + info.name + ("" if info.mine else f" · {info.owner_name}")
        kb.row(InlineKeyboardButton(
            text=text[:64], callback_data=ListCD(action=ListAction.OPEN, id=info.id).pack()))
    kb.row(InlineKeyboardButton(text=_("➕ New list"),
                                callback_data=ListCD(action=ListAction.NEW).pack()))
    kb.row(back_to_reports())
    return kb.as_markup()


def builder_kb(step: int, criteria: Sequence[Criterion],
               flt: ClientFilter) -> InlineKeyboardMarkup:
    """A button per criterion (✓ when set), then Show, Reset and the way back."""
    kb = InlineKeyboardBuilder()
    for c in criteria:
        mark = "✓ " if flt.value_of(c) not in (None, False) else ""
        kb.button(text=mark + criterion_name(c),
                  callback_data=BuildCD(action=BuildAction.CRITERION, criterion=c, step=step))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(
        text=_("🔎 Show"), callback_data=BuildCD(action=BuildAction.SHOW, step=step).pack()))
    if not flt.is_empty:
        kb.row(InlineKeyboardButton(
            text=_("♻️ Clear all"),
            callback_data=BuildCD(action=BuildAction.RESET, step=step).pack()))
    kb.row(back_to_lists())
    return kb.as_markup()


def _back(step: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("« Back"),
                                callback_data=BuildCD(action=BuildAction.BACK, step=step).pack())


def choices_kb(step: int, c: Criterion, choices: Sequence[Label], locale: str,
               current: int | None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for item in choices:
        mark = "✓ " if item.id == current else ""
        kb.button(text=mark + item.text(locale)[:60],
                  callback_data=PickCD(criterion=c, value=item.id, step=step))
    kb.adjust(2)
    kb.row(InlineKeyboardButton(text=_("Any"),
                                callback_data=PickCD(criterion=c, step=step).pack()),
           _back(step))
    return kb.as_markup()


def typed_kb(step: int, c: Criterion, is_set: bool) -> InlineKeyboardMarkup:
    row = [_back(step)]
    if is_set:
        row.insert(0, InlineKeyboardButton(
            text=_("Any"),
            callback_data=BuildCD(action=BuildAction.CLEAR, criterion=c, step=step).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[row])


def _nav(result: ListPage, data: ListCD) -> list[InlineKeyboardButton]:
    nav: list[InlineKeyboardButton] = []
    if result.page > 0:
        nav.append(InlineKeyboardButton(
            text="‹", callback_data=data.model_copy(update={"page": result.page - 1}).pack()))
    if result.page + 1 < result.pages:
        nav.append(InlineKeyboardButton(
            text="›", callback_data=data.model_copy(update={"page": result.page + 1}).pack()))
    return nav


def draft_kb(result: ListPage, mailing: bool = False) -> InlineKeyboardMarkup:
    """The builder's result: the clients (each opens its card), pages, save, XLSX, edit;
    with `mailing`, «📣 Mailing» to them (bot/handlers/mailings.py)."""
    from bot.keyboards.mailings import MailAction, MailCD

    kb = InlineKeyboardBuilder()
    for ref in result.items:
        kb.row(client_button(ref))
    nav = _nav(result, ListCD(action=ListAction.DRAFT, page=result.page))
    if nav:
        kb.row(*nav)
    kb.row(InlineKeyboardButton(text=_("💾 Save list"),
                                callback_data=ListCD(action=ListAction.SAVE).pack()),
           InlineKeyboardButton(text=_("📥 XLSX"),
                                callback_data=ListCD(action=ListAction.DRAFT_XLSX).pack()))
    kb.row(InlineKeyboardButton(text=_("✏️ Change the filter"),
                                callback_data=ListCD(action=ListAction.BUILDER).pack()))
    if mailing and result.total:
        kb.row(InlineKeyboardButton(text=_("📣 Mailing to this list"), callback_data=MailCD(
            action=MailAction.FROM_LIST).pack()))
    kb.row(back_to_lists())
    return kb.as_markup()


def saved_kb(info: SavedInfo, result: ListPage, export: bool = False) -> InlineKeyboardMarkup:
    """A saved list's page; `export`: also its export in the import's format (issue 10)."""
    from bot.keyboards.imports import list_export_row

    kb = InlineKeyboardBuilder()
    for ref in result.items:
        kb.row(client_button(ref))
    nav = _nav(result, ListCD(action=ListAction.OPEN, id=info.id, page=result.page))
    if nav:
        kb.row(*nav)
    kb.row(InlineKeyboardButton(text=_("📥 XLSX"), callback_data=ListCD(
               action=ListAction.XLSX, id=info.id).pack()),
           InlineKeyboardButton(text=_("✏️ Filter"), callback_data=ListCD(
               action=ListAction.EDIT, id=info.id).pack()))
    if export:
        kb.row(*list_export_row(info.id))
    if info.mine:
        kb.row(InlineKeyboardButton(text=_("✏️ Rename"), callback_data=ListCD(
                   action=ListAction.RENAME, id=info.id).pack()),
               InlineKeyboardButton(text=_("🗑 Delete"), callback_data=ListCD(
                   action=ListAction.DELETE, id=info.id).pack()))
    kb.row(back_to_lists())
    return kb.as_markup()


def share_kb(step: int, has_team: bool) -> InlineKeyboardMarkup:
    team = _("👥 Shared with my team") if has_team else _("👥 Shared with everyone")
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=team,
                              callback_data=ShareCD(share=Share.TEAM, step=step).pack())],
        [InlineKeyboardButton(text=_("🔒 Only me"),
                              callback_data=ShareCD(share=Share.PRIVATE, step=step).pack())],
        [InlineKeyboardButton(text=_("« Back"),
                              callback_data=ListCD(action=ListAction.DRAFT).pack())],
    ])


def back_to_list(list_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("« Back"), callback_data=ListCD(
        action=ListAction.OPEN, id=list_id).pack())
