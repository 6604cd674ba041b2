"""Reports as spreadsheets (openpyxl): one sheet per table, a bold header row frozen in
place, real numbers and dates with number formats (a director sums the column), widths that
fit the content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from io import BytesIO

from aiogram.utils.i18n import gettext as _

from bot.render import current_locale
from bot.report_views import bucket_names, item_text
from bot.views import classifier_title
from crm.classifiers import Label
from crm.reports.coverage import Coverage, CoverageReport
from crm.reports.losses import LossReport, share
from crm.reports.marketing import DIMENSIONS, Channel, MarketingReport
from crm.reports.period import Period
from crm.reports.receivables import AgingRow, ReceivablesReport
from crm.reports.results import Results, ResultsReport
from crm.reports.scope import ScopeKind

Cell = str | int | Decimal | date | None


class Fmt(StrEnum):
    TEXT = "@"
    INT = "0"
    MONEY = "#,##0.00"
    DECIMAL = "0.0"
    PERCENT = "0.0%"
    DATE = "DD.MM.YYYY"


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
    if isinstance(value, date):
        return 10
    if isinstance(value, (int, Decimal)) and fmt is Fmt.MONEY:
        return len(f"{value:,.2f}")
    return len(str(value))


# --- results per manager --------------------------------------------------------------------


def _results_columns() -> list[Column]:
    return [
        Column(_("Manager")), Column(_("Contacts"), Fmt.INT),
        Column(_("Clients in work"), Fmt.INT), Column(_("New deals"), Fmt.INT),
        Column(_("Won"), Fmt.INT), Column(_("Revenue"), Fmt.MONEY), Column(_("Lost"), Fmt.INT),
        Column(_("Conversion"), Fmt.PERCENT), Column(_("Average check"), Fmt.MONEY),
        Column(_("Average duration, days"), Fmt.DECIMAL),
        Column(_("Payments received"), Fmt.MONEY), Column(_("Commission"), Fmt.MONEY),
    ]


def _results_row(name: str, x: Results, in_work: int | None) -> list[Cell]:
    return [name, x.contacts_total, in_work, x.new_deals, x.won_count, x.revenue,
            x.lost_count, x.conversion, x.avg_check, x.avg_days, x.payments, x.commission]


def results_xlsx(r: ResultsReport) -> bytes:
    loc = current_locale()
    named = [(x.current.name, x) for x in r.lines]
    if r.total is not None:
        named.append((_("Total"), r.total))
    current = Table(_("Results"), _results_columns(),
                    [_results_row(n, x.current, x.clients_in_work) for n, x in named])
    before = Table(_("Previous period"), _results_columns(),
                   [_results_row(n, x.previous, None) for n, x in named])
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
