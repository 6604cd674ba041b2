"""«📊 Reports»: the list of reports for the role → a period picker (a form step: buttons or
typed dates) → the report with the previous period alongside, 📥 XLSX and « Reports.

Who sees whose figures is decided in crm/ (crm.access.report_scope) on every press."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Generic, TypeVar

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardButton, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.filters import FormText
from bot.handlers.reminders import send_digest
from bot.keyboards.deals import InvoiceAction, InvoiceCD
from bot.keyboards.menu import BTN_REPORTS
from bot.keyboards.reports import (
    PeriodCD,
    ReportAction,
    ReportCD,
    ReportKind,
    kinds_for,
    period_kb,
    report_kb,
    report_title,
    reports_menu_kb,
)
from bot.report_charts import loss_chart
from bot.report_views import (
    coverage_text,
    invoice_button_text,
    loss_bars,
    losses_text,
    marketing_text,
    period_text,
    receivables_text,
    results_text,
)
from bot.xlsx import (
    coverage_xlsx,
    losses_xlsx,
    marketing_xlsx,
    receivables_xlsx,
    results_xlsx,
)
from crm.access import can_see_reports
from crm.dto import Actor
from crm.errors import Forbidden, NotAvailable
from crm.reports.marketing import DIMENSIONS, Dimension
from crm.reports.period import Period, PeriodError, PeriodKind, parse_period, period_of
from crm.reports.receivables import ReceivablesReport
from crm.roles import Role
from crm.service import CRM


class ReportForm(StatesGroup):
    period = State()


forms.register(ReportForm, lambda: _("report period"))

T = TypeVar("T")
DRILL_ROWS = 8


@dataclass(frozen=True, slots=True)
class _Report(Generic[T]):
    """A report's figures (a crm function), its chat text and its spreadsheet."""

    load: Callable[[CRM, Actor, Period, int | None], Awaitable[T]]
    text: Callable[[T], str]
    xlsx: Callable[[T], bytes]
    # A chart's bars (name, value, label), when the report has one.
    chart: Callable[[T], list[tuple[str, float, str]]] | None = None
    # A snapshot (as of now) has no period to pick.
    periodic: bool = True
    # Buttons that open what the report lists (an invoice …).
    drill: Callable[[T], list[InlineKeyboardButton]] | None = None
    # A report shown one grouping at a time (marketing): its text for the grouping picked;
    # the spreadsheet has them all.
    by_dim: Callable[[T, Dimension], str] | None = None


def receivables_drill(r: ReceivablesReport) -> list[InlineKeyboardButton]:
    """The longest overdue invoices, each opening the invoice itself."""
    return [InlineKeyboardButton(
        text=invoice_button_text(inv, r.currency),
        callback_data=InvoiceCD(id=inv.invoice_id, action=InvoiceAction.OPEN).pack())
        for inv in r.invoices[:DRILL_ROWS] if inv.days_overdue > 0]


_REPORTS: dict[ReportKind, _Report[Any]] = {
    ReportKind.RESULTS: _Report(lambda crm, actor, p, team: crm.reports.results(actor, p, team),
                                results_text, results_xlsx),
    ReportKind.LOSSES: _Report(lambda crm, actor, p, team: crm.reports.losses(actor, p, team),
                               losses_text, losses_xlsx, loss_bars),
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


def _allowed(actor: Actor, kind: ReportKind | None) -> ReportKind:
    if kind is None or kind not in kinds_for(actor.role):
        raise Forbidden()
    return kind


async def show_menu(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                    team: int | None = None) -> None:
    """The reports of the role; an admin also picks whose figures (all, or one team)."""
    if not can_see_reports(actor) or not kinds_for(actor.role):
        raise Forbidden()
    text = _("📊 <b>Reports</b>\nPick a report:")
    teams = await crm.people.teams(actor) if actor.role is Role.ADMIN else []
    if teams:
        names = {t.id: t.name for t in teams}
        if team is not None and team not in names:
            raise NotAvailable()
        text += "\n" + (_("Figures of: all teams") if team is None else
                        _("Figures of: team «{team}»").format(team=escape(names[team])))
    await forms.screen(target, text, reports_menu_kb(actor.role, teams,
                                                     team if teams else None))


async def cmd_reports(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_menu(message, actor, crm)


async def cb_menu(query: CallbackQuery, callback_data: ReportCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    await forms.finish(state)
    await show_menu(query, actor, crm, callback_data.team)


async def cb_pick(query: CallbackQuery, callback_data: ReportCD, actor: Actor, crm: CRM,
                  state: FSMContext, i18n: I18n) -> None:
    kind = _allowed(actor, callback_data.kind)
    if kind is ReportKind.DIGEST:
        await forms.finish(state)
        await query.answer()
        if isinstance(query.message, Message):
            await send_digest(query.message, actor, crm, i18n)
        return
    if not _REPORTS[kind].periodic:
        await forms.finish(state)
        today = crm.clock.now().astimezone(actor.tz).date()
        await _show(query, kind, period_of(PeriodKind.TODAY, today), actor, crm,
                    callback_data.team)
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
                actor: Actor, crm: CRM, team: int | None, dim: Dimension | None = None) -> None:
    report = _REPORTS[kind]
    figures = await report.load(crm, actor, period, team)
    has_chart = report.chart is not None and bool(report.chart(figures))
    drill = report.drill(figures) if report.drill is not None else []
    if report.by_dim is not None:
        dim = dim or DIMENSIONS[0]
        text = report.by_dim(figures, dim)
    else:
        dim, text = None, report.text(figures)
    await forms.screen(target, text, report_kb(
        kind, period, team=team, chart=has_chart, periodic=report.periodic, drill=drill,
        dim=dim))


async def cb_period(query: CallbackQuery, callback_data: PeriodCD, actor: Actor, crm: CRM,
                    state: FSMContext) -> None:
    kind = _allowed(actor, callback_data.kind)
    if await forms.take(query, state, callback_data.step) is None:
        return
    await forms.finish(state)
    today = crm.clock.now().astimezone(actor.tz).date()
    await _show(query, kind, period_of(callback_data.period, today), actor, crm,
                callback_data.team)


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
    await _show(message, kind, period, actor, crm, draft.get("team"))


async def cb_show(query: CallbackQuery, callback_data: ReportCD, actor: Actor,
                  crm: CRM) -> None:
    kind = _allowed(actor, callback_data.kind)
    await _show(query, kind, callback_data.to_period(), actor, crm, callback_data.team,
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
    bars = report.chart(await report.load(crm, actor, period, callback_data.team))
    await query.answer()
    if not bars or query.bot is None:
        return
    # The chart's own title has no emoji: the chart fonts have none.
    title = _("Loss reasons, {period}").format(period=period_text(period))
    png = await asyncio.to_thread(loss_chart, bars, title)
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

