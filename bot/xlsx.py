"""Reports as spreadsheets (openpyxl): one sheet per table, a bold header row frozen in
place, real numbers and dates with number formats (a director sums the column), widths that
fit the content."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from io import BytesIO
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.render import current_locale
from bot.report_views import bucket_names, item_text, period_label
from bot.views import classifier_title
from crm.classifiers import Label
from crm.lists import CLASSIFIER_KINDS, ClientRow
from crm.reports.coverage import Coverage, CoverageReport
from crm.reports.dynamics import DynamicsReport, Point
from crm.reports.forecast import CashRow, ForecastReport, ForecastRow
from crm.reports.forecast import Cell as ForecastCell
from crm.reports.funnel import FunnelReport
from crm.reports.losses import LossReport, share
from crm.reports.marketing import DIMENSIONS, Channel, MarketingReport
from crm.reports.period import Period, PeriodKind
from crm.reports.receivables import AgingRow, ReceivablesReport
from crm.reports.results import Results, ResultsReport
from crm.reports.scope import ScopeKind
from crm.reports.timeuse import TimeUseReport

Cell = str | int | Decimal | date | datetime | None


class Fmt(StrEnum):
    TEXT = "@"
    INT = "0"
    MONEY = "#,##0.00"
    DECIMAL = "0.0"
    PERCENT = "0.0%"
    DATE = "DD.MM.YYYY"
    DATETIME = "DD.MM.YYYY HH:MM"


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    fmt: Fmt = Fmt.TEXT


@dataclass(frozen=True, slots=True)
class Table:
    title: str  # the sheet's name (at most 31 characters, no []:*?/\)
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]


def workbook(tables: Sequence[Table]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for table in tables:
        ws = wb.create_sheet(_sheet_name(table.title))
        ws.append([c.title for c in table.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            ws.append([_value(v, c.fmt) for v, c in zip(row, table.columns, strict=True)])
        for i, col in enumerate(table.columns, start=1):
            letter = get_column_letter(i)
            if col.fmt is not Fmt.TEXT:
                for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                    cell.number_format = col.fmt.value
            width = max([len(col.title), *(_shown_len(r[i - 1], col.fmt) for r in table.rows)])
            ws.column_dimensions[letter].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "B2"
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_name(title: str) -> str:
    for ch in "[]:*?/\\":
        title = title.replace(ch, " ")
    return title[:31]


def _value(value: Cell, fmt: Fmt) -> Cell | float:
    if isinstance(value, Decimal):
        # Percent cells hold a fraction (0.25 shows as 25.0%); Decimal is written exactly.
        return value / 100 if fmt is Fmt.PERCENT else value
    return value


def _shown_len(value: Cell, fmt: Fmt) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, (int, Decimal)) and fmt is Fmt.MONEY:
        return len(f"{value:,.2f}")
    return len(str(value))


# --- results per manager --------------------------------------------------------------------


def _results_columns() -> list[Column]:
    return [
        Column(_("Manager")), Column(_("Contacts"), Fmt.INT),
        Column(_("Clients in work"), Fmt.INT), Column(_("Overdue contacts"), Fmt.INT),
        Column(_("New deals"), Fmt.INT),
        Column(_("Won"), Fmt.INT), Column(_("Revenue"), Fmt.MONEY), Column(_("Lost"), Fmt.INT),
        Column(_("Conversion"), Fmt.PERCENT), Column(_("Average check"), Fmt.MONEY),
        Column(_("Average duration, days"), Fmt.DECIMAL),
        Column(_("Payments received"), Fmt.MONEY), Column(_("Commission"), Fmt.MONEY),
    ]


def _results_row(name: str, x: Results, in_work: int | None,
                 overdue: int | None) -> list[Cell]:
    return [name, x.contacts_total, in_work, overdue, x.new_deals, x.won_count, x.revenue,
            x.lost_count, x.conversion, x.avg_check, x.avg_days, x.payments, x.commission]


def results_xlsx(r: ResultsReport) -> bytes:
    loc = current_locale()
    named = [(x.current.name, x) for x in r.lines]
    if r.total is not None:
        named.append((_("Total"), r.total))
    current = Table(_("Results"), _results_columns(),
                    [_results_row(n, x.current, x.clients_in_work, x.overdue_contacts)
                     for n, x in named])
    before = Table(_("Previous period"), _results_columns(),
                   [_results_row(n, x.previous, None, None) for n, x in named])
    contacts = Table(
        _("Contacts by type"),
        [Column(_("Manager")), Column(_("Type")), Column(_("Contacts"), Fmt.INT)],
        [[x.current.name, c.label.text(loc), c.count]
         for x in r.lines for c in x.current.contacts],
    )
    return workbook([current, before, contacts, _period_table(r.period, r.previous)])


# --- loss analytics -------------------------------------------------------------------------


def _reason(reason: Label | None) -> str:
    return reason.text(current_locale()) if reason is not None else _("no reason given")


def losses_xlsx(r: LossReport) -> bytes:
    loc = current_locale()
    reasons = Table(
        _("Reasons"),
        [Column(_("Reason")), Column(_("Lost"), Fmt.INT), Column(_("Share"), Fmt.PERCENT),
         Column(_("Amount"), Fmt.MONEY), Column(_("Previous period"), Fmt.INT)],
        [[_reason(x.reason), x.count, x.share, x.amount, x.previous_count] for x in r.reasons],
    )
    by_stage = Table(
        _("By stage"), [Column(_("Stage")), Column(_("Reason")), Column(_("Lost"), Fmt.INT)],
        [[st.stage.text(loc), _reason(c.reason), c.count] for st in r.by_stage
         for c in st.reasons],
    )
    by_manager = Table(
        _("By manager"), [Column(_("Manager")), Column(_("Reason")), Column(_("Lost"), Fmt.INT)],
        [[m.member.name, _reason(c.reason), c.count] for m in r.by_manager for c in m.reasons],
    )
    return workbook([reasons, by_stage, by_manager, _period_table(r.period, r.previous)])


def _period_table(period: Period, before: Period) -> Table:
    return Table(
        _("Period"), [Column(_("Period")), Column(_("From"), Fmt.DATE), Column(_("To"), Fmt.DATE)],
        [[_("Report"), period.start, period.end], [_("Compared with"), before.start, before.end]],
    )


# --- receivables ----------------------------------------------------------------------------


def _aging_columns(first: str) -> list[Column]:
    return [Column(first), Column(_("Owed"), Fmt.MONEY), Column(_("Overdue"), Fmt.MONEY),
            *(Column(name, Fmt.MONEY) for name in bucket_names())]


def _aging_row(row: AgingRow) -> list[Cell]:
    return [row.name, row.total, row.overdue, *row.buckets]


def receivables_xlsx(r: ReceivablesReport) -> bytes:
    total = AgingRow(0, _("Total"), r.total.buckets)
    managers = Table(_("By manager"), _aging_columns(_("Manager")),
                     [*(_aging_row(x) for x in r.by_manager), _aging_row(total)])
    clients = Table(_("By client"), _aging_columns(_("Client")),
                    [_aging_row(x) for x in r.by_client])
    invoices = Table(
        _("Invoices"),
        [Column(_("Client")), Column(_("Manager")), Column(_("Invoice")),
         Column(_("Due date"), Fmt.DATE), Column(_("Days overdue"), Fmt.INT),
         Column(_("Owed"), Fmt.MONEY)],
        [[i.client_name, i.manager, i.number, i.due_on, max(i.days_overdue, 0), i.owed]
         for i in r.invoices],
    )
    as_of = Table(_("Period"), [Column(_("As of"), Fmt.DATE)], [[r.as_of]])
    return workbook([managers, clients, invoices, as_of])


# --- coverage of the base -------------------------------------------------------------------


def coverage_xlsx(r: CoverageReport) -> bytes:
    columns = [Column(_("Manager")), Column(_("Clients"), Fmt.INT)]
    for title in (_("Contacted in 30 days"), _("Contacted in 90 days"), _("No next contact"),
                  _("Never contacted")):
        columns += [Column(title, Fmt.INT), Column(_("Share"), Fmt.PERCENT)]

    def row(name: str, c: Coverage) -> list[Cell]:
        cells: list[Cell] = [name, c.clients]
        for n in (c.contacted_30, c.contacted_90, c.no_next_contact, c.never_contacted):
            cells += [n, share(n, c.clients) if c.clients else None]
        return cells

    rows = [row(c.name, c) for c in r.managers]
    if r.audience.kind is not ScopeKind.OWN:
        rows.append(row(_("Total"), r.total))
    as_of = Table(_("Period"), [Column(_("As of"), Fmt.DATE)], [[r.as_of]])
    return workbook([Table(_("Coverage"), columns, rows), as_of])


# --- clients (a list's spreadsheet; the export of clients) -----------------------------------


def client_columns() -> list[Column]:
    """The columns of every clients spreadsheet, in order (what an import reads back)."""
    return [
        Column(_("Client ID"), Fmt.INT), Column(_("Name")), Column(_("Phone")),
        Column(_("E-mail")), Column(_("Address")), Column(_("Tax number")),
        *(Column(classifier_title(kind)) for kind in CLASSIFIER_KINDS.values()),
        Column(_("Probability, %"), Fmt.INT), Column(_("Manager")),
        Column(_("Open deals"), Fmt.INT), Column(_("Open deals amount"), Fmt.MONEY),
        Column(_("Deals")), Column(_("Last contact"), Fmt.DATETIME),
        Column(_("Next contact"), Fmt.DATETIME), Column(_("Created"), Fmt.DATE),
    ]


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    # A spreadsheet has no time zones: the viewer's wall-clock time.
    return value.astimezone(tz).replace(tzinfo=None) if value is not None else None


def client_cells(row: ClientRow, tz: ZoneInfo) -> list[Cell]:
    """One client's row under client_columns()."""
    loc = current_locale()
    deals = "; ".join(f"{d.title} · {d.stage.text(loc)}" for d in row.open_deals)
    return [
        row.id, row.name, ", ".join(row.phones), ", ".join(row.emails), row.address,
        row.tax_number,
        *((row.classifiers[k].text(loc) if k in row.classifiers else None)
          for k in CLASSIFIER_KINDS.values()),
        row.probability, row.manager, len(row.open_deals),
        row.open_amount if row.open_deals else None, deals or None,
        _local(row.last_contact, tz), _local(row.next_contact, tz),
        row.created_at.astimezone(tz).date(),
    ]


def clients_table(rows: Sequence[ClientRow], tz: ZoneInfo, title: str | None = None) -> Table:
    return Table(title or _("Client list"), client_columns(), [client_cells(r, tz) for r in rows])


def clients_xlsx(rows: Sequence[ClientRow], tz: ZoneInfo, title: str | None = None) -> bytes:
    return workbook([clients_table(rows, tz, title)])
# --- dynamics -------------------------------------------------------------------------------


def dynamics_xlsx(r: DynamicsReport) -> bytes:
    """The total (or the one person) period by period, then one sheet per figure: a row per
    manager, a column per period."""
    overall = Table(
        _("Dynamics"),
        [Column(_("From"), Fmt.DATE), Column(_("To"), Fmt.DATE), Column(_("Contacts"), Fmt.INT),
         Column(_("New deals"), Fmt.INT), Column(_("Won"), Fmt.INT),
         Column(_("Revenue"), Fmt.MONEY), Column(_("Payments received"), Fmt.MONEY)],
        [[p.start, p.end, p.contacts, p.new_deals, p.won_count, p.revenue, p.payments]
         for p in r.overall.points],
    )
    series = list(r.managers) + ([r.total] if r.total is not None else [])
    heads = [period_label(r.grain, a, long=True) for a, _end in r.periods]
    figures: list[tuple[str, Fmt, Callable[[Point], Cell]]] = [
        (_("Contacts"), Fmt.INT, lambda p: p.contacts),
        (_("New deals"), Fmt.INT, lambda p: p.new_deals),
        (_("Won"), Fmt.INT, lambda p: p.won_count),
        (_("Revenue"), Fmt.MONEY, lambda p: p.revenue),
        (_("Payments received"), Fmt.MONEY, lambda p: p.payments),
    ]
    wide = [Table(title, [Column(_("Manager")), *(Column(h, fmt) for h in heads)],
                  [[_("Total") if s.id == 0 else s.name, *(value(p) for p in s.points)]
                   for s in series])
            for title, fmt, value in figures]
    return workbook([overall, *wide])


# --- forecast -------------------------------------------------------------------------------


def forecast_xlsx(r: ForecastReport) -> bytes:
    rows = list(r.managers)
    if r.audience.kind is not ScopeKind.OWN:
        rows.append(r.total)

    def name(row: ForecastRow | CashRow) -> str:
        return _("Total") if row.id == 0 else row.name

    months = [period_label(PeriodKind.MONTH, m, long=True) for m in r.months]
    weighted = Table(
        _("Forecast"),
        [Column(_("Manager")), Column(_("Overdue"), Fmt.MONEY),
         *(Column(m, Fmt.MONEY) for m in months), Column(_("Later"), Fmt.MONEY),
         Column(_("No date"), Fmt.MONEY), Column(_("Total"), Fmt.MONEY)],
        [[name(x), x.overdue.weighted, *(c.weighted for c in x.months), x.later.weighted,
          x.undated.weighted, x.total.weighted] for x in rows],
    )
    lines: list[list[Cell]] = []
    for x in rows:
        named: list[tuple[str, date | None, ForecastCell]] = [(_("overdue"), None, x.overdue)]
        named += [(label, m, c) for label, m, c in zip(months, r.months, x.months, strict=True)]
        named += [(_("later"), None, x.later), (_("no date"), None, x.undated)]
        lines += [[name(x), label, m, c.deals, c.amount, c.weighted]
                  for label, m, c in named if c.deals]
    deals = Table(
        _("Open deals"),
        [Column(_("Manager")), Column(_("Expected close")), Column(_("Month"), Fmt.DATE),
         Column(_("Deals"), Fmt.INT), Column(_("Amount"), Fmt.MONEY),
         Column(_("Weighted"), Fmt.MONEY)],
        lines,
    )
    cash_rows = list(r.cash_managers)
    if r.audience.kind is not ScopeKind.OWN:
        cash_rows.append(r.cash_total)
    invoices = Table(
        _("Invoices"),
        [Column(_("Manager")), Column(_("Month"), Fmt.DATE), Column(_("Planned"), Fmt.MONEY),
         Column(_("Received"), Fmt.MONEY)],
        [[name(x), m.month, m.planned, m.received] for x in cash_rows for m in x.months],
    )
    as_of = Table(_("Period"), [Column(_("As of"), Fmt.DATE)], [[r.as_of]])
    return workbook([weighted, deals, invoices, as_of])
# --- funnel and stages ----------------------------------------------------------------------


def funnel_xlsx(r: FunnelReport) -> bytes:
    loc = current_locale()
    stages = Table(
        _("Stages"),
        [Column(_("Stage")), Column(_("Open deals"), Fmt.INT), Column(_("Amount"), Fmt.MONEY),
         Column(_("Reached"), Fmt.INT), Column(_("Previous period"), Fmt.INT),
         Column(_("Conversion"), Fmt.PERCENT), Column(_("Average days in stage"), Fmt.DECIMAL),
         Column(_("Stays"), Fmt.INT), Column(_("Previous period, days"), Fmt.DECIMAL),
         Column(_("Stalled"), Fmt.INT)],
        [[x.stage.text(loc), x.open_count, x.open_amount, x.reached, x.previous_reached,
          x.conversion, x.avg_days, x.stays, x.previous_avg_days, x.stalled] for x in r.stages]
        + [[_("Won"), None, None, r.won, r.previous_won, r.won_conversion, None, None, None,
            None],
           [_("Total"), r.open_count, r.open_amount, r.opened, r.previous_opened, None, None,
            None, None, r.stalled_count]],
    )
    stalled = Table(
        _("Stalled deals"),
        [Column(_("Client")), Column(_("Deal")), Column(_("Manager")), Column(_("Stage")),
         Column(_("Amount"), Fmt.MONEY), Column(_("Days in stage"), Fmt.INT),
         Column(_("Limit, days"), Fmt.INT), Column(_("Days over"), Fmt.INT)],
        [[x.client_name, x.title, x.manager, x.stage.text(loc), x.amount, x.days_in_stage,
          x.stage.stall_days, x.over_by] for x in r.stalled],
    )
    as_of = _period_table(r.period, r.previous)
    return workbook([stages, stalled, as_of])


# --- how managers spend their time ----------------------------------------------------------


def timeuse_xlsx(r: TimeUseReport) -> bytes:
    loc = current_locale()
    kinds = [Column(t.text(loc), Fmt.INT) for t in r.types]
    start = _("Week from") if r.by_week else _("Day")
    slots = Table(
        _("By week") if r.by_week else _("By day"),
        [Column(_("Manager")), Column(start, Fmt.DATE), *kinds, Column(_("Total"), Fmt.INT)],
        [_cells(m.member.name, c.slot.start, *c.counts, c.total)
         for m in r.managers for c in m.slots],
    )
    totals = Table(
        _("Totals"),
        [Column(_("Manager")), *kinds, Column(_("Total"), Fmt.INT),
         Column(_("Previous period"), Fmt.INT)],
        [_cells(m.member.name, *m.totals, m.total, m.previous_total) for m in r.managers]
        + [_cells(_("Total"), *r.totals, r.total, r.previous_total)],
    )
    return workbook([slots, totals, _period_table(r.period, r.previous)])


def _cells(*values: Cell) -> list[Cell]:
    return list(values)


# --- marketing ------------------------------------------------------------------------------


def _marketing_row(name: str, cur: Channel, prev: Channel) -> list[Cell]:
    return [name, cur.new_clients, cur.deals_opened, cur.won_count, cur.revenue,
            cur.lost_count, cur.conversion, cur.avg_days, cur.touches,
            prev.new_clients, prev.deals_opened, prev.won_count, prev.revenue]


def marketing_xlsx(r: MarketingReport) -> bytes:
    """A sheet per grouping (source, segment, region, industry, campaign), the total last."""
    tables = []
    for d in DIMENSIONS:
        title = classifier_title(d.value)
        columns = [
            Column(title), Column(_("New clients"), Fmt.INT),
            Column(_("Deals opened"), Fmt.INT), Column(_("Won"), Fmt.INT),
            Column(_("Revenue"), Fmt.MONEY), Column(_("Lost"), Fmt.INT),
            Column(_("Conversion"), Fmt.PERCENT), Column(_("Average cycle, days"), Fmt.DECIMAL),
            Column(_("Campaign touches"), Fmt.INT),
            Column(_("New clients, previous period"), Fmt.INT),
            Column(_("Deals opened, previous period"), Fmt.INT),
            Column(_("Won, previous period"), Fmt.INT),
            Column(_("Revenue, previous period"), Fmt.MONEY),
        ]
        rows = [_marketing_row(item_text(x.item), x.current, x.previous) for x in r.by[d]]
        rows.append(_marketing_row(_("Total"), r.total.current, r.total.previous))
        tables.append(Table(title, columns, rows))
    return workbook([*tables, _period_table(r.period, r.previous)])
