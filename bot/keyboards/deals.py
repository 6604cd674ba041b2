"""Callback data for deals, invoices and payments."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.types import CD, DbId, Step
from bot.render import current_locale, fmt_date, fmt_money, fmt_percent
from crm.billing import InvoiceView
from crm.classifiers import Label, StageInfo
from crm.deals import DealItem, DealView, InvoiceLine


class DealAction(StrEnum):
    OPEN = "open"
    STAGES = "stages"
    WON = "won"
    LOST = "lost"
    REOPEN = "reopen"
    INVOICES = "inv"
    NEW_INVOICE = "newinv"
    REPORT = "rep"  # open the deal from a report: the deal gets «« Back to the report»


class DealCD(CD, prefix="d"):
    id: DbId
    action: DealAction


class StageCD(CD, prefix="ds"):
    deal_id: DbId
    stage_id: DbId


class LossCD(CD, prefix="dl"):
    deal_id: DbId
    reason_id: DbId


class WonCD(CD, prefix="dwon"):
    """"Close as won with the amount shown": the answer of the won form's prompt."""

    step: Step


class InvoiceAction(StrEnum):
    OPEN = "open"
    PAY = "pay"  # record a payment
    PAY_FULL = "payfull"  # the whole rest, after a confirmation
    REPORT = "rep"  # open the invoice from a report: it gets «« Back to the report»


class InvoiceCD(CD, prefix="i"):
    id: DbId
    action: InvoiceAction


class BigAmountCD(CD, prefix="dba"):
    """An amount above the sane limit: it is right (ok), or typed again."""

    ok: bool
    step: Step


class PayConfirmCD(CD, prefix="ipc"):
    """"Record a payment of … — confirm?": the answer of the payment form's prompt."""

    step: Step


class PayDay(StrEnum):
    TODAY = "today"
    YESTERDAY = "yest"
    KEEP = "keep"  # a corrected payment keeps its date


class PayDateCD(CD, prefix="ipd"):
    """The date of a payment."""

    day: PayDay
    step: Step


class PaymentEditCD(CD, prefix="ipe"):
    """✏️ Correct a recorded payment (heads and admins; re-checked in crm)."""

    id: DbId


class PayKeepCD(CD, prefix="ipk"):
    """A corrected payment keeps its amount."""

    step: Step


class CloseChoice(StrEnum):
    END_OF_MONTH = "eom"
    NEXT_MONTH = "nm"
    SKIP = "skip"


class DealDateCD(CD, prefix="dcl"):
    """The expected close of a new deal."""

    choice: CloseChoice
    step: Step


class InvDueCD(CD, prefix="idue"):
    """The due date of a new invoice: in so many days from today."""

    days: Annotated[int, Field(ge=0, le=365)]
    step: Step


class DealCancelCD(CD, prefix="dx"):
    """Leave a deal, invoice or payment form; back to the deal when there is one."""

    deal_id: DbId | None = None


STATUS_MARK = {"open": "🟢", "won": "✅", "lost": "❌"}
MAX_BUTTONS = 30


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def client_deals_kb(
    client_id: int, deals: list[DealItem], can_create: bool
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    loc = current_locale()
    for d in deals[:MAX_BUTTONS]:
        where = d.stage.text(loc) if d.status == "open" else ""
        parts = [f"{STATUS_MARK.get(d.status, '')} {_short(d.title, 32)}",
                 fmt_money(d.amount, d.currency)]
        if where:
            parts.append(_short(where, 20))
        kb.button(text=" · ".join(parts), callback_data=DealCD(id=d.id, action=DealAction.OPEN))
    if can_create:
        kb.button(text=_("➕ New deal"),
                  callback_data=ClientCD(id=client_id, action=ClientAction.NEW_DEAL))
    kb.button(text=_("« Card"), callback_data=ClientCD(id=client_id, action=ClientAction.OPEN))
    kb.adjust(1)
    return kb.as_markup()


def deal_kb(view: DealView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    if view.is_open and view.can_change:
        kb.button(text=_("➡️ Move stage"),
                  callback_data=DealCD(id=view.id, action=DealAction.STAGES))
        kb.button(text=_("✅ Won"), callback_data=DealCD(id=view.id, action=DealAction.WON))
        kb.button(text=_("❌ Lost"), callback_data=DealCD(id=view.id, action=DealAction.LOST))
        sizes += [1, 2]
    kb.button(text=_("🧾 Invoices"), callback_data=DealCD(id=view.id, action=DealAction.INVOICES))
    sizes.append(1)
    if view.can_reopen:
        kb.button(text=_("↩️ Reopen"),
                  callback_data=DealCD(id=view.id, action=DealAction.REOPEN))
        sizes.append(1)
    kb.button(text=_("« Card"),
              callback_data=ClientCD(id=view.client_id, action=ClientAction.OPEN))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def open_deal_kb(deal_id: int) -> InlineKeyboardMarkup:
    """One button to the deal (under a notice)."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("💼 Open the deal"), callback_data=DealCD(id=deal_id, action=DealAction.OPEN))
    return kb.as_markup()


def stages_kb(deal_id: int, stages: list[StageInfo], current_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    loc = current_locale()
    for st in stages:
        mark = "• " if st.id == current_id else ""
        kb.button(
            text=f"{mark}{_short(st.text(loc))} ({fmt_percent(st.probability)})",
            callback_data=StageCD(deal_id=deal_id, stage_id=st.id),
        )
    kb.button(text=_("« Back"), callback_data=DealCD(id=deal_id, action=DealAction.OPEN))
    kb.adjust(1)
    return kb.as_markup()


def loss_kb(deal_id: int, reasons: list[Label]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    loc = current_locale()
    for r in reasons:
        kb.button(text=_short(r.text(loc)), callback_data=LossCD(deal_id=deal_id, reason_id=r.id))
    kb.button(text=_("« Back"), callback_data=DealCD(id=deal_id, action=DealAction.OPEN))
    kb.adjust(2)
    return kb.as_markup()


def won_kb(deal_id: int, amount: str, step: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm {amount}").format(amount=amount), callback_data=WonCD(step=step))
    kb.button(text=_("« Back"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(1)
    return kb.as_markup()


def close_date_kb(end_of_month: date, end_of_next: date, step: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("End of this month ({date})").format(date=fmt_date(end_of_month)),
              callback_data=DealDateCD(choice=CloseChoice.END_OF_MONTH, step=step))
    kb.button(text=_("End of next month ({date})").format(date=fmt_date(end_of_next)),
              callback_data=DealDateCD(choice=CloseChoice.NEXT_MONTH, step=step))
    kb.button(text=_("Skip"), callback_data=DealDateCD(choice=CloseChoice.SKIP, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD())
    kb.adjust(1, 1, 2)
    return kb.as_markup()


def due_kb(deal_id: int, step: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for days in (3, 7, 14, 30):
        kb.button(text=_("in {n} d.").format(n=days), callback_data=InvDueCD(days=days, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(4, 1)
    return kb.as_markup()


def cancel_kb(deal_id: int | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    return kb.as_markup()


def big_amount_kb(amount: str, step: int, deal_id: int | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Yes, {amount}").format(amount=amount),
              callback_data=BigAmountCD(ok=True, step=step))
    kb.button(text=_("✏️ No, type it again"), callback_data=BigAmountCD(ok=False, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(1)
    return kb.as_markup()


def pay_confirm_kb(deal_id: int, step: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm"), callback_data=PayConfirmCD(step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(2)
    return kb.as_markup()


def pay_date_kb(deal_id: int, step: int, keep: date | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Today"), callback_data=PayDateCD(day=PayDay.TODAY, step=step))
    kb.button(text=_("Yesterday"), callback_data=PayDateCD(day=PayDay.YESTERDAY, step=step))
    if keep is not None:
        kb.button(text=_("Keep {date}").format(date=fmt_date(keep)),
                  callback_data=PayDateCD(day=PayDay.KEEP, step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(2, 1)
    return kb.as_markup()


def pay_keep_kb(deal_id: int, amount: str, step: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Keep {amount}").format(amount=amount), callback_data=PayKeepCD(step=step))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(1)
    return kb.as_markup()


def _invoice_button(kb: InlineKeyboardBuilder, inv: InvoiceLine) -> None:
    mark = "✅" if inv.is_paid else ("⚠️" if inv.overdue else "🧾")
    name = inv.number or f"#{inv.id}"
    shown = inv.amount if inv.is_paid else inv.due
    kb.button(
        text=f"{mark} {_short(name, 20)} · {fmt_money(shown, inv.currency)}",
        callback_data=InvoiceCD(id=inv.id, action=InvoiceAction.OPEN),
    )


def deal_invoices_kb(view: DealView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for inv in view.invoices[:MAX_BUTTONS]:
        _invoice_button(kb, inv)
    if view.can_invoice:
        kb.button(text=_("➕ Invoice"),
                  callback_data=DealCD(id=view.id, action=DealAction.NEW_INVOICE))
    kb.button(text=_("« Deal"), callback_data=DealCD(id=view.id, action=DealAction.OPEN))
    kb.adjust(1)
    return kb.as_markup()


def client_invoices_kb(client_id: int, lines: list[InvoiceLine]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for inv in lines[:MAX_BUTTONS]:
        _invoice_button(kb, inv)
    kb.button(text=_("« Card"), callback_data=ClientCD(id=client_id, action=ClientAction.OPEN))
    kb.adjust(1)
    return kb.as_markup()


def invoice_kb(view: InvoiceView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    line = view.line
    sizes: list[int] = []
    if view.can_change and line.status == "open" and line.due > 0:
        kb.button(text=_("💵 Record payment"),
                  callback_data=InvoiceCD(id=line.id, action=InvoiceAction.PAY))
        kb.button(text=_("✅ Paid in full"),
                  callback_data=InvoiceCD(id=line.id, action=InvoiceAction.PAY_FULL))
        sizes.append(2)
    if view.can_correct:
        for p in view.payments[:MAX_BUTTONS]:
            kb.button(text=_("✏️ {amount} · {date}").format(
                amount=fmt_money(p.amount, line.currency), date=fmt_date(p.paid_on)),
                callback_data=PaymentEditCD(id=p.id))
            sizes.append(1)
    kb.button(text=_("« Invoices"),
              callback_data=DealCD(id=line.deal_id, action=DealAction.INVOICES))
    kb.button(text=_("« Deal"), callback_data=DealCD(id=line.deal_id, action=DealAction.OPEN))
    sizes.append(2)
    kb.adjust(*sizes)
    return kb.as_markup()
