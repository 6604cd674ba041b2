"""Buttons under reminders, overdue-payment alerts and digests.

Every id here is re-checked in `crm/` when pressed: these bytes come from the phone.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.client import ClientAction, ClientCD, LogTypeCD, PlanCD
from bot.keyboards.deals import InvoiceCD
from bot.keyboards.types import CD, DbId
from crm.digest import Digest
from crm.reminders import OverdueView, ReminderView


class RemAction(StrEnum):
    NO_ANSWER_2H = "na2h"  # no answer: logged, next try in 2 h
    NO_ANSWER_TOMORROW = "natom"  # … next working morning
    SNOOZE_15M = "s15m"
    SNOOZE_1H = "s1h"
    SNOOZE_TOMORROW = "stom"
    DONE = "done"


class RemCD(CD, prefix="rm"):
    """A one-tap action under a reminder."""

    planned_id: DbId
    action: RemAction


class DigestKind(StrEnum):
    STALLED = "stalled"  # deals
    OVERDUE = "overdue"  # invoices


class DigestCD(CD, prefix="dg"):
    """Drill down from a digest."""

    kind: DigestKind
    user_id: DbId


RA = RemAction
NO_ANSWER = {RemAction.NO_ANSWER_2H: "2h", RemAction.NO_ANSWER_TOMORROW: "tom"}
SNOOZE = {RemAction.SNOOZE_15M: "15m", RemAction.SNOOZE_1H: "1h",
          RemAction.SNOOZE_TOMORROW: "tom"}


def reminder_kb(view: ReminderView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    pid = view.planned_id
    sizes = []
    if view.call_type_id is not None:
        kb.button(text=_("📞 Log call"), callback_data=LogTypeCD(
            client_id=view.client_id, type_id=view.call_type_id, planned_id=pid))
    kb.button(text=_("📇 Open card"), callback_data=ClientCD(id=view.client_id,
                                                                action=ClientAction.OPEN))
    sizes.append(2 if view.call_type_id is not None else 1)
    kb.button(text=_("🔕 No answer · in 2 h"),
              callback_data=RemCD(planned_id=pid, action=RA.NO_ANSWER_2H))
    kb.button(text=_("🔕 No answer · tomorrow"),
              callback_data=RemCD(planned_id=pid, action=RA.NO_ANSWER_TOMORROW))
    sizes.append(2)
    kb.button(text=_("⏰ 15 min"), callback_data=RemCD(planned_id=pid, action=RA.SNOOZE_15M))
    kb.button(text=_("⏰ 1 h"), callback_data=RemCD(planned_id=pid, action=RA.SNOOZE_1H))
    kb.button(text=_("⏰ Tomorrow"),
              callback_data=RemCD(planned_id=pid, action=RA.SNOOZE_TOMORROW))
    sizes.append(3)
    kb.button(text=_("✅ Done"), callback_data=RemCD(planned_id=pid, action=RA.DONE))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def open_card_kb(client_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📇 Open card"), callback_data=ClientCD(id=client_id, action="open"))
    return kb.as_markup()


def overdue_kb(view: OverdueView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("💰 Record payment"),
              callback_data=InvoiceCD(id=view.invoice_id, action="pay"))
    kb.button(text=_("📅 Plan a call"), callback_data=PlanCD(client_id=view.client_id,
                                                             when="tom10"))
    kb.button(text=_("📇 Open card"), callback_data=ClientCD(id=view.client_id,
                                                                action=ClientAction.OPEN))
    kb.adjust(1, 2)
    return kb.as_markup()


def digest_kb(digest: Digest) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    count = 0
    for f in digest.managers:
        short = f.name.split()[0][:20] if f.name.split() else f.name[:20]
        own = digest.scope == "own"
        if f.stalled:
            text = (_("🐢 Stalled deals: {n}") if own else _("🐢 {name}: stalled {n}")).format(
                name=short, n=f.stalled)
            kb.button(text=text, callback_data=DigestCD(kind=DigestKind.STALLED,
                                                        user_id=f.user_id))
            count += 1
        if f.overdue_invoices:
            text = (_("🧾 Overdue invoices: {n}") if own
                    else _("🧾 {name}: overdue {n}")).format(name=short, n=f.overdue_invoices)
            kb.button(text=text, callback_data=DigestCD(kind=DigestKind.OVERDUE,
                                                        user_id=f.user_id))
            count += 1
    if not count:
        return None
    kb.adjust(2)
    return kb.as_markup()


def client_list_kb(items: list[tuple[int, str]]) -> InlineKeyboardMarkup | None:
    """One "open card" button per (client id, label), at most 20."""
    if not items:
        return None
    kb = InlineKeyboardBuilder()
    for client_id, text in items[:20]:
        kb.button(text=text[:60], callback_data=ClientCD(id=client_id, action="open"))
    kb.adjust(1)
    return kb.as_markup()
