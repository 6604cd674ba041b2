"""Buttons of the client import and export (bot/handlers/imports.py)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from pydantic import Field as Bounds

from bot.keyboards.types import CD, DbId, Step
from crm.importer import IMPORTABLE, Assignee, Field


class ExchangeAction(StrEnum):
    IMPORT = "import"  # start an import: "send the file"
    EXPORT = "export"  # pick the export's format


class ExchangeCD(CD, prefix="xch"):
    action: ExchangeAction


class ExportFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


class ExportCD(CD, prefix="exp"):
    fmt: ExportFormat
    list_id: DbId | None = None  # a saved list's clients only (re-checked in crm.lists)


# What an unrecognised column can be: one of the fields, or nothing.
ColumnChoice = StrEnum(  # type: ignore[misc]
    "ColumnChoice", [(f.name, f.value) for f in IMPORTABLE] + [("SKIP", "skip")]
)


class ImportColumnCD(CD, prefix="impcol"):
    step: Step
    col: Annotated[int, Bounds(ge=0, le=1000)]
    choice: ColumnChoice


class ValuesChoice(StrEnum):
    CREATE = "create"  # this value: create it
    EMPTY = "empty"  # this value: leave the field empty
    MAP = "map"  # this value: pick the existing item it means
    CREATE_REST = "create_rest"  # this one and every one after it: create
    EMPTY_REST = "empty_rest"  # this one and every one after it: leave empty
    BACK = "back"  # from the list of items back to the question


class ImportValuesCD(CD, prefix="impval"):
    step: Step
    choice: ValuesChoice


class ImportMapCD(CD, prefix="impmap"):
    """The existing classifier item an unknown value of the file means."""

    step: Step
    item: DbId


class ImportOwnerCD(CD, prefix="impown"):
    step: Step
    queue: bool = False  # the leads queue: no manager
    user: DbId | None = None


class GoAction(StrEnum):
    IMPORT = "import"
    CANCEL = "cancel"


class ImportGoCD(CD, prefix="impgo"):
    step: Step
    action: GoAction


def field_title(f: Field) -> str:
    titles = {
        Field.NAME: _("Name"),
        Field.PHONE: _("Phone"),
        Field.EMAIL: _("E-mail"),
        Field.TAX_NUMBER: _("Tax number"),
        Field.ADDRESS: _("Address"),
        Field.REGION: _("Region"),
        Field.INDUSTRY: _("Industry"),
        Field.SEGMENT: _("Segment"),
        Field.SOURCE: _("Source"),
        Field.CAMPAIGN: _("Campaign"),
        Field.CONTACT: _("Contact person"),
        Field.MANAGER: _("Manager"),
        Field.TRIGGER: _("Trigger event"),
        Field.PROBABILITY: _("Probability"),
        Field.DEALS: _("Open deals"),
        Field.LAST_CONTACT: _("Last contact"),
        Field.NEXT_CONTACT: _("Next contact"),
    }
    return titles[f]


def exchange_row() -> list[InlineKeyboardButton]:
    """Import and export, under the reports of those who may use them."""
    return [
        InlineKeyboardButton(text=_("📥 Import clients"),
                             callback_data=ExchangeCD(action=ExchangeAction.IMPORT).pack()),
        InlineKeyboardButton(text=_("📤 Export clients"),
                             callback_data=ExchangeCD(action=ExchangeAction.EXPORT).pack()),
    ]


def export_kb() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="XLSX", callback_data=ExportCD(fmt=ExportFormat.XLSX).pack()),
        InlineKeyboardButton(text="CSV", callback_data=ExportCD(fmt=ExportFormat.CSV).pack()),
    ]])


def list_export_row(list_id: int) -> list[InlineKeyboardButton]:
    """Under a saved list: its clients in the import's format."""
    return [InlineKeyboardButton(text=_("📤 Export {fmt}").format(fmt=f.value.upper()),
                                 callback_data=ExportCD(fmt=f, list_id=list_id).pack())
            for f in ExportFormat]


def cancel_button(step: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("✖️ Cancel import"),
        callback_data=ImportGoCD(step=step, action=GoAction.CANCEL).pack())


def column_kb(step: int, col: int, used: Sequence[str]) -> InlineKeyboardMarkup:
    free = [f for f in IMPORTABLE if f.value not in used]
    buttons = [
        InlineKeyboardButton(text=field_title(f), callback_data=ImportColumnCD(
            step=step, col=col, choice=ColumnChoice(f.value)).pack())
        for f in free
    ]
    rows = [buttons[i:i + 3] for i in range(0, len(buttons), 3)]
    rows.append([InlineKeyboardButton(text=_("⏭ Skip this column"), callback_data=ImportColumnCD(
        step=step, col=col, choice=ColumnChoice("skip")).pack())])
    rows.append([cancel_button(step)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _v(text: str, step: int, choice: ValuesChoice) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=ImportValuesCD(
        step=step, choice=choice).pack())


def values_kb(step: int, value: str, more: int) -> InlineKeyboardMarkup:
    """One unknown value: create it, map it to an existing item, leave it empty; with
    `more` values after it, the same for all of them at once."""
    rows = [
        [_v(_("➕ Create «{value}»").format(value=value[:30]), step, ValuesChoice.CREATE)],
        [_v(_("🔗 It is one of the existing…"), step, ValuesChoice.MAP)],
        [_v(_("∅ Leave empty"), step, ValuesChoice.EMPTY)],
    ]
    if more:
        rows.append([_v(_("➕ Create all the rest ({count})").format(count=more + 1), step,
                        ValuesChoice.CREATE_REST),
                     _v(_("∅ Leave all the rest empty"), step, ValuesChoice.EMPTY_REST)])
    rows.append([cancel_button(step)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


ITEMS_SHOWN = 60


def map_kb(step: int, items: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """The existing items of the value's kind, two a row."""
    buttons = [InlineKeyboardButton(text=name[:30], callback_data=ImportMapCD(
        step=step, item=item_id).pack()) for item_id, name in items[:ITEMS_SHOWN]]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_v(_("« Back"), step, ValuesChoice.BACK)])
    rows.append([cancel_button(step)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


OWNERS_SHOWN = 40


def owner_kb(step: int, me: int | None, people: Sequence[Assignee]) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if me is not None:
        rows.append([InlineKeyboardButton(text=_("👤 Me"), callback_data=ImportOwnerCD(
            step=step, user=me).pack())])
    others = [InlineKeyboardButton(text=p.name[:40], callback_data=ImportOwnerCD(
        step=step, user=p.id).pack()) for p in people if p.id != me][:OWNERS_SHOWN]
    rows += [others[i:i + 2] for i in range(0, len(others), 2)]
    rows.append([InlineKeyboardButton(text=_("📥 Leads queue (no manager)"),
                                      callback_data=ImportOwnerCD(step=step, queue=True).pack())])
    rows.append([cancel_button(step)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def confirm_kb(step: int, new: int) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if new:
        rows.append([InlineKeyboardButton(
            text=_("✅ Import ({count})").format(count=new),
            callback_data=ImportGoCD(step=step, action=GoAction.IMPORT).pack())])
    rows.append([cancel_button(step)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
