"""Buttons of the reports: the list, the period picker, and under a report.

A report's buttons carry its period as two dates (day numbers), so a spreadsheet asked for
tomorrow is the report shown today. A period out of order or too long fails to unpack and
falls through to the stale-button handler, like any forged value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Annotated, Self

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field, model_validator

from bot.keyboards.imports import exchange_row
from bot.keyboards.types import CD, DbId, Step
from crm.dto import TeamInfo
from crm.reports.dynamics import COUNTS, periods_of, span
from crm.reports.marketing import DIMENSIONS, Dimension
from crm.reports.period import MAX_DAYS, Period, PeriodKind
from crm.roles import Role

# A day as date.toordinal(), between 1 Jan 2000 and 31 Dec 2100.
DayNo = Annotated[int, Field(ge=date(2000, 1, 1).toordinal(), le=date(2100, 12, 31).toordinal())]


class ReportKind(StrEnum):
    DIGEST = "dg"
    RESULTS = "res"
    LOSSES = "loss"
    RECEIVABLES = "recv"
    COVERAGE = "cov"
    DYNAMICS = "dyn"
    FORECAST = "fc"
    FUNNEL = "fun"
    TIMEUSE = "time"
    MARKETING = "mkt"


class ReportAction(StrEnum):
    MENU = "menu"  # the list of reports
    PICK = "pick"  # the period picker of a report
    SHOW = "show"  # the report for a period
    XLSX = "xlsx"  # … as a spreadsheet
    CHART = "chart"  # … as a picture


class ReportCD(CD, prefix="rp"):
    action: ReportAction
    kind: ReportKind | None = None
    period: PeriodKind | None = None
    start: DayNo | None = None
    end: DayNo | None = None
    team: DbId | None = None  # an admin's choice of one team; None: everyone
    dim: Dimension | None = None  # the marketing report's grouping; None: the first

    @model_validator(mode="after")
    def _whole(self) -> Self:
        if self.action is not ReportAction.MENU and self.kind is None:
            raise ValueError("a report action needs a report")
        if self.action in (ReportAction.SHOW, ReportAction.XLSX, ReportAction.CHART):
            if self.period is None or self.start is None or self.end is None:
                raise ValueError("a report needs its period")
            if not 0 <= self.end - self.start < MAX_DAYS:
                raise ValueError("a period out of order or too long")
        return self

    def to_period(self) -> Period:
        assert self.period is not None and self.start is not None and self.end is not None
        return Period(self.period, date.fromordinal(self.start), date.fromordinal(self.end))


class PeriodCD(CD, prefix="rpp"):
    """A period button of the picker (a form step)."""

    kind: ReportKind
    period: PeriodKind
    step: Step
    team: DbId | None = None


# What each role finds in the reports menu, in this order.
_SALES = (ReportKind.RESULTS, ReportKind.LOSSES, ReportKind.RECEIVABLES, ReportKind.COVERAGE,
          ReportKind.DIGEST)
_KINDS: dict[Role, tuple[ReportKind, ...]] = {
    Role.ADMIN: (*_SALES, ReportKind.MARKETING),
    Role.HEAD: (*_SALES, ReportKind.MARKETING),
    Role.MANAGER: _SALES,
    Role.MARKETER: (ReportKind.LOSSES, ReportKind.MARKETING),
}
# Funnel and stages, how managers spend their time, dynamics and forecast (issue 8, items 3,
# 7, 2 and 4): the sales roles, each their own scope; before the digest, which stays last.
for _role in (Role.ADMIN, Role.HEAD, Role.MANAGER):
    _at = _KINDS[_role].index(ReportKind.DIGEST)
    _KINDS[_role] = (*_KINDS[_role][:_at], ReportKind.FUNNEL, ReportKind.DYNAMICS,
                     ReportKind.FORECAST, ReportKind.TIMEUSE, *_KINDS[_role][_at:])


def kinds_for(role: Role) -> tuple[ReportKind, ...]:
    return _KINDS.get(role, ())


def report_title(kind: ReportKind) -> str:
    titles = {
        ReportKind.DIGEST: _("📰 Digest"),
        ReportKind.RESULTS: _("🏆 Results per manager"),
        ReportKind.LOSSES: _("📉 Loss analytics"),
        ReportKind.RECEIVABLES: _("🧾 Receivables"),
        ReportKind.COVERAGE: _("📡 Coverage of the base"),
        ReportKind.DYNAMICS: _("📈 Dynamics"),
        ReportKind.FORECAST: _("🔮 Forecast"),
        ReportKind.FUNNEL: _("🔻 Funnel and stages"),
        ReportKind.TIMEUSE: _("⏱ How managers spend their time"),
        ReportKind.MARKETING: _("📣 Marketing"),
    }
    return titles[kind]


def period_label(kind: PeriodKind) -> str:
    labels = {
        PeriodKind.TODAY: _("Today"),
        PeriodKind.WEEK: _("This week"),
        PeriodKind.MONTH: _("This month"),
        PeriodKind.LAST_MONTH: _("Last month"),
        PeriodKind.QUARTER: _("This quarter"),
        PeriodKind.YEAR: _("This year"),
        PeriodKind.CUSTOM: _("Dates"),
    }
    return labels[kind]


def back_to_reports(team: int | None = None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("« Reports"),
                                callback_data=ReportCD(action=ReportAction.MENU, team=team).pack())


def reports_menu_kb(role: Role, teams: Sequence[TeamInfo] = (),
                    team: int | None = None,
                    extra: Sequence[InlineKeyboardButton] = ()) -> InlineKeyboardMarkup:
    """The reports of the role, then `extra` (the client lists); for an admin, below them,
    whose figures: all or one team."""
    kb = InlineKeyboardBuilder()
    for kind in kinds_for(role):
        kb.button(text=report_title(kind),
                  callback_data=ReportCD(action=ReportAction.PICK, kind=kind, team=team))
    kb.adjust(1)
    for button in extra:
        kb.row(button)
    if teams:
        choices: list[tuple[str, int | None]] = [(_("All teams"), None)]
        choices += [(t.name, t.id) for t in teams]
        row = [InlineKeyboardButton(
            text=("✓ " if team_id == team else "") + name,
            callback_data=ReportCD(action=ReportAction.MENU, team=team_id).pack())
            for name, team_id in choices]
        for i in range(0, len(row), 3):
            kb.row(*row[i:i + 3])
    if role in (Role.ADMIN, Role.HEAD, Role.MARKETER):
        kb.row(*exchange_row())
    return kb.as_markup()


PICKER = (PeriodKind.TODAY, PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.LAST_MONTH,
          PeriodKind.QUARTER, PeriodKind.YEAR)


def period_kb(kind: ReportKind, step: int, team: int | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for period in PICKER:
        kb.button(text=period_label(period),
                  callback_data=PeriodCD(kind=kind, period=period, step=step, team=team))
    kb.adjust(2)
    kb.row(back_to_reports(team))
    return kb.as_markup()


def report_kb(kind: ReportKind, period: Period, *, team: int | None = None,
              chart: bool = False, periodic: bool = True,
              drill: Sequence[InlineKeyboardButton] = (),
              rows: Sequence[Sequence[InlineKeyboardButton]] = (),
              dim: Dimension | None = None) -> InlineKeyboardMarkup:
    """XLSX, a chart if there is one, another period; the report's own rows (other views of
    it, related reports); the groupings of a report shown one at a time (`dim`: the one
    shown); then its drill-down buttons (one a row) and the way back to the list."""
    same = {"kind": kind, "period": period.kind, "start": period.start.toordinal(),
            "end": period.end.toordinal(), "team": team}
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📥 XLSX"), callback_data=ReportCD(action=ReportAction.XLSX, **same))
    if chart:
        kb.button(text=_("📈 Chart"), callback_data=ReportCD(action=ReportAction.CHART, **same))
    if periodic:
        kb.button(text=_("🗓 Period"),
                  callback_data=ReportCD(action=ReportAction.PICK, kind=kind, team=team))
    kb.adjust(1 + chart + periodic)
    for row in rows:
        kb.row(*row)
    if dim is not None:
        switch = [InlineKeyboardButton(
            text=("✓ " if d is dim else "") + dimension_label(d),
            callback_data=ReportCD(action=ReportAction.SHOW, dim=d, **same).pack())
            for d in DIMENSIONS]
        kb.row(*switch[:3])
        kb.row(*switch[3:])
    for button in drill:
        kb.row(button)
    kb.row(back_to_reports(team))
    return kb.as_markup()


# --- dynamics -------------------------------------------------------------------------------


def _dynamics_button(text: str, period: Period, team: int | None) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=ReportCD(
        action=ReportAction.SHOW, kind=ReportKind.DYNAMICS, period=period.kind,
        start=period.start.toordinal(), end=period.end.toordinal(), team=team).pack())


def dynamics_rows(period: Period, team: int | None) -> list[list[InlineKeyboardButton]]:
    """Under the dynamics: by month or by week, and how many of them (the current choice
    ticked); each keeps the report's end day."""
    count = len(periods_of(period))
    grains = [(_("By month"), PeriodKind.MONTH), (_("By week"), PeriodKind.WEEK)]
    by = [_dynamics_button(("✓ " if grain is period.kind else "") + text,
                           span(grain, count, period.end), team) for text, grain in grains]

    def many(n: int) -> str:
        if period.kind is PeriodKind.WEEK:
            return ngettext("{n} week", "{n} weeks", n).format(n=n)
        return ngettext("{n} month", "{n} months", n).format(n=n)

    counts = [_dynamics_button(("✓ " if n == count else "") + many(n),
                               span(period.kind, n, period.end), team) for n in COUNTS]
    return [by, counts]


def dynamics_link(period: Period, team: int | None) -> list[list[InlineKeyboardButton]]:
    """«📈 Dynamics» under the results: weeks for a day or a week, months otherwise, up to
    the results' last day."""
    grain = PeriodKind.WEEK if period.kind in (PeriodKind.TODAY, PeriodKind.WEEK) else \
        PeriodKind.MONTH
    return [[_dynamics_button(_("📈 Dynamics"), span(grain, COUNTS[-1], period.end), team)]]


def dimension_label(d: Dimension) -> str:
    labels = {
        Dimension.SOURCE: _("Sources"),
        Dimension.SEGMENT: _("Segments"),
        Dimension.REGION: _("Regions"),
        Dimension.INDUSTRY: _("Industries"),
        Dimension.CAMPAIGN: _("Campaigns"),
    }
    return labels[d]
