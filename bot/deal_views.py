"""Texts of the deal, invoice and payment screens: pure functions of crm DTOs."""

from __future__ import annotations

import html
from decimal import Decimal

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.render import clip, current_locale, fmt_date, fmt_datetime, fmt_money, fmt_percent
from crm.billing import InvoiceView
from crm.deals import DealEvent, DealView, InvoiceLine
from crm.dto import Actor

SHOWN_INVOICES = 5


def e(value: str | None) -> str:
    return html.escape(value or "")


def money(amount: Decimal, currency: str) -> str:
    return fmt_money(amount, currency)


# --- texts ---------------------------------------------------------------------------------


def invoice_line_text(inv: InvoiceLine) -> str:
    name = inv.number or f"#{inv.id}"
    if inv.is_paid:
        status = _("paid in full")
    elif inv.overdue:
        status = ngettext("⚠️ overdue by {days} day", "⚠️ overdue by {days} days",
                          inv.days_overdue).format(days=inv.days_overdue)
    else:
        status = _("due by {date}").format(date=fmt_date(inv.due_on))
    return _("🧾 {name}: {amount}, paid {paid}, due {due} — {status}").format(
        name=e(name), amount=money(inv.amount, inv.currency),
        paid=money(inv.paid, inv.currency), due=money(inv.due, inv.currency), status=status,
    )


def event_text(ev: DealEvent, currency: str) -> str:
    loc = current_locale()
    stage_to = e(ev.stage_to.text(loc)) if ev.stage_to else "?"
    amount = money(ev.amount, currency) if ev.amount is not None else ""
    if ev.event == "deal_created":
        text = _("opened at «{stage}», {amount}").format(stage=stage_to, amount=amount)
    elif ev.event == "stage_changed":
        stage_from = e(ev.stage_from.text(loc)) if ev.stage_from else "?"
        text = _("stage: {old} → {new}").format(old=stage_from, new=stage_to)
    elif ev.event == "deal_won":
        text = _("won, {amount}").format(amount=amount)
    elif ev.event == "deal_lost":
        reason = e(ev.reason.text(loc)) if ev.reason else "?"
        text = _("lost at «{stage}»: {reason}").format(stage=stage_to, reason=reason)
        if ev.note:
            text += f" ({e(ev.note)})"
    elif ev.event == "deal_reopened":
        text = _("reopened at «{stage}»").format(stage=stage_to)
    elif ev.event == "invoice_added":
        text = _("invoice for {amount}").format(amount=amount)
    elif ev.event == "payment_received":
        text = _("payment of {amount}").format(amount=amount)
    else:
        text = e(ev.event)
    return text


def deal_text(view: DealView, actor: Actor) -> str:
    loc = current_locale()
    cur = view.currency
    lines = [
        f"💼 <b>{e(view.title)}</b>",
        _("Client: {name}").format(name=e(view.client_name)),
    ]
    if view.status == "won":
        lines.append(_("✅ <b>Won</b> {date}").format(
            date=fmt_date(view.closed_at.astimezone(actor.tz).date()) if view.closed_at else ""
        ))
    elif view.status == "lost":
        lost_at = view.lost_stage.text(loc) if view.lost_stage else view.stage.text(loc)
        reason = view.loss_reason.text(loc) if view.loss_reason else "—"
        lines.append(_("❌ <b>Lost</b> at the stage «{stage}»: {reason}").format(
            stage=e(lost_at), reason=e(reason)
        ))
        if view.loss_note:
            lines.append(f"<i>{e(view.loss_note)}</i>")
    else:
        lines.append(_("Stage: <b>{stage}</b>").format(stage=e(view.stage.text(loc))))
    lines.append(_("Amount: {amount}").format(amount=money(view.amount, cur)))
    if view.probability is not None:
        lines.append(_("Probability: {p}").format(p=fmt_percent(view.probability)))
    if view.expected_close is not None:
        lines.append(_("Expected close: {date}").format(date=fmt_date(view.expected_close)))
    lines.append(_("Opened: {date}").format(date=fmt_datetime(view.opened_at, actor.tz)))
    s = view.summary
    lines.append("")
    if s.count:
        total = _("Invoices: {n}, invoiced {invoiced}, paid {paid}, due {due}").format(
            n=s.count, invoiced=money(s.invoiced, cur), paid=money(s.paid, cur),
            due=money(s.due, cur),
        )
        if s.overdue:
            total += _(", <b>overdue {amount}</b>").format(amount=money(s.overdue, cur))
        lines.append(total)
        lines += [invoice_line_text(i) for i in view.invoices[:SHOWN_INVOICES]]
    else:
        lines.append(_("No invoices yet."))
    if view.history:
        lines += ["", _("<b>Recent history</b>")]
        for ev in view.history:
            who = f" — {e(ev.author)}" if ev.author else ""
            lines.append(f"• {fmt_datetime(ev.at, actor.tz)}: {event_text(ev, cur)}{who}")
    return clip("\n".join(lines))


def invoice_text(view: InvoiceView) -> str:
    inv = view.line
    cur = inv.currency
    name = inv.number or f"#{inv.id}"
    lines = [
        _("🧾 <b>Invoice {name}</b>").format(name=e(name)),
        _("Deal: {title}").format(title=e(inv.deal_title)),
        _("Client: {name}").format(name=e(view.client_name)),
        _("Amount: {amount}").format(amount=money(inv.amount, cur)),
        _("Paid: {amount}").format(amount=money(inv.paid, cur)),
        _("Due: {amount}").format(amount=money(inv.due, cur)),
        _("Due date: {date}").format(date=fmt_date(inv.due_on)),
    ]
    if inv.is_paid:
        lines.append(_("✅ Paid in full"))
    elif inv.overdue:
        lines.append(ngettext("⚠️ Overdue by {days} day", "⚠️ Overdue by {days} days",
                              inv.days_overdue).format(days=inv.days_overdue))
    if view.payments:
        lines += ["", _("<b>Payments</b>")]
        lines += [f"• {fmt_date(p.paid_on)} — {money(p.amount, cur)}" for p in view.payments]
    return clip("\n".join(lines))


def invoices_text(title: str, lines: list[InvoiceLine], with_deal: bool) -> str:
    out = [title]
    if not lines:
        out.append(_("No invoices yet."))
    for inv in lines[:40]:
        line = invoice_line_text(inv)
        if with_deal:
            line += "\n   " + _("Deal: {title}").format(title=e(inv.deal_title))
        out.append(line)
    return clip("\n".join(out))
