"""The reports as chat text: one message within Telegram's limit, the previous period
alongside (▲/▼ with the change); a table too long for a message ends with a pointer to the
spreadsheet, which always has every row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from html import escape as e

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from bot.charts import currency_symbol
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
from crm.reports.dynamics import DynamicsReport, Series
from crm.reports.forecast import Cell, ForecastReport, ForecastRow
from crm.reports.funnel import FunnelReport, StalledDeal
from crm.reports.losses import LossReport, ReasonCount, share
from crm.reports.marketing import Channel, ChannelLine, Dimension, MarketingReport
from crm.reports.period import Period, PeriodKind
from crm.reports.receivables import AgingRow, OpenInvoice, ReceivablesReport
from crm.reports.results import ResultsLine, ResultsReport
from crm.reports.scope import Audience, ScopeKind
from crm.reports.timeuse import ManagerTime, Slot, TimeUseReport

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
        _("Overdue contacts: {n}").format(n=line.overdue_contacts),
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
    head = "\n".join([f"<b>{_('📡 Coverage of the base')}</b> · {scope_text(r.audience)}",
                      _("As of {date}").format(date=fmt_date(r.as_of))])
    blocks = []
    if r.audience.kind is not ScopeKind.OWN:
        blocks.append("\n".join([f"<b>{_('Total')}</b>", *_coverage_lines(r.total)]))
    blocks += ["\n".join([f"<b>{e(c.name)}</b>", *_coverage_lines(c)]) for c in r.managers]
    if not r.managers:
        blocks.append(_("No managers to report on yet."))
    return fit(head, blocks)


# --- dynamics -------------------------------------------------------------------------------


def period_label(grain: PeriodKind, start: date, *, long: bool = False) -> str:
    """A week by its Monday ("23 Nov" / «23 нояб.»), a month by name ("Nov 26" / «нояб.
    26»; long: "November 2026" / «ноябрь 2026»)."""
    if grain is PeriodKind.WEEK:
        return format_date(start, "d MMM y" if long else "d MMM", locale=current_locale())
    return format_date(start, "LLLL y" if long else "LLL yy", locale=current_locale())


def thousands(amount: Decimal) -> str:
    """Money in a narrow table column, in thousands: 170 000 → "170", 1 500 000 → "1,500"
    («1 500»), 950 → "0.9"."""
    value = amount / 1000
    pattern = "#,##0" if abs(value) >= 100 else "#,##0.#"
    return format_decimal(value, pattern, locale=current_locale())


def _dynamics_table(r: DynamicsReport, s: Series) -> str:
    head = [_("Cont."), _("New"), _("Wins"), _("Rev."), _("Paid")]
    rows = [[period_label(r.grain, p.start), str(p.contacts), str(p.new_deals),
             str(p.won_count), thousands(p.revenue), thousands(p.payments)] for p in s.points]
    table = [["", *head], *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [" ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in table]
    return "<pre>" + e("\n".join(lines)) + "</pre>"


def dynamics_text(r: DynamicsReport) -> str:
    first, last = r.periods[0][0], r.period.end
    by = _("By week") if r.grain is PeriodKind.WEEK else _("By month")
    head = "\n".join([
        f"<b>{_('📈 Dynamics')}</b> · {scope_text(r.audience)}",
        _("{by}: {start} – {end}").format(by=by, start=fmt_date(first), end=fmt_date(last)),
        _("Cont. — contacts, New — new deals, Wins — deals won; Rev. — their revenue, Paid — "
          "payments received, in thousands of {currency}.").format(
            currency=currency_symbol(r.currency, current_locale())),
    ])
    series = ([r.total] if r.total is not None else []) + list(r.managers)
    blocks = []
    for s in series:
        title = _("Total") if s.id == 0 else s.name
        if s.empty and s.id != 0:
            blocks.append(f"<b>{e(title)}</b>\n" + _("Nothing in these periods."))
        else:
            blocks.append(f"<b>{e(title)}</b>\n{_dynamics_table(r, s)}")
    if not r.managers:
        blocks.append(_("No managers to report on yet."))
    return fit(head, blocks)


def has_dynamics(r: DynamicsReport) -> DynamicsReport | None:
    """The figures to draw, or None when every period is empty (no chart of zeros)."""
    return None if r.overall.empty else r


# --- forecast -------------------------------------------------------------------------------


def _cell_text(c: Cell, currency: str) -> str:
    return ngettext("{weighted} ({n} deal · {amount})", "{weighted} ({n} deals · {amount})",
                    c.deals).format(weighted=fmt_money(c.weighted, currency), n=c.deals,
                                    amount=fmt_money(c.amount, currency))


def forecast_lines(r: ForecastReport, row: ForecastRow) -> list[tuple[str, Cell]]:
    """The non-empty lines of a row, in order: overdue, the months, later, no date."""
    named = [(_("overdue"), row.overdue)]
    named += [(period_label(PeriodKind.MONTH, m, long=True), c)
              for m, c in zip(r.months, row.months, strict=True)]
    named += [(_("later"), row.later), (_("no date"), row.undated)]
    return [(name, c) for name, c in named if c.deals]


def forecast_text(r: ForecastReport) -> str:
    head = "\n".join([f"<b>{_('🔮 Forecast')}</b> · {scope_text(r.audience)}",
                      _("As of {date}").format(date=fmt_date(r.as_of))])
    total = r.total.total
    blocks = []
    if total.deals:
        deals = [_("<b>Open deals × probability</b>: {weighted} of {amount}").format(
            weighted=fmt_money(total.weighted, r.currency),
            amount=fmt_money(total.amount, r.currency))]
        deals += [f"• {e(name)}: {_cell_text(c, r.currency)}"
                  for name, c in forecast_lines(r, r.total)]
        blocks.append("\n".join(deals))
    else:
        blocks.append(_("No open deals to forecast."))
    cash = [m for m in r.cash_total.months if m.planned or m.received]
    if cash:
        blocks.append("\n".join([_("<b>Invoices by month: planned / received</b>")] + [
            f"• {period_label(PeriodKind.MONTH, m.month, long=True)}: "
            f"{fmt_money(m.planned, r.currency)} / {fmt_money(m.received, r.currency)}"
            for m in cash]))
    else:
        blocks.append(_("No invoices due and no payments in these months."))
    if r.audience.kind is not ScopeKind.OWN and total.deals:
        people = [
            f"• {e(m.name)}: {fmt_money(m.total.weighted, r.currency)} — " + " · ".join(
                f"{e(name)} {fmt_money(c.weighted, r.currency)}"
                for name, c in forecast_lines(r, m))
            for m in r.managers if m.total.deals]
        # The people last, as many as fit: the rest are in the spreadsheet.
        room = TELEGRAM_TEXT_LIMIT - 100 - len(head) - sum(len(b) + 2 for b in blocks)
        block = _("<b>By manager</b>")
        for i, line in enumerate(people):
            if len(block) + len(line) + 1 > room:
                left = len(people) - i
                block += "\n" + ngettext("…and {n} more: see 📥 XLSX.",
                                          "…and {n} more: see 📥 XLSX.", left).format(n=left)
                break
            block += "\n" + line
        blocks.append(block)
    return fit(head, blocks)


def has_forecast(r: ForecastReport) -> ForecastReport | None:
    """The figures to draw, or None when there is nothing (no chart of zeros)."""
    cash = any(m.planned or m.received for m in r.cash_total.months)
    return r if r.total.total.deals or cash else None
# --- funnel and stages ----------------------------------------------------------------------

STALLED_LINES = 10


def _days(x: Number) -> str:
    return ngettext("{n} day", "{n} days", plural_n(x)).format(n=fmt_decimal(x))


def _avg_days(x: Number) -> str:
    """An average, often a fraction: "2.3 d." (Russian counts a fraction as «2,3 дня», which
    the plural forms cannot say)."""
    return _("{n} d.").format(n=fmt_decimal(x))


def _stalled_line(x: StalledDeal, currency: str, own: bool) -> str:
    line = _("• {client} «{title}» {amount} — {stage}, {days} (limit {limit})").format(
        client=e(x.client_name), title=e(x.title), amount=fmt_money(x.amount, currency),
        stage=e(x.stage.text(current_locale())), days=_days(x.days_in_stage),
        limit=x.stage.stall_days)
    return line if own or not x.manager else f"{line} · {e(x.manager)}"


def funnel_text(r: FunnelReport) -> str:
    head = heading(_("🔻 Funnel and stages"), r.audience, r.period, r.previous)
    loc = current_locale()
    blocks = []
    now = [_("<b>Open now ({date}): {n} · {amount}</b>").format(
        date=fmt_date(r.as_of), n=r.open_count, amount=fmt_money(r.open_amount, r.currency))]
    now += [f"• {e(x.stage.text(loc))}: {x.open_count} · {fmt_money(x.open_amount, r.currency)}"
            for x in r.stages if x.open_count]
    blocks.append("\n".join(now))
    flow = [_("<b>Deals opened in the period: {n}</b>{change}").format(
        n=r.opened, change=change(r.opened, r.previous_opened, _count))]
    if r.opened or r.previous_opened:
        flow.append(_("How far they got (the stage or beyond), and the share of the stage "
                      "before:"))
        for x in r.stages:
            line = f"• {e(x.stage.text(loc))}: {x.reached}" + change(
                x.reached, x.previous_reached, _count)
            if x.conversion is not None:
                line += f" · {percent(x.conversion)}"
            flow.append(line)
        won = _("• Won: {n}{change}").format(n=r.won, change=change(r.won, r.previous_won,
                                                                    _count))
        if r.won_conversion is not None:
            won += f" · {percent(r.won_conversion)}"
        flow.append(won)
    blocks.append("\n".join(flow))
    timed = [x for x in r.stages if x.avg_days is not None]
    if timed:
        blocks.append("\n".join([_("<b>Average time in a stage</b> (stays that ended in the "
                                   "period)")] + [
            f"• {e(x.stage.text(loc))}: {_avg_days(x.avg_days)}"  # type: ignore[arg-type]
            + (change(x.avg_days, x.previous_avg_days, _avg_days)  # type: ignore[arg-type]
               if x.previous_avg_days is not None else "")
            for x in timed]))
    own = r.audience.kind is ScopeKind.OWN
    if r.stalled_count:
        stalled = [_("<b>Stalled: {n}</b> (in the stage longer than its limit)").format(
            n=r.stalled_count)]
        stalled += [_stalled_line(x, r.currency, own) for x in r.stalled[:STALLED_LINES]]
        if r.stalled_count > STALLED_LINES:
            left = r.stalled_count - STALLED_LINES
            stalled.append(ngettext("…and {n} more: see 📥 XLSX.", "…and {n} more: see 📥 XLSX.",
                                    left).format(n=left))
        blocks.append("\n".join(stalled))
    else:
        blocks.append(_("No stalled deals: every open deal is within its stage's limit."))
    return fit(head, blocks)


def stalled_button_text(x: StalledDeal) -> str:
    return ngettext("⏳ {client} «{title}»: {days} day", "⏳ {client} «{title}»: {days} days",
                    x.days_in_stage).format(client=x.client_name[:20], title=x.title[:20],
                                            days=x.days_in_stage)


def funnel_bars(r: FunnelReport) -> list[tuple[str, float, str]]:
    """(stage, deals that reached it, label) down the funnel, won last; nothing when no deal
    was opened in the period and none is open."""
    if not r.opened and not r.open_count:
        return []
    loc = current_locale()
    bars = [(x.stage.text(loc), float(x.reached),
             str(x.reached) + (f" ({percent(x.conversion)})" if x.conversion is not None
                               else "")) for x in r.stages]
    bars.append((_("Won"), float(r.won), str(r.won) + (
        f" ({percent(r.won_conversion)})" if r.won_conversion is not None else "")))
    return bars


# --- how managers spend their time ----------------------------------------------------------


def slot_text(slot: Slot) -> str:
    loc = current_locale()
    if slot.start == slot.end:
        return format_date(slot.start, "EEE d MMM", locale=loc)
    return (f"{format_date(slot.start, 'd MMM', locale=loc)} – "
            f"{format_date(slot.end, 'd MMM', locale=loc)}")


def _by_type(types: tuple[Label, ...], counts: tuple[int, ...]) -> str:
    loc = current_locale()
    return ", ".join(f"{e(t.text(loc))} {n}" for t, n in zip(types, counts, strict=True) if n)


def _time_block(m: ManagerTime, types: tuple[Label, ...]) -> str:
    first = f"<b>{e(m.member.name)}</b>: {m.total}{change(m.total, m.previous_total, _count)}"
    if m.total:
        first += " — " + _by_type(types, m.totals)
    lines = [first] + [f"{slot_text(c.slot)}: {c.total} — {_by_type(types, c.counts)}"
                       for c in m.slots if c.total]
    return "\n".join(lines)


def timeuse_text(r: TimeUseReport) -> str:
    head = heading(_("⏱ How managers spend their time"), r.audience, r.period, r.previous)
    head += "\n" + (_("Records in the history by type, per week.") if r.by_week else
                    _("Records in the history by type, per day."))
    blocks = []
    if r.audience.kind is not ScopeKind.OWN:
        total = _("<b>Total</b>: {n}{change}").format(
            n=r.total, change=change(r.total, r.previous_total, _count))
        if r.total:
            total += " — " + _by_type(r.types, r.totals)
        blocks.append(total)
    blocks += [_time_block(m, r.types) for m in r.managers]
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
