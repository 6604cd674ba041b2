"""Callback data and keyboards of the document library and of sending a document from the
card. Every id is re-checked in crm/documents.py when pressed."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.client import back_to_card
from bot.keyboards.types import CD, DbId, Step
from crm.documents import DocumentInfo, Target


class LibAction(StrEnum):
    LIST = "list"
    ADD = "add"


class LibCD(CD, prefix="lb"):
    """The library: its list, «Add»."""

    action: LibAction


class DocAction(StrEnum):
    OPEN = "open"
    RENAME = "rename"
    REPLACE = "replace"
    HIDE = "hide"
    SHOW = "show"


class DocCD(CD, prefix="lbd"):
    document_id: DbId
    action: DocAction


class DocNameCD(CD, prefix="lbn"):
    """Name a new document after its file."""

    step: Step


class SendDocCD(CD, prefix="sd"):
    """Sending from the card: the document picked."""

    client_id: DbId
    document_id: DbId
    step: Step


class Channel(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


class SendToCD(CD, prefix="sdt"):
    """…to whom (a linked Telegram: the channel's id; e-mail: the contact person's)."""

    channel: Channel
    target_id: DbId
    step: Step


class SendGoCD(CD, prefix="sdg"):
    """…without a comment."""

    step: Step


def _b(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def library_kb(docs: list[DocumentInfo]) -> InlineKeyboardMarkup:
    rows = [[_b(("🙈 " if d.hidden else "📄 ") + f"{d.name[:40]} · v{d.version}",
                DocCD(document_id=d.id, action=DocAction.OPEN))] for d in docs[:50]]
    rows.append([_b(_("➕ Add a document"), LibCD(action=LibAction.ADD))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def document_kb(doc: DocumentInfo) -> InlineKeyboardMarkup:
    did = doc.id
    hide = _b(_("👁 Show again"), DocCD(document_id=did, action=DocAction.SHOW)) if doc.hidden \
        else _b(_("🙈 Hide"), DocCD(document_id=did, action=DocAction.HIDE))
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("🔄 New version"), DocCD(document_id=did, action=DocAction.REPLACE)),
         _b(_("✏️ Rename"), DocCD(document_id=did, action=DocAction.RENAME))],
        [hide],
        [_b(_("« Documents"), LibCD(action=LibAction.LIST))],
    ])


def back_to_library_kb() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("« Documents"), LibCD(action=LibAction.LIST))]])


def use_file_name_kb(file_name: str, step: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("Name it «{name}»").format(name=file_name[:40]), DocNameCD(step=step))]])


def pick_document_kb(client_id: int, docs: list[DocumentInfo], step: int
                     ) -> InlineKeyboardMarkup:
    rows = [[_b(f"📄 {d.name[:50]}", SendDocCD(client_id=client_id, document_id=d.id,
                                               step=step))] for d in docs[:30]]
    rows.append([back_to_card(client_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def pick_target_kb(client_id: int, targets: list[Target], step: int) -> InlineKeyboardMarkup:
    rows = []
    for t in targets[:20]:
        text = f"💬 {t.name} · Telegram" if t.channel == "telegram" \
            else f"✉️ {t.name} · {t.address}"
        rows.append([_b(text[:64], SendToCD(channel=Channel(t.channel), target_id=t.id,
                                            step=step))])
    rows.append([back_to_card(client_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def send_now_kb(client_id: int, step: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_b(_("📤 Send without a comment"), SendGoCD(step=step))],
        [back_to_card(client_id)],
    ])
