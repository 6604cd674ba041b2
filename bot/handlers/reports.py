"""«📊 Reports»: the list of reports for the role → a period picker (a form step: buttons or
typed dates) → the report with the previous period alongside, 📥 XLSX and « Reports.

Who sees whose figures is decided in crm/ (crm.access.report_scope) on every press."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any, Generic, TypeVar

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    Message,
    WebAppInfo,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot import forms, report_back
from bot.charts import compact_money
from bot.filters import FormText
from bot.handlers.reminders import send_digest
from bot.keyboards.deals import DealAction, DealCD, InvoiceAction, InvoiceCD
from bot.keyboards.lists import lists_button
from bot.keyboards.menu import BTN_REPORTS
from bot.keyboards.reports import (
    PeriodCD,
    ReportAction,
    ReportCD,
    ReportKind,
    dynamics_link,
    dynamics_rows,
    kinds_for,
    period_kb,
    report_kb,
    report_title,
    reports_menu_kb,
)
from bot.render import current_locale, fmt_date
from bot.report_charts import dynamics_chart, forecast_chart, funnel_chart, loss_chart
from bot.report_views import (
    coverage_text,
    dynamics_text,
    forecast_text,
    funnel_bars,
    funnel_text,
    has_dynamics,
    has_forecast,
    invoice_button_text,
    loss_bars,
    losses_text,
    marketing_text,
    period_text,
    receivables_text,
    results_text,
    stalled_button_text,
    timeuse_text,
)
from bot.xlsx import (
    coverage_xlsx,
    dynamics_xlsx,
    forecast_xlsx,
    funnel_xlsx,
    losses_xlsx,
    marketing_xlsx,
    receivables_xlsx,
    results_xlsx,
    timeuse_xlsx,
)
from crm.access import can_see_reports, can_use_lists
from crm.dto import Actor
from crm.errors import Forbidden, NotAvailable
from crm.reports.dynamics import COUNTS, span
from crm.reports.funnel import FunnelReport
from crm.reports.marketing import DIMENSIONS, Dimension
from crm.reports.period import Period, PeriodError, PeriodKind, parse_period, period_of
from crm.reports.receivables import ReceivablesReport
from crm.roles import Role
from crm.service import CRM


class ReportForm(StatesGroup):
    period = State()


forms.register(ReportForm, lambda: _("report period"))

T = TypeVar("T")
# Who gets the dashboard (the Mini App): the heads' and marketing's view of the team.
DASHBOARD_ROLES = (Role.ADMIN, Role.HEAD, Role.MARKETER)
DRILL_ROWS = 8


@dataclass(frozen=True, slots=True)
class _Report(Generic[T]):
    """A report's figures (a crm function), its chat text and its spreadsheet."""

    load: Callable[[CRM, Actor, Period, int | None], Awaitable[T]]
    text: Callable[[T], str]
    xlsx: Callable[[T], bytes]
    # A chart's data, drawn by `draw` below (empty or None: nothing to draw); by default the
    # bars (name, value, label).
    chart: Callable[[T], Any] | None = None
    # A snapshot (as of now) has no period to pick.
    periodic: bool = True
    # Buttons that open what the report lists (an invoice …).
    drill: Callable[[T], list[InlineKeyboardButton]] | None = None
    # How the chart's data (`chart` above) is drawn under a title, in a worker thread, and
    # that title for the period (no emoji: the chart fonts have none). The default draws
    # bars of shares (name, percent, label).
    draw: Callable[[Any, str], bytes] = loss_chart
    chart_title: Callable[[Period], str] = period_text
    # A report with its own choice of periods (its own buttons, no picker) opens at this one
    # for the local today.
    opens: Callable[[date], Period] | None = None
    # Rows of buttons of its own under the report: other views of it, related reports.
    rows: Callable[[Period, int | None], list[list[InlineKeyboardButton]]] | None = None
    # The chart as a picture, when the report draws its own (else the bars of `chart`).
    picture: Callable[[T, Period], bytes] | None = None
    # A report shown one grouping at a time (marketing): its text for the grouping picked;
    # the spreadsheet has them all.
    by_dim: Callable[[T, Dimension], str] | None = None


def receivables_drill(r: ReceivablesReport) -> list[InlineKeyboardButton]:
    """The longest overdue invoices, each opening the invoice itself."""
    return [InlineKeyboardButton(
        text=invoice_button_text(inv, r.currency),
        callback_data=InvoiceCD(id=inv.invoice_id, action=InvoiceAction.REPORT).pack())
        for inv in r.invoices[:DRILL_ROWS] if inv.days_overdue > 0]


_REPORTS: dict[ReportKind, _Report[Any]] = {
    ReportKind.RESULTS: _Report(lambda crm, actor, p, team: crm.reports.results(actor, p, team),
                                results_text, results_xlsx, rows=dynamics_link),
    ReportKind.LOSSES: _Report(lambda crm, actor, p, team: crm.reports.losses(actor, p, team),
                               losses_text, losses_xlsx, loss_bars,
                               chart_title=lambda p: _("Loss reasons, {period}").format(
                                   period=period_text(p))),
    ReportKind.RECEIVABLES: _Report(
        lambda crm, actor, _p, team: crm.reports.receivables(actor, team),
                                    receivables_text, receivables_xlsx, periodic=False,
                                    drill=receivables_drill),
    ReportKind.COVERAGE: _Report(lambda crm, actor, _p, team: crm.reports.coverage(actor, team),
                                 coverage_text, coverage_xlsx, periodic=False),
    ReportKind.MARKETING: _Report(
        lambda crm, actor, p, team: crm.reports.marketing(actor, p, team),
        lambda r: marketing_text(r, DIMENSIONS[0]), marketing_xlsx, by_dim=marketing_text),
}


def dynamics_chart_title(p: Period) -> str:
    if p.kind is PeriodKind.WEEK:
        return _("Dynamics by week, {period}").format(period=period_text(p))
    return _("Dynamics by month, {period}").format(period=period_text(p))


# Dynamics and forecast (issue 8, items 2 and 4).
_REPORTS[ReportKind.DYNAMICS] = _Report(
    lambda crm, actor, p, team: crm.reports.dynamics(actor, p, team), dynamics_text,
    dynamics_xlsx, has_dynamics, periodic=False, draw=dynamics_chart,
    chart_title=dynamics_chart_title,
    opens=lambda today: span(PeriodKind.MONTH, COUNTS[-1], today), rows=dynamics_rows)
_REPORTS[ReportKind.FORECAST] = _Report(
    lambda crm, actor, _p, team: crm.reports.forecast(actor, team), forecast_text,
    forecast_xlsx, has_forecast, periodic=False, draw=forecast_chart,
    chart_title=lambda p: _("Forecast as of {date}").format(date=period_text(p)))


# --- funnel and stages; how managers spend their time (issue 8, items 3 and 7) -------------


def funnel_drill(r: FunnelReport) -> list[InlineKeyboardButton]:
    """The stalled deals furthest beyond their stage's limit, each opening the deal."""
    return [InlineKeyboardButton(
        text=stalled_button_text(x),
        callback_data=DealCD(id=x.deal_id, action=DealAction.REPORT).pack())
        for x in r.stalled[:DRILL_ROWS]]


def funnel_picture(r: FunnelReport, period: Period) -> bytes:
    loc = current_locale()
    money = [(x.stage.text(loc), float(x.open_amount), compact_money(x.open_amount, r.currency,
                                                                      loc))
             for x in r.stages if x.open_count]
    # The chart's titles have no emoji: the chart fonts have none.
    titles = (_("Deals opened {period}: how far they got").format(period=period_text(period)),
              _("Open deals now, {date}").format(date=fmt_date(r.as_of)))
    return funnel_chart(funnel_bars(r), money, titles,
                        lambda x: compact_money(x, r.currency, loc))


_REPORTS[ReportKind.FUNNEL] = _Report(
    lambda crm, actor, p, team: crm.reports.funnel(actor, p, team), funnel_text, funnel_xlsx,
    funnel_bars, drill=funnel_drill, picture=funnel_picture)
_REPORTS[ReportKind.TIMEUSE] = _Report(
    lambda crm, actor, p, team: crm.reports.time_use(actor, p, team), timeuse_text,
    timeuse_xlsx)


def report_of(kind: ReportKind) -> _Report[Any]:
    """A report's crm function and spreadsheet: the Mini App (web/miniapp.py) serves the
    very same figures."""
    return _REPORTS[kind]


def opening_period(kind: ReportKind, period: Period) -> Period:
    """The period a report is shown for when `period` is asked: a snapshot's is today, a
    report with its own periods (dynamics) opens at its default."""
    report = _REPORTS[kind]
    if report.opens is not None:
        return report.opens(period.end)
    if not report.periodic:
        return period_of(PeriodKind.TODAY, period.end)
    return period


def _allowed(actor: Actor, kind: ReportKind | None) -> ReportKind:
    if kind is None or kind not in kinds_for(actor.role):
        raise Forbidden()
    return kind


def dashboard_button(actor: Actor, url: str | None) -> list[InlineKeyboardButton]:
    """«📊 Dashboard»: the Mini App, when PUBLIC_URL is set (Telegram needs HTTPS)."""
    if not url or actor.role not in DASHBOARD_ROLES:
        return []
    return [InlineKeyboardButton(text=_("📊 Dashboard"), web_app=WebAppInfo(url=url))]


async def show_menu(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                    team: int | None = None, state: FSMContext | None = None,
                    dashboard_url: str | None = None) -> None:
    """The reports of the role; an admin also picks whose figures (all, or one team)."""
    if not can_see_reports(actor) or not kinds_for(actor.role):
        raise Forbidden()
    if state is not None:
        await report_back.forget(state)
    text = _("📊 <b>Reports</b>\nPick a report:")
    teams = await crm.people.teams(actor) if actor.role is Role.ADMIN else []
    if teams:
        names = {t.id: t.name for t in teams}
        if team is not None and team not in names:
            raise NotAvailable()
        text += "\n" + (_("Figures of: all teams") if team is None else
                        _("Figures of: team «{team}»").format(team=escape(names[team])))
    extra = dashboard_button(actor, dashboard_url)
    extra += [lists_button()] if can_use_lists(actor) else []
    await forms.screen(target, text, reports_menu_kb(actor.role, teams,
                                                     team if teams else None, extra))


async def cmd_reports(message: Message, actor: Actor, crm: CRM, state: FSMContext,
                      dashboard_url: str | None = None) -> None:
    await forms.finish(state)
    await show_menu(message, actor, crm, state=state, dashboard_url=dashboard_url)


async def cb_menu(query: CallbackQuery, callback_data: ReportCD, actor: Actor, crm: CRM,
                  state: FSMContext, dashboard_url: str | None = None) -> None:
    await forms.finish(state)
    await show_menu(query, actor, crm, callback_data.team, state, dashboard_url)


async def cb_pick(query: CallbackQuery, callback_data: ReportCD, actor: Actor, crm: CRM,
                  state: FSMContext, i18n: I18n) -> None:
    kind = _allowed(actor, callback_data.kind)
    if kind is ReportKind.DIGEST:
        await forms.finish(state)
        await query.answer()
        if isinstance(query.message, Message):
            await send_digest(query.message, actor, crm, i18n)
        return
    report = _REPORTS[kind]
    if report.opens is not None or not report.periodic:
        await forms.finish(state)
        today = crm.clock.now().astimezone(actor.tz).date()
        period = report.opens(today) if report.opens is not None else \
            period_of(PeriodKind.TODAY, today)
        await _show(query, kind, period, actor, crm, callback_data.team, state)
        return
    await forms.start(state, ReportForm.period)
    text = "\n".join([
        f"<b>{report_title(kind)}</b>",
        _("Pick the period, or type dates, for example 01.11–30.11 or 1.11.2026-15.11.2026."),
    ])
    await forms.prompt(query, state, ReportForm.period, text,
                       lambda step: period_kb(kind, step, callback_data.team), kind=kind.value,
                       team=callback_data.team)


async def _show(target: Message | CallbackQuery, kind: ReportKind, period: Period,
                actor: Actor, crm: CRM, team: int | None,
                state: FSMContext | None = None, dim: Dimension | None = None) -> None:
    report = _REPORTS[kind]
    figures = await report.load(crm, actor, period, team)
    has_chart = report.chart is not None and bool(report.chart(figures))
    drill = report.drill(figures) if report.drill is not None else []
    rows = report.rows(period, team) if report.rows is not None else []
    if drill and state is not None:
        # What the drill-down opens gets «« Back to the report» (bot/report_back.py).
        await report_back.remember(state, ReportCD(
            action=ReportAction.SHOW, kind=kind, period=period.kind,
            start=period.start.toordinal(), end=period.end.toordinal(), team=team))
    if report.by_dim is not None:
        dim = dim or DIMENSIONS[0]
        text = report.by_dim(figures, dim)
    else:
        dim, text = None, report.text(figures)
    await forms.screen(target, text, report_kb(
        kind, period, team=team, chart=has_chart, periodic=report.periodic, drill=drill,
        rows=rows, dim=dim))


async def cb_period(query: CallbackQuery, callback_data: PeriodCD, actor: Actor, crm: CRM,
                    state: FSMContext) -> None:
    kind = _allowed(actor, callback_data.kind)
    if await forms.take(query, state, callback_data.step) is None:
        return
    await forms.finish(state)
    today = crm.clock.now().astimezone(actor.tz).date()
    await _show(query, kind, period_of(callback_data.period, today), actor, crm,
                callback_data.team, state)


def period_error(err: PeriodError) -> str:
    texts = {
        "format": _("I could not read the dates. Type them like 01.11–30.11 or "
                    "1.11.2026-15.11.2026."),
        "date": _("There is no such date. Check the day and the month."),
        "order": _("The period ends before it starts. Type the earlier date first."),
        "long": _("That period is too long: at most two years."),
    }
    return texts[err.code]


async def msg_period(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    kind = _allowed(actor, ReportKind(draft["kind"]))
    today = crm.clock.now().astimezone(actor.tz).date()
    try:
        period = parse_period(message.text or "", today)
    except PeriodError as err:
        await message.answer(period_error(err))
        return
    await forms.finish(state)
    await _show(message, kind, period, actor, crm, draft.get("team"), state)


async def cb_show(query: CallbackQuery, callback_data: ReportCD, actor: Actor,
                  crm: CRM, state: FSMContext) -> None:
    kind = _allowed(actor, callback_data.kind)
    await _show(query, kind, callback_data.to_period(), actor, crm, callback_data.team, state,
                callback_data.dim)


async def cb_xlsx(query: CallbackQuery, callback_data: ReportCD, actor: Actor,
                  crm: CRM) -> None:
    kind = _allowed(actor, callback_data.kind)
    if kind not in _REPORTS:
        raise Forbidden()
    report = _REPORTS[kind]
    period = callback_data.to_period()
    figures = await report.load(crm, actor, period, callback_data.team)
    data = await asyncio.to_thread(report.xlsx, figures)
    name = f"{kind.value}_{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
    await query.answer()
    if query.message is not None and query.bot is not None:
        await query.bot.send_document(
            query.from_user.id, BufferedInputFile(data, filename=name),
            caption=f"{report_title(kind)} · {period.start:%d.%m.%Y}–{period.end:%d.%m.%Y}")


async def cb_chart(query: CallbackQuery, callback_data: ReportCD, actor: Actor,
                   crm: CRM) -> None:
    kind = _allowed(actor, callback_data.kind)
    report = _REPORTS.get(kind)
    if report is None or report.chart is None:
        raise Forbidden()
    period = callback_data.to_period()
    figures = await report.load(crm, actor, period, callback_data.team)
    data = report.chart(figures)
    await query.answer()
    if not data or query.bot is None:
        return
    if report.picture is not None:
        png = await asyncio.to_thread(report.picture, figures, period)
    else:
        png = await asyncio.to_thread(report.draw, data, report.chart_title(period))
    await query.bot.send_photo(query.from_user.id,
                               BufferedInputFile(png, filename=f"{kind.value}.png"),
                               caption=f"{report_title(kind)} · {period_text(period)}")


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_reports, Command("reports"))
    router.message.register(cmd_reports, F.text == BTN_REPORTS)
    router.callback_query.register(cb_menu, ReportCD.filter(F.action == ReportAction.MENU))
    router.callback_query.register(cb_pick, ReportCD.filter(F.action == ReportAction.PICK))
    router.callback_query.register(cb_show, ReportCD.filter(F.action == ReportAction.SHOW))
    router.callback_query.register(cb_xlsx, ReportCD.filter(F.action == ReportAction.XLSX))
    router.callback_query.register(cb_chart, ReportCD.filter(F.action == ReportAction.CHART))
    router.callback_query.register(cb_period, PeriodCD.filter())
    router.message.register(msg_period, ReportForm.period, FormText())
    return router

