"""Callback data and keyboards of broadcasts: the wizard (its buttons carry the prompt's
step), a mailing's progress and report, and «Отписаться» under every broadcast message.

Every id is re-checked in crm/mailings.py when pressed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from pydantic import model_validator

from bot.keyboards.types import CD, DbId, Step
from crm.classifiers import Label
from crm.lists import SavedInfo
from crm.mailings import CANCELLED, DONE, EMAIL, PAUSED, SCHEDULED, SENDING, TELEGRAM


class WizAction(StrEnum):
    CAMPAIGN = "camp"  # id: the campaign (None: none)
    LIST = "list"  # id: a saved list (None: every client the sender sees, or the filter)
    TELEGRAM = "tg"  # toggle a channel
    EMAIL = "mail"
    CHANNELS = "chok"  # the channels are chosen
    PREVIEW = "prev"  # the message as the first recipient sees it
    TEST = "test"  # … sent to oneself
    NOW = "now"
    LATER = "later"
    CONFIRM = "ok"  # the scheduled time is right
    LIBRARY = "lib"  # pick a document of the library for the message
    DOC = "doc"  # id: the library's document


class MailWizCD(CD, prefix="mw"):
    action: WizAction
    id: DbId | None = None
    step: Step


class MailAction(StrEnum):
    LIST = "list"  # the recent mailings
    NEW = "new"  # the wizard
    FROM_LIST = "fromlist"  # the wizard, to the client list just built (its filter)
    PROGRESS = "prog"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    REPORT = "rep"
    XLSX = "xlsx"


_WITHOUT_ID = {MailAction.LIST, MailAction.NEW, MailAction.FROM_LIST}


class MailCD(CD, prefix="ml"):
    action: MailAction
    id: DbId | None = None  # the mailing

    @model_validator(mode="after")
    def _whole(self) -> Self:
        if (self.action in _WITHOUT_ID) != (self.id is None):
            raise ValueError("a mailing's action needs its id, and only those")
        return self


class UnsubCD(CD, prefix="mu"):
    """«Отписаться» under a broadcast message: unsubscribes whoever presses it."""

    mailing_id: DbId


def unsubscribe_kb(mailing_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("Unsubscribe"), callback_data=UnsubCD(mailing_id=mailing_id).pack())]])


def campaigns_kb(campaigns: list[Label], locale: str, step: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(
        text=c.ru if locale == "ru" else c.en,
        callback_data=MailWizCD(action=WizAction.CAMPAIGN, id=c.id, step=step).pack())]
        for c in campaigns[:30]]
    rows.append([InlineKeyboardButton(
        text=_("— No campaign"),
        callback_data=MailWizCD(action=WizAction.CAMPAIGN, step=step).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def audience_kb(lists: list[SavedInfo], has_filter: bool, step: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(
        text=_("🔎 The list just built") if has_filter else _("👥 Every client I see"),
        callback_data=MailWizCD(action=WizAction.LIST, step=step).pack())]]
    rows += [[InlineKeyboardButton(
        text=f"🗂 {x.name}",
        callback_data=MailWizCD(action=WizAction.LIST, id=x.id, step=step).pack())]
        for x in lists[:30]]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def channels_kb(chosen: list[str], email_ready: bool, step: int) -> InlineKeyboardMarkup:
    def mark(on: bool) -> str:
        return "☑️" if on else "⬜️"

    email = (f"{mark(EMAIL in chosen)} " + _("E-mail")) if email_ready \
        else _("✉️ E-mail: not configured")
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(
            text=f"{mark(TELEGRAM in chosen)} Telegram",
            callback_data=MailWizCD(action=WizAction.TELEGRAM, step=step).pack())],
        [InlineKeyboardButton(
            text=email, callback_data=MailWizCD(action=WizAction.EMAIL, step=step).pack())],
        [InlineKeyboardButton(
            text=_("Next ➡️"),
            callback_data=MailWizCD(action=WizAction.CHANNELS, step=step).pack())],
    ])


def content_kb(step: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("📎 From the library"),
        callback_data=MailWizCD(action=WizAction.LIBRARY, step=step).pack())]])


def library_kb(docs: list[tuple[int, str]], step: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(
        text=f"📄 {name}"[:60],
        callback_data=MailWizCD(action=WizAction.DOC, id=doc_id, step=step).pack())]
        for doc_id, name in docs[:40]]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def review_kb(step: int, can_send: bool) -> InlineKeyboardMarkup:
    def b(text: str, action: WizAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text,
                                    callback_data=MailWizCD(action=action, step=step).pack())

    rows = [[b(_("👁 Preview"), WizAction.PREVIEW), b(_("🧪 Test to me"), WizAction.TEST)]]
    if can_send:
        rows.append([b(_("🚀 Send now"), WizAction.NOW), b(_("🕒 Later…"), WizAction.LATER)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def confirm_later_kb(step: int, when: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=_("✅ Send at {when}").format(when=when),
        callback_data=MailWizCD(action=WizAction.CONFIRM, step=step).pack())]])


def progress_buttons(mailing_id: int, status: str) -> InlineKeyboardMarkup:
    def b(text: str, action: MailAction) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text,
                                    callback_data=MailCD(action=action, id=mailing_id).pack())

    rows: list[list[InlineKeyboardButton]] = []
    if status == SENDING:
        rows.append([b(_("⏸ Pause"), MailAction.PAUSE), b(_("✖️ Cancel"), MailAction.CANCEL)])
    elif status == PAUSED:
        rows.append([b(_("▶️ Resume"), MailAction.RESUME),
                     b(_("✖️ Cancel"), MailAction.CANCEL)])
    elif status == SCHEDULED:
        rows.append([b(_("✖️ Cancel"), MailAction.CANCEL)])
    if status in (SENDING, PAUSED, DONE, CANCELLED):
        rows.append([b(_("📊 Report"), MailAction.REPORT)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def report_kb(mailing_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=_("📥 Recipients XLSX"), callback_data=MailCD(
            action=MailAction.XLSX, id=mailing_id).pack())],
        [InlineKeyboardButton(text=_("🔄 Refresh"), callback_data=MailCD(
            action=MailAction.REPORT, id=mailing_id).pack()),
         InlineKeyboardButton(text=_("📣 Mailings"), callback_data=MailCD(
             action=MailAction.LIST).pack())],
    ])
