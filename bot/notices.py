"""Texts of reminders, overdue-payment alerts and digests (HTML, in the current locale).

Plain functions of the crm DTOs, used by the scheduler's sender and by /digest alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape as e
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_date

from bot.render import (
    TELEGRAM_TEXT_LIMIT,
    clip,
    current_locale,
    fmt_date,
    fmt_datetime,
    fmt_decimal,
    fmt_money,
    fmt_time,
    plural_n,
)
from bot.texts import role_name
from bot.views import event_text
from crm.channel import ClientMessageView
from crm.digest import Digest, Figures, OverdueInvoice, StalledDeal
from crm.history import HistoryItem
from crm.leads import LeadsAlertView
from crm.reminders import (
    DealClosedView,
    InviteUsedView,
    OverdueView,
    ReassignedView,
    ReminderView,
)

LAST_TEXT_LIMIT = 300


def late_line(fire_at: datetime, tz: ZoneInfo) -> str:
    return _("⏰ <b>Late:</b> this was due at {when} (the bot was unavailable).").format(
        when=fmt_datetime(fire_at, tz))


def reminder_text(view: ReminderView, late_since: datetime | None = None) -> str:
    tz = ZoneInfo(view.recipient.timezone)
    loc = current_locale()
    lines = [
        _("🔔 <b>Contact planned for {time}</b>").format(time=fmt_time(view.due_at, tz)),
        f"<b>{e(view.client_name)}</b>",
    ]
    if late_since is not None:
        lines.insert(0, late_line(late_since, tz))
    if view.deal_title:
        lines.append(_("Deal: {title}").format(title=e(view.deal_title)))
    if view.phone:
        who = f" ({e(view.contact_name)})" if view.contact_name else ""
        lines.append(f"📞 {e(view.phone)}{who}")
    if view.note:
        lines.append(f"📝 {e(view.note)}")
    last = view.last
    if last is not None:
        if last.type is not None:
            what = e(last.type.text(loc))
            if last.outcome is not None:
                what += f" · {e(last.outcome.text(loc))}"
        else:
            what = event_text(HistoryItem(
                id=0, occurred_at=last.occurred_at, type=None, outcome=None, event=last.event,
                details=last.details, text=None, author_name=None, author_role=None,
                attachment_kind=None, deal_title=None,
            ))
        line = _("Last: {when}, {what}").format(when=fmt_datetime(last.occurred_at, tz),
                                                 what=what)
        if last.text:
            snippet = last.text[:LAST_TEXT_LIMIT] + ("…" if len(last.text) > LAST_TEXT_LIMIT
                                                     else "")
            line += f"\n<i>{e(snippet)}</i>"
        lines.append(line)
    else:
        lines.append(_("No history yet."))
    return clip("\n".join(lines))


def overdue_text(view: OverdueView, late_since: datetime | None = None) -> str:
    tz = ZoneInfo(view.recipient.timezone)
    number = f" №{e(view.number)}" if view.number else ""
    lines = [
        ngettext("🧾 <b>Payment overdue by {days} day</b>",
                 "🧾 <b>Payment overdue by {days} days</b>",
                 view.days_overdue).format(days=view.days_overdue),
        f"<b>{e(view.client_name)}</b> — {e(view.deal_title)}",
        _("Invoice{number} for {amount}, due {due}").format(
            number=number, amount=fmt_money(view.amount, view.currency),
            due=fmt_date(view.due_on)),
        _("Still owed: <b>{owed}</b>").format(owed=fmt_money(view.owed, view.currency)),
    ]
    if view.manager_name:
        lines.append(ngettext("Manager: {name}. Sent to you because it is {days} day overdue.",
                              "Manager: {name}. Sent to you because it is {days} days overdue.",
                              view.days_overdue)
                     .format(name=e(view.manager_name), days=view.days_overdue))
    if late_since is not None:
        lines.insert(0, late_line(late_since, tz))
    return clip("\n".join(lines))


def invite_used_text(view: InviteUsedView) -> str:
    role = role_name(view.role)
    if view.team_name:
        role = _("{role} (team «{team}»)").format(role=role, team=e(view.team_name))
    if view.author_name is None:
        return _("✅ «{name}» joined as {role} with your invitation").format(
            name=e(view.name), role=role)
    return _("✅ «{name}» joined as {role} with an invitation from «{author}»").format(
        name=e(view.name), role=role, author=e(view.author_name))
def deal_closed_text(view: DealClosedView) -> str:
    """To a head: a deal of the team was won or lost (names in «quotes», no agreement)."""
    names = {"title": e(view.title), "client": e(view.client_name), "name": e(view.closed_by)}
    if view.status == "won":
        return _("✅ «{title}» of «{client}» won by {name}: {amount}").format(
            amount=fmt_money(view.amount, view.currency), **names)
    reason = view.reason.text(current_locale()) if view.reason is not None else ""
    return _("❌ «{title}» of «{client}» lost by {name}: {reason}").format(
        reason=e(reason), **names)


def _period(d: Digest) -> str:
    return f"{fmt_date(d.start)} – {fmt_date(d.end)}"


def _month(m: date | None) -> str:
    if m is None:
        return _("no date")
    from babel.dates import format_date

    return format_date(m, "LLL y", locale=current_locale())


def figures_text(f: Figures, d: Digest, title: str | None = None) -> str:
    loc = current_locale()
    cur = d.currency
    lines = [f"👤 <b>{e(title or f.name)}</b>"]
    if f.on_vacation:
        lines.append(_("🏖 On vacation — reminders are paused"))
    by_type = ", ".join(f"{e(c.label.text(loc))} {c.count}" for c in f.contacts)
    lines.append(_("Contacts: {n}").format(n=f.contacts_total)
                 + (f" ({by_type})" if by_type else ""))
    if f.visits:
        by_day = ", ".join(f"{format_date(d.start + timedelta(days=i), 'EEE', locale=loc)} {n}"
                         for i, n in enumerate(f.visits_by_day) if n)
        lines.append(_("📍 Visits: {n} ({days})").format(n=f.visits, days=by_day))
    lines.append(_("Clients in work: {n}").format(n=f.clients_in_work))
    won = _("Won: {n} · {amount}").format(n=f.won_count, amount=fmt_money(f.won_amount, cur))
    lost = _("Lost: {n}").format(n=f.lost_count)
    if f.loss_reasons:
        lost += " (" + ", ".join(f"{e(r.label.text(loc))} {r.count}"
                                 for r in f.loss_reasons) + ")"
    lines.append(f"{won} · {lost}")
    lines.append(_("New deals: {n}").format(n=f.new_deals))
    if f.forecast:
        months = "; ".join(f"{_month(m.month)}: {fmt_money(m.amount, cur)}"
                           for m in f.forecast[:4])
        lines.append(_("Forecast: {total}").format(total=fmt_money(f.forecast_total, cur))
                     + f" ({months})")
    lines.append(_("Stalled deals: {stalled} · Overdue contacts: {planned}").format(
        stalled=f.stalled, planned=f.overdue_planned))
    if f.receivables:
        line = _("Receivables: {owed}").format(owed=fmt_money(f.receivables, cur))
        if f.overdue_receivables:
            line += ngettext(", overdue {amount} ({n} invoice)",
                             ", overdue {amount} ({n} invoices)", f.overdue_invoices).format(
                amount=fmt_money(f.overdue_receivables, cur), n=f.overdue_invoices)
        lines.append(line)
    if f.avg_deal_days is not None:
        days = f.avg_deal_days
        lines.append(ngettext("Average deal length: {days} day",
                              "Average deal length: {days} days",
                              plural_n(days)).format(days=fmt_decimal(days)))
    if f.alarm == "few":
        lines.append(_("⚠️ Too few clients in work: {n} (minimum {min})").format(
            n=f.clients_in_work, min=d.min_clients))
    elif f.alarm == "many":
        lines.append(_("⚠️ Too many clients in work: {n} (maximum {max})").format(
            n=f.clients_in_work, max=d.max_clients))
    return "\n".join(lines)


def digest_parts(d: Digest, late_since: datetime | None = None,
                 tz: ZoneInfo | None = None) -> list[str]:
    """The digest as one or more messages, split between managers, never mid-block."""
    if d.scope == "own":
        head = _("📊 <b>Your digest</b>, {period}").format(period=_period(d))
    elif d.scope == "team":
        head = _("📊 <b>Team digest: {team}</b>, {period}").format(
            team=e(d.team_name or ""), period=_period(d))
    else:
        head = _("📊 <b>Digest: all managers</b>, {period}").format(period=_period(d))
    if late_since is not None and tz is not None:
        head = late_line(late_since, tz) + "\n" + head
    if d.is_empty and d.scope == "own":
        # A new user's first digest: one line, not a page of zeros (a team's still lists
        # who did nothing).
        return [clip(head + "\n\n" + _(
            "Nothing yet: no contacts logged this week and no open deals. "
            "The digest fills in as the work goes."))]
    blocks = [head]
    if d.total is not None:
        blocks.append(figures_text(d.total, d, _("Total")))
    blocks += [figures_text(f, d) for f in d.managers]
    if not d.managers:
        blocks.append(_("No managers to report on yet."))
    parts: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) > TELEGRAM_TEXT_LIMIT - 100 and current:
            parts.append(current)
            current = block
        else:
            current = candidate
    parts.append(current)
    return [clip(p) for p in parts]


def stalled_text(name: str, deals: list[StalledDeal]) -> str:
    loc = current_locale()
    if not deals:
        return _("{name}: no stalled deals.").format(name=e(name))
    lines = [_("🐢 <b>Stalled deals: {name}</b>").format(name=e(name))]
    for deal in deals[:30]:
        lines.append(ngettext("• {client} — {title} ({stage}), idle for {days} day",
                              "• {client} — {title} ({stage}), idle for {days} days",
                              deal.idle_days).format(
            client=e(deal.client_name), title=e(deal.title), stage=e(deal.stage.text(loc)),
            days=deal.idle_days))
    return clip("\n".join(lines))


def overdue_list_text(name: str, invoices: list[OverdueInvoice]) -> str:
    if not invoices:
        return _("{name}: no overdue invoices.").format(name=e(name))
    lines = [_("🧾 <b>Overdue invoices: {name}</b>").format(name=e(name))]
    for inv in invoices[:30]:
        lines.append(ngettext("• {client}: {owed}, {days} day overdue",
                              "• {client}: {owed}, {days} days overdue", inv.days).format(
            client=e(inv.client_name), owed=fmt_money(inv.owed, inv.currency), days=inv.days))
    return clip("\n".join(lines))


def reassigned_text(view: ReassignedView) -> str:
    """To the manager who got clients, or the one they were moved away from."""
    n = view.count
    if view.to_me and view.lead:
        head = ngettext("📥 A new lead for you ({n}):", "📥 New leads for you ({n}):", n)
    elif view.to_me and view.by_rule and view.from_name:
        head = ngettext("🔀 {by} handed you {n} client of {old} by the team's rule:",
                        "🔀 {by} handed you {n} clients of {old} by the team's rule:", n)
    elif view.by_rule and not view.to_me:
        head = ngettext("🔀 {by} handed {n} of your clients out by the team's rule:",
                        "🔀 {by} handed {n} of your clients out by the team's rule:", n)
    elif view.to_me and view.from_name:
        head = ngettext("🔀 {by} handed you {n} client of {old}:",
                        "🔀 {by} handed you {n} clients of {old}:", n)
    elif view.to_me:
        head = ngettext("🔀 {by} handed you {n} client:", "🔀 {by} handed you {n} clients:", n)
    else:
        head = ngettext("🔀 {by} moved {n} of your clients to {new}:",
                        "🔀 {by} moved {n} of your clients to {new}:", n)
    lines = [head.format(by=e(view.by_name), n=n, old=e(view.from_name or ""),
                         new=e(view.to_name))]
    lines += [f"• {e(name)}" for _id, name in view.clients]
    if n > len(view.clients):
        lines.append(_("…and {n} more").format(n=n - len(view.clients)))
    return clip("\n".join(lines))


def client_message_text(view: ClientMessageView) -> str:
    """A linked client's message pushed to their manager (or whoever stands in)."""
    attached = {"voice": _("🎤 voice note"), "photo": _("🖼 photo"),
                "document": _("📎 document")}.get(view.kind or "")
    lines = [_("💬 <b>{name}</b> («{client}») writes:").format(
        name=e(view.name), client=e(view.client_name))]
    if view.text:
        lines.append(e(view.text[:3000]))
    if attached:
        lines.append(attached)
    if view.manager is not None:
        lines.append("")
        lines.append(_("<i>Their manager {manager} is away or unassigned, so it came to "
                       "you.</i>").format(manager=e(view.manager)))
    return "\n".join(lines)


def leads_waiting_text(view: LeadsAlertView) -> str:
    """To a head: leads nobody took in time."""
    n = len(view.clients)
    lines = [ngettext("⏰ {n} lead has been waiting for more than {m} min:",
                      "⏰ {n} leads have been waiting for more than {m} min:", n).format(
        n=n, m=view.minutes)]
    lines += [f"• {e(name)}" for _id, name in view.clients]
    return clip("\n".join(lines))
