"""The reports as chat text: one message within Telegram's limit, the previous period
alongside (▲/▼ with the change); a table too long for a message ends with a pointer to the
spreadsheet, which always has every row."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from html import escape as e

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.numbers import format_percent

from bot.render import (
    TELEGRAM_TEXT_LIMIT,
    current_locale,
    fmt_date,
    fmt_decimal,
    fmt_money,
    plural_n,
)
from crm.classifiers import Label
from crm.reports.coverage import Coverage, CoverageReport
from crm.reports.losses import LossReport, ReasonCount, share
from crm.reports.marketing import Channel, ChannelLine, Dimension, MarketingReport
from crm.reports.period import Period
from crm.reports.receivables import AgingRow, OpenInvoice, ReceivablesReport
from crm.reports.results import ResultsLine, ResultsReport
from crm.reports.scope import Audience, ScopeKind

Number = int | Decimal


def period_text(p: Period) -> str:
    if p.start == p.end:
        return fmt_date(p.start)
    return f"{fmt_date(p.start)} – {fmt_date(p.end)}"


def change(current: Number, before: Number, fmt: Callable[[Number], str]) -> str:
    """" (▲ 3)", " (▼ 1 500 ₽)", or nothing when equal."""
    if current == before:
        return ""
    if current > before:
        return f" (▲ {fmt(current - before)})"
    return f" (▼ {fmt(before - current)})"


def percent(value: Number) -> str:
    """25 → "25%", 33.3 → "33.3%" (fmt_percent rounds to whole percent)."""
    fraction = Decimal(value).normalize() / 100  # 25.0 → 0.25: no "25,0 %"
    text = format_percent(fraction, locale=current_locale(), decimal_quantization=False)
    return text.replace("\u00a0%", "\u202f%")


def _count(n: Number) -> str:
    return fmt_decimal(n)


def scope_text(who: Audience) -> str:
    if who.kind is ScopeKind.OWN:
        return _("your figures")
    if who.kind is ScopeKind.TEAM:
        return _("team «{team}»").format(team=e(who.team_name or ""))
    return _("all managers")


def heading(title: str, who: Audience, period: Period, prev: Period) -> str:
    return "\n".join([
        f"<b>{title}</b> · {scope_text(who)}",
        _("{period}, compared with {previous}").format(
            period=period_text(period), previous=period_text(prev)),
    ])


def fit(head: str, blocks: list[str]) -> str:
    """As many blocks as fit in one message; the rest is in the spreadsheet."""
    text = head
    for i, block in enumerate(blocks):
        left = len(blocks) - i
        tail = "\n\n" + ngettext("…and {n} more: see 📥 XLSX.", "…and {n} more: see 📥 XLSX.",
                                 left).format(n=left)
        if len(text) + 2 + len(block) + len(tail) > TELEGRAM_TEXT_LIMIT - 50:
            return text + tail
        text += "\n\n" + block
    return text


# --- results per manager --------------------------------------------------------------------


def _results_block(title: str, line: ResultsLine, currency: str, rate: Decimal) -> str:
    cur, prev = line.current, line.previous
    loc = current_locale()

    def money(x: Number) -> str:
        return fmt_money(Decimal(x), currency)

    contacts = _("Contacts: {n}{change}").format(
        n=cur.contacts_total, change=change(cur.contacts_total, prev.contacts_total, _count))
    if cur.contacts:
        contacts += " — " + ", ".join(f"{e(c.label.text(loc))} {c.count}" for c in cur.contacts)
    lines = [
        f"<b>{e(title)}</b>",
        contacts,
        _("Clients in work: {n}").format(n=line.clients_in_work),
        _("New deals: {n}{change}").format(
            n=cur.new_deals, change=change(cur.new_deals, prev.new_deals, _count)),
        _("Won: {n}{change} · {amount}{amount_change}").format(
            n=cur.won_count, change=change(cur.won_count, prev.won_count, _count),
            amount=money(cur.revenue), amount_change=change(cur.revenue, prev.revenue, money)),
        _("Lost: {n}{change}").format(
            n=cur.lost_count, change=change(cur.lost_count, prev.lost_count, _count)),
    ]
    if cur.conversion is not None:
        lines.append(_("Conversion: {value}{change}").format(
            value=percent(cur.conversion),
            change=change(cur.conversion, prev.conversion, _points)
            if prev.conversion is not None else ""))
    if cur.avg_check is not None:
        lines.append(_("Average check: {amount}").format(amount=money(cur.avg_check)))
    if cur.avg_days is not None:
        lines.append(ngettext("Average deal duration: {days} day",
                              "Average deal duration: {days} days",
                              plural_n(cur.avg_days)).format(days=fmt_decimal(cur.avg_days)))
    lines.append(_("Payments received: {amount}{change}").format(
        amount=money(cur.payments), change=change(cur.payments, prev.payments, money)))
    if rate:
        lines.append(_("Commission ({rate}): {amount}").format(
            rate=percent(rate), amount=money(cur.commission)))
    return "\n".join(lines)


def _points(x: Number) -> str:
    return _("{n} pp").format(n=fmt_decimal(x))


def results_text(r: ResultsReport) -> str:
    head = heading(_("🏆 Results per manager"), r.audience, r.period, r.previous)
    blocks: list[str] = []
    if r.total is not None:
        blocks.append(_results_block(_("Total"), r.total, r.currency, r.commission_rate))
    blocks += [_results_block(line.current.name, line, r.currency, r.commission_rate)
               for line in r.lines]
    if not r.lines:
        blocks.append(_("No managers to report on yet."))
    return fit(head, blocks)


# --- loss analytics -------------------------------------------------------------------------


def reason_text(reason: Label | None) -> str:
    return reason.text(current_locale()) if reason is not None else _("no reason given")


def _reason_counts(counts: tuple[ReasonCount, ...]) -> str:
    return ", ".join(f"{e(reason_text(c.reason))} {c.count}" for c in counts)


def losses_text(r: LossReport) -> str:
    head = heading(_("📉 Loss analytics"), r.audience, r.period, r.previous)
    if not r.count:
        return head + "\n\n" + _("No deals lost in this period.") + change_line(
            r.previous_count)
    reasons = [_("Lost: {n}{change} · {amount}").format(
        n=r.count, change=change(r.count, r.previous_count, _count),
        amount=fmt_money(r.amount, r.currency))]
    reasons += [
        _("• {reason} — {share} ({n}){change}").format(
            reason=e(reason_text(x.reason)), share=percent(x.share), n=x.count,
            change=change(x.count, x.previous_count, _count))
        for x in r.reasons if x.count
    ]
    blocks = ["\n".join(reasons)]
    loc = current_locale()
    stages = [_("<b>By stage</b>")] + [
        f"• {e(st.stage.text(loc))}: {st.count} — {_reason_counts(st.reasons)}"
        for st in r.by_stage
    ]
    blocks.append("\n".join(stages))
    people = [_("<b>By manager</b>")] + [
        f"• {e(m.member.name)}: {m.count}{change(m.count, m.previous_count, _count)}"
        + (f" — {_reason_counts(m.reasons)}" if m.reasons else "")
        for m in r.by_manager if m.count or m.previous_count
    ]
    if len(people) > 1:
        blocks.append("\n".join(people))
    return fit(head, blocks)


def change_line(previous_count: int) -> str:
    if not previous_count:
        return ""
    return "\n" + ngettext("The period before: {n} deal lost.",
                           "The period before: {n} deals lost.",
                           previous_count).format(n=previous_count)


def loss_bars(r: LossReport) -> list[tuple[str, float, str]]:
    return [(reason_text(x.reason), float(x.share), f"{percent(x.share)} ({x.count})")
            for x in r.reasons if x.count]


# --- receivables ----------------------------------------------------------------------------


def bucket_names() -> tuple[str, ...]:
    return (_("not due"), _("1–30 days"), _("31–60 days"), _("61–90 days"),
            _("over 90 days"))


def _aging_line(row: AgingRow, currency: str) -> str:
    names = bucket_names()
    parts = [f"{names[i]} {fmt_money(v, currency)}" for i, v in enumerate(row.buckets) if v]
    return _("• {name}: {total} — {buckets}").format(
        name=e(row.name), total=fmt_money(row.total, currency), buckets=" · ".join(parts))


def receivables_text(r: ReceivablesReport) -> str:
    head = "\n".join([f"<b>{_('🧾 Receivables')}</b> · {scope_text(r.audience)}",
                      _("As of {date}").format(date=fmt_date(r.as_of))])
    if not r.total.total:
        return head + "\n\n" + _("Nobody owes anything: every invoice is paid.")
    names = bucket_names()
    summary = [_("Owed: {total}, of it overdue {overdue}").format(
        total=fmt_money(r.total.total, r.currency), overdue=fmt_money(r.total.overdue,
                                                                      r.currency))]
    summary += [f"{names[i]}: {fmt_money(v, r.currency)}" for i, v in enumerate(r.total.buckets)]
    blocks = ["\n".join(summary)]
    if r.audience.kind is not ScopeKind.OWN:
        blocks.append("\n".join([_("<b>By manager</b>")] + [
            _aging_line(row, r.currency) for row in r.by_manager if row.total]))
    blocks.append("\n".join([_("<b>By client</b>")] + [
        _aging_line(row, r.currency) for row in r.by_client]))
    return fit(head, blocks)


def invoice_button_text(inv: OpenInvoice, currency: str) -> str:
    return ngettext("🧾 {client}: {owed}, {days} day overdue",
                    "🧾 {client}: {owed}, {days} days overdue", inv.days_overdue).format(
        client=inv.client_name[:24], owed=fmt_money(inv.owed, currency), days=inv.days_overdue)


# --- coverage of the base -------------------------------------------------------------------


def _of(n: int, whole: int) -> str:
    return f"{n} ({percent(share(n, whole))})" if whole else str(n)


def _coverage_lines(c: Coverage) -> list[str]:
    return [
        ngettext("Clients: {n}", "Clients: {n}", c.clients).format(n=c.clients),
        _("Contacted in 30 days: {n} · in 90 days: {m}").format(
            n=_of(c.contacted_30, c.clients), m=_of(c.contacted_90, c.clients)),
        _("No next contact: {n}").format(n=_of(c.no_next_contact, c.clients)),
        _("Never contacted: {n}").format(n=_of(c.never_contacted, c.clients)),
    ]


def coverage_text(r: CoverageReport) -> str:
    head = "\n".join([f"<b>{_('🗂 Coverage of the base')}</b> · {scope_text(r.audience)}",
                      _("As of {date}").format(date=fmt_date(r.as_of))])
    blocks = []
    if r.audience.kind is not ScopeKind.OWN:
        blocks.append("\n".join([f"<b>{_('Total')}</b>", *_coverage_lines(r.total)]))
    blocks += ["\n".join([f"<b>{e(c.name)}</b>", *_coverage_lines(c)]) for c in r.managers]
    if not r.managers:
        blocks.append(_("No managers to report on yet."))
    return fit(head, blocks)


# --- marketing ------------------------------------------------------------------------------


def dimension_title(d: Dimension) -> str:
    titles = {
        Dimension.SOURCE: _("By source"),
        Dimension.SEGMENT: _("By segment"),
        Dimension.REGION: _("By region"),
        Dimension.INDUSTRY: _("By industry"),
        Dimension.CAMPAIGN: _("By campaign"),
    }
    return titles[d]


def item_text(item: Label | None) -> str:
    return item.text(current_locale()) if item is not None else _("not set")


def _channel_lines(cur: Channel, prev: Channel, currency: str) -> list[str]:
    def money(x: Number) -> str:
        return fmt_money(Decimal(x), currency)

    lines = [
        _("New clients: {n}{change} · deals opened: {m}{m_change}").format(
            n=cur.new_clients, change=change(cur.new_clients, prev.new_clients, _count),
            m=cur.deals_opened, m_change=change(cur.deals_opened, prev.deals_opened, _count)),
        _("Won: {n}{change} · {amount}{amount_change}").format(
            n=cur.won_count, change=change(cur.won_count, prev.won_count, _count),
            amount=money(cur.revenue), amount_change=change(cur.revenue, prev.revenue, money)),
    ]
    if cur.conversion is not None:
        lines.append(_("Conversion: {value}{change}").format(
            value=percent(cur.conversion),
            change=change(cur.conversion, prev.conversion, _points)
            if prev.conversion is not None else ""))
    if cur.avg_days is not None:
        lines.append(ngettext("Average cycle: {days} day", "Average cycle: {days} days",
                              plural_n(cur.avg_days)).format(days=fmt_decimal(cur.avg_days)))
    if cur.touches or prev.touches:
        lines.append(_("Campaign touches: {n}{change}").format(
            n=cur.touches, change=change(cur.touches, prev.touches, _count)))
    return lines


def _channel_block(title: str, line: ChannelLine, currency: str) -> str:
    return "\n".join([f"<b>{e(title)}</b>",
                      *_channel_lines(line.current, line.previous, currency)])


def marketing_text(r: MarketingReport, dim: Dimension) -> str:
    head = "\n".join([heading(_("📣 Marketing"), r.audience, r.period, r.previous),
                      f"<i>{dimension_title(dim)}</i>"])
    if r.total.current.empty and r.total.previous.empty:
        return head + "\n\n" + _("No new clients, deals or touches in this period.")
    blocks = [_channel_block(_("Total"), r.total, r.currency)]
    blocks += [_channel_block(item_text(x.item), x, r.currency) for x in r.by[dim]]
    return fit(head, blocks)
