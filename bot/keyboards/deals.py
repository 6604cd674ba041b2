"""Callback data for deals, invoices and payments."""

from __future__ import annotations

from datetime import date

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.keyboards.client import ClientCD
from bot.render import current_locale, fmt_date, fmt_money, fmt_percent
from crm.billing import InvoiceView
from crm.classifiers import Label, StageInfo
from crm.deals import DealItem, DealView, InvoiceLine


class DealCD(CallbackData, prefix="d"):
    """action: open, stages, won, wonok (confirm the amount and close as won), lost, reopen,
    inv (invoices), newinv."""

    id: int
    action: str


class StageCD(CallbackData, prefix="ds"):
    deal_id: int
    stage_id: int


class LossCD(CallbackData, prefix="dl"):
    deal_id: int
    reason_id: int


class InvoiceCD(CallbackData, prefix="i"):
    """action: open, pay (record a payment), payfull (the whole rest in one tap)."""

    id: int
    action: str


class DealDateCD(CallbackData, prefix="dcl"):
    """The expected close of a new deal. choice: eom (end of this month), nm (end of next
    month), skip."""

    choice: str


class InvDueCD(CallbackData, prefix="idue"):
    """The due date of a new invoice: in so many days from today."""

    days: int


class DealCancelCD(CallbackData, prefix="dx"):
    """Leave a deal, invoice or payment form; back to the deal when there is one."""

    deal_id: int = 0


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
        kb.button(text=" · ".join(parts), callback_data=DealCD(id=d.id, action="open"))
    if can_create:
        kb.button(text=_("➕ New deal"), callback_data=ClientCD(id=client_id, action="newdeal"))
    kb.button(text=_("« Card"), callback_data=ClientCD(id=client_id, action="open"))
    kb.adjust(1)
    return kb.as_markup()


def deal_kb(view: DealView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    sizes: list[int] = []
    if view.is_open and view.can_change:
        kb.button(text=_("➡️ Move stage"), callback_data=DealCD(id=view.id, action="stages"))
        kb.button(text=_("✅ Won"), callback_data=DealCD(id=view.id, action="won"))
        kb.button(text=_("❌ Lost"), callback_data=DealCD(id=view.id, action="lost"))
        sizes += [1, 2]
    kb.button(text=_("🧾 Invoices"), callback_data=DealCD(id=view.id, action="inv"))
    sizes.append(1)
    if view.can_reopen:
        kb.button(text=_("↩️ Reopen"), callback_data=DealCD(id=view.id, action="reopen"))
        sizes.append(1)
    kb.button(text=_("« Card"), callback_data=ClientCD(id=view.client_id, action="open"))
    sizes.append(1)
    kb.adjust(*sizes)
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
    kb.button(text=_("« Back"), callback_data=DealCD(id=deal_id, action="open"))
    kb.adjust(1)
    return kb.as_markup()


def loss_kb(deal_id: int, reasons: list[Label]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    loc = current_locale()
    for r in reasons:
        kb.button(text=_short(r.text(loc)), callback_data=LossCD(deal_id=deal_id, reason_id=r.id))
    kb.button(text=_("« Back"), callback_data=DealCD(id=deal_id, action="open"))
    kb.adjust(2)
    return kb.as_markup()


def won_kb(deal_id: int, amount: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✅ Confirm {amount}").format(amount=amount),
              callback_data=DealCD(id=deal_id, action="wonok"))
    kb.button(text=_("« Back"), callback_data=DealCD(id=deal_id, action="open"))
    kb.adjust(1)
    return kb.as_markup()


def close_date_kb(end_of_month: date, end_of_next: date) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("End of this month ({date})").format(date=fmt_date(end_of_month)),
              callback_data=DealDateCD(choice="eom"))
    kb.button(text=_("End of next month ({date})").format(date=fmt_date(end_of_next)),
              callback_data=DealDateCD(choice="nm"))
    kb.button(text=_("Skip"), callback_data=DealDateCD(choice="skip"))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD())
    kb.adjust(1, 1, 2)
    return kb.as_markup()


def due_kb(deal_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for days in (3, 7, 14, 30):
        kb.button(text=_("in {n} d.").format(n=days), callback_data=InvDueCD(days=days))
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    kb.adjust(4, 1)
    return kb.as_markup()


def cancel_kb(deal_id: int = 0) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✖️ Cancel"), callback_data=DealCancelCD(deal_id=deal_id))
    return kb.as_markup()


def _invoice_button(kb: InlineKeyboardBuilder, inv: InvoiceLine) -> None:
    mark = "✅" if inv.is_paid else ("⚠️" if inv.overdue else "🧾")
    name = inv.number or f"#{inv.id}"
    shown = inv.amount if inv.is_paid else inv.due
    kb.button(
        text=f"{mark} {_short(name, 20)} · {fmt_money(shown, inv.currency)}",
        callback_data=InvoiceCD(id=inv.id, action="open"),
    )


def deal_invoices_kb(view: DealView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for inv in view.invoices[:MAX_BUTTONS]:
        _invoice_button(kb, inv)
    if view.can_invoice:
        kb.button(text=_("➕ Invoice"), callback_data=DealCD(id=view.id, action="newinv"))
    kb.button(text=_("« Deal"), callback_data=DealCD(id=view.id, action="open"))
    kb.adjust(1)
    return kb.as_markup()


def client_invoices_kb(client_id: int, lines: list[InvoiceLine]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for inv in lines[:MAX_BUTTONS]:
        _invoice_button(kb, inv)
    kb.button(text=_("« Card"), callback_data=ClientCD(id=client_id, action="open"))
    kb.adjust(1)
    return kb.as_markup()


def invoice_kb(view: InvoiceView) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    line = view.line
    sizes: list[int] = []
    if view.can_change and line.status == "open" and line.due > 0:
        kb.button(text=_("💵 Record payment"), callback_data=InvoiceCD(id=line.id, action="pay"))
        kb.button(text=_("✅ Paid in full"), callback_data=InvoiceCD(id=line.id, action="payfull"))
        sizes.append(2)
    kb.button(text=_("« Invoices"), callback_data=DealCD(id=line.deal_id, action="inv"))
    kb.button(text=_("« Deal"), callback_data=DealCD(id=line.deal_id, action="open"))
    sizes.append(2)
    kb.adjust(*sizes)
    return kb.as_markup()
