"""Texts of the main screens: today, the card, the history. Pure functions of crm DTOs."""

from __future__ import annotations

import html
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.render import (
    clip,
    current_locale,
    fmt_date,
    fmt_datetime,
    fmt_day,
    fmt_money,
    fmt_percent,
)
from bot.texts import role_name
from bot.visit_views import visit_detail
from crm.classifiers import VISIT
from crm.clients import ClientCard, SearchPage
from crm.history import AgendaItem, AgendaPage, HistoryItem, HistoryPage, TodayView

CLASSIFIER_TITLES = ("region", "industry", "segment", "source", "campaign")


def e(value: str | None) -> str:
    return html.escape(value or "")


def classifier_title(kind: str) -> str:
    return {
        "region": _("Region"),
        "industry": _("Industry"),
        "segment": _("Segment"),
        "source": _("Source"),
        "campaign": _("Campaign"),
    }[kind]


def _more(shown: int, total: int) -> list[str]:
    return [_("…and {n} more").format(n=total - shown)] if total > shown else []


def _late_line(item: AgendaItem, tz: ZoneInfo) -> str:
    owner = f" · {e(item.owner_name)}" if item.owner_name else ""
    return f"⚠️ {fmt_datetime(item.due_at, tz)} — {e(item.client_name)}{owner}"


def _due_line(item: AgendaItem, tz: ZoneInfo) -> str:
    when = item.due_at.astimezone(tz).strftime("%H:%M")
    note = f" — <i>{e(item.note[:60])}</i>" if item.note else ""
    return f"• {when} {e(item.client_name)}{note}"


def today_text(view: TodayView, tz: ZoneInfo, currency: str) -> str:
    lines = [_("<b>Today, {day}</b>").format(day=fmt_day(view.day))]
    if view.overdue:
        lines.append("")
        lines.append(_("⚠️ Overdue: {n}").format(n=view.overdue_total))
        lines += [_late_line(item, tz) for item in view.overdue]
        lines += _more(len(view.overdue), view.overdue_total)
    lines.append("")
    if view.today:
        lines.append(_("📞 Planned for today: {n}").format(n=view.today_total))
        lines += [_due_line(item, tz) for item in view.today]
        lines += _more(len(view.today), view.today_total)
    else:
        lines.append(_("Nothing planned for today."))
    lines.append("")
    lines.append(
        _("💼 Open deals: {n} for {amount}").format(
            n=view.open_deals, amount=fmt_money(view.open_amount, currency)
        )
    )
    if view.overdue_invoices:
        lines.append(
            _("🧾 Overdue invoices: {n}, owed {amount}").format(
                n=view.overdue_invoices, amount=fmt_money(view.overdue_amount, currency)
            )
        )
    return clip("\n".join(lines))


def team_overdue_text(view: TodayView, tz: ZoneInfo) -> str:
    """A head's Today goes on with the team's overdue contacts (empty when there are none)."""
    if not view.team_overdue:
        return ""
    lines = ["", _("👥 Team: overdue {n}").format(n=view.team_overdue_total)]
    lines += [_late_line(item, tz) for item in view.team_overdue]
    lines += _more(len(view.team_overdue), view.team_overdue_total)
    return "\n".join(lines)


def agenda_text(page: AgendaPage, tz: ZoneInfo) -> str:
    """A page of one part of Today: every contact of it, a page at a time."""
    title = {
        "late": _("⚠️ Overdue: {n}"),
        "due": _("📞 Planned for today: {n}"),
        "team": _("👥 Team: overdue {n}"),
    }[page.part].format(n=page.total)
    lines = [f"<b>{title}</b>"]
    if page.pages > 1:
        lines.append(_("Page {page} of {pages}").format(page=page.page + 1, pages=page.pages))
    lines.append("")
    if not page.items:
        lines.append(_("Nothing here any more."))
    line = _due_line if page.part == "due" else _late_line
    lines += [line(item, tz) for item in page.items]
    return clip("\n".join(lines))


def consent_text(consent: str, since: datetime, tz: ZoneInfo) -> str:
    """A linked Telegram contact's state on the card."""
    day = fmt_date(since.astimezone(tz).date())
    if consent == "unsubscribed":
        return _("🚫 unsubscribed {date}").format(date=day)
    if consent == "blocked":
        return _("⛔ blocked the bot {date}").format(date=day)
    return _("✅ Telegram connected · subscribed")


def email_state_text(state: str) -> str:
    if state == "bounced":
        return _("⚠️ address refused, no mail")
    return _("🚫 unsubscribed from mail")


def card_text(card: ClientCard, tz: ZoneInfo) -> str:
    loc = current_locale()
    lines = [f"🏢 <b>{e(card.name)}</b>"]
    if card.merged_into is not None:
        lines.insert(0, _("🧬 <b>Merged into «{name}»</b> — its history, deals and contacts "
                          "are there now.").format(name=e(card.merged_into.name)))
    elif card.archived:
        lines.insert(0, _("🗄 <b>Archived</b>: not in searches, lists or reminders."))
    if card.owner_name:
        lines.append(_("Manager: {name}").format(name=e(card.owner_name)))
    for phone in card.phones:
        lines.append(f"📞 {e(phone)}")
    for email in card.emails:
        lines.append(f"✉️ {e(email)}")
    if card.address:
        lines.append(f"📍 {e(card.address)}")
    if card.tax_number:
        lines.append(_("Tax number: {inn}").format(inn=e(card.tax_number)))
    for kind in CLASSIFIER_TITLES:
        if kind in card.classifiers:
            lines.append(f"{classifier_title(kind)}: {e(card.classifiers[kind].text(loc))}")
    if card.trigger_event:
        lines.append(_("Why they came: {text}").format(text=e(card.trigger_event)))
    if card.probability is not None:
        lines.append(_("Purchase probability: {p}").format(p=fmt_percent(card.probability)))
    for c in card.contacts[:5]:
        bits = [e(c.name)]
        if c.position:
            bits.append(e(c.position))
        if c.phone:
            bits.append(e(c.phone))
        if c.email:
            state = card.email_states.get(c.id)
            bits.append(e(c.email) + (f" ({email_state_text(state)})" if state else ""))
        lines.append("👤 " + ", ".join(bits))
    for ch in card.channels[:5]:
        lines.append(f"💬 {e(ch.name)}: {consent_text(ch.consent, ch.since, tz)}")
    lines.append("")
    if card.open_deals:
        lines.append(_("<b>Open deals:</b>"))
        for d in card.open_deals[:8]:
            lines.append(
                f"• {e(d.title)} — {e(d.stage.text(loc))}, {fmt_money(d.amount, d.currency)}"
            )
    else:
        lines.append(_("No open deals."))
    if card.next_contact:
        lines.append(
            _("⏭ Next contact: {when}").format(when=fmt_datetime(card.next_contact.due_at, tz))
            + (f" — <i>{e(card.next_contact.note)}</i>" if card.next_contact.note else "")
        )
    else:
        lines.append(_("⏭ No next contact planned."))
    if card.invoiced:
        money = _("🧾 Invoiced {invoiced}, paid {paid}, due {due}").format(
            invoiced=fmt_money(card.invoiced, card.currency),
            paid=fmt_money(card.paid, card.currency),
            due=fmt_money(card.due, card.currency),
        )
        if card.overdue:
            money += _(", <b>overdue {overdue}</b>").format(
                overdue=fmt_money(card.overdue, card.currency)
            )
        lines.append(money)
    return clip("\n".join(lines))


def event_text(
    item: HistoryItem, page: HistoryPage | None = None, currency: str = "RUB"
) -> str:
    """A system event of the history in words; stage and reason codes named via `page`."""
    loc = current_locale()
    d = item.details or {}
    stages = page.stages if page is not None else {}
    reasons = page.reasons if page is not None else {}

    def stage(key: str) -> str:
        code = str(d.get(key, ""))
        return stages[code].text(loc) if code in stages else code

    def money() -> str:
        try:
            return fmt_money(Decimal(str(d["amount"])), currency)
        except (KeyError, ArithmeticError):
            return ""

    reason = str(d.get("reason", ""))
    reason_text = reasons[reason].text(loc) if reason in reasons else reason
    texts = {
        "no_next_step": lambda: _("No next step planned"),
        "deal_created": lambda: _("Deal created at «{stage}», {amount}").format(
            stage=stage("to"), amount=money()),
        "stage_changed": lambda: _("Stage changed: {old} → {new}").format(
            old=stage("from"), new=stage("to")),
        "deal_won": lambda: _("Deal won, {amount}").format(amount=money()),
        "deal_lost": lambda: _("Deal lost at «{stage}»: {reason}").format(
            stage=stage("stage"), reason=reason_text),
        "deal_reopened": lambda: _("Deal reopened at «{stage}»").format(stage=stage("stage")),
        "invoice_added": lambda: _("Invoice issued for {amount}").format(amount=money()),
        "payment_received": lambda: _("Payment received: {amount}").format(amount=money()),
        "reassigned": lambda: _("Handed over: {old} → {new}").format(
            old=d.get("from_name") or "—", new=d.get("to_name") or "—"),
        "merged": lambda: _("Merged with the duplicate «{name}»: its records are here now")
        .format(name=d.get("name", "")),
        "merged_into": lambda: _("Merged into «{name}»").format(name=d.get("name", "")),
        "archived": lambda: _("Archived"),
        "restored": lambda: _("Restored from the archive"),
        "client_message": lambda: _("💬 Message from the client in Telegram ({name})").format(
            name=str(d.get("from", ""))),
        "client_reply": lambda: _("↩️ Reply to the client in Telegram"),
        "document_sent": lambda: _("📤 Sent: {name} ({channel} → {to})").format(
            name=str(d.get("name", "")), to=str(d.get("to", "")),
            channel=_("e-mail") if d.get("channel") == "email" else "Telegram"),
    }
    make = texts.get(item.event or "")
    return e(make()) if make else e(item.event)


def history_item_text(item: HistoryItem, page: HistoryPage, tz: ZoneInfo,
                      currency: str) -> str:
    loc = current_locale()
    when = fmt_datetime(item.occurred_at, tz)
    if item.type is not None:
        head = f"<b>{e(item.type.text(loc))}</b>"
        if item.outcome is not None:
            head += f" · {e(item.outcome.text(loc))}"
    else:
        head = f"<b>{event_text(item, page, currency)}</b>"
    who = ""
    if item.author_name:
        role = f" ({role_name(item.author_role)})" if item.author_role else ""
        who = f" — {e(item.author_name)}{role}"
    lines = [f"{when}{who}", head]
    if item.type is not None and item.type.code == VISIT:
        where = visit_detail(item.details)
        if where:
            lines.append(where)
    if item.deal_title:
        lines.append(_("Deal: {title}").format(title=e(item.deal_title)))
    if item.text:
        lines.append(e(item.text[:600]) + ("…" if len(item.text) > 600 else ""))
    kind = item.attachment_kind
    if kind == "voice":
        lines.append(_("🎤 voice note"))
    elif kind == "photo":
        lines.append(_("🖼 photo"))
    elif kind == "document":
        lines.append(_("📎 document"))
    return "\n".join(lines)


def history_text(page: HistoryPage, tz: ZoneInfo, currency: str) -> str:
    title = _("<b>History: {name}</b>").format(name=e(page.client_name))
    if not page.items:
        return title + "\n\n" + _("No records yet.")
    header = title + "  " + ngettext(
        "(page {page} of {pages}, {total} record)", "(page {page} of {pages}, {total} records)",
        page.total,
    ).format(page=page.page + 1, pages=page.pages, total=page.total)
    body = "\n\n".join(history_item_text(i, page, tz, currency) for i in page.items)
    return clip(header + "\n\n" + body)


def search_text(result: SearchPage) -> str:
    if not result.total:
        return _("Nothing found for «{q}». Check the spelling or try a phone number.").format(
            q=e(result.query[:100])
        )
    return ngettext("Found {n} client for «{q}»:", "Found {n} clients for «{q}»:",
                    result.total).format(n=result.total, q=e(result.query[:100]))
