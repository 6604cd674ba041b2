"""Callback data of the client's own channel: deep links and replies to a client.

Every id is re-checked in crm/channel.py when pressed.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.keyboards.client import ClientAction, ClientCD, back_to_card
from bot.keyboards.types import CD, DbId, Step
from crm.channel import LinkTarget


class LinkCD(CD, prefix="ln"):
    """Make a link for this contact person (None: the client itself); the picker's step."""

    client_id: DbId
    contact_id: DbId | None = None
    step: Step


class LinkRevokeCD(CD, prefix="lnr"):
    link_id: DbId


class ChanAction(StrEnum):
    REPLY = "reply"


class ChanCD(CD, prefix="ch"):
    """A linked client's Telegram: reply to them."""

    channel_id: DbId
    action: ChanAction


def link_targets_kb(client_id: int, targets: list[LinkTarget], step: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(
        text=f"👤 {t.name}",
        callback_data=LinkCD(client_id=client_id, contact_id=t.contact_id, step=step).pack(),
    )] for t in targets[:20]]
    rows.append([back_to_card(client_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def link_kb(link_id: int, client_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=_("🚫 Revoke"),
                              callback_data=LinkRevokeCD(link_id=link_id).pack())],
        [back_to_card(client_id)],
    ])


def client_message_kb(channel_id: int, client_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(
            text=_("↩️ Reply"),
            callback_data=ChanCD(channel_id=channel_id, action=ChanAction.REPLY).pack()),
        InlineKeyboardButton(
            text=_("📇 Card"),
            callback_data=ClientCD(id=client_id, action=ClientAction.OPEN).pack()),
    ]])
