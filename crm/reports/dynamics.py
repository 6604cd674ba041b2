"""Dynamics of the results (seed 12, 13): the results' main figures by calendar week or month
over the last few periods, per manager and in total.

The periods are calendar weeks (Monday to Sunday) or months in the viewer's time zone; the
last one runs to the report's end day (today: this week or month so far). Each period's
bounds are local midnights converted to UTC one by one (crm/reports/period.py), so a week
across a DST change has 167 or 169 hours and loses nothing at either end.

Definitions are those of the results (crm/reports/results.py): contacts are typed history
records, new deals are opened in the period, won deals (count and revenue) are closed in it,
payments are received in it (by the payment's date) on the manager's deals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.errors import NotAvailable
from crm.reports.period import Period, PeriodKind, _add_months, utc_midnight
from crm.reports.scope import Audience, ScopeKind, audience
from storage.db import Database
from storage.repo import reports as repo

# The granularities: a calendar week or a calendar month.
GRAINS = (PeriodKind.MONTH, PeriodKind.WEEK)
# How many periods a report may show, and the choices offered on its buttons.
MAX_PERIODS = 12
COUNTS = (6, 12)


def period_start(grain: PeriodKind, day: date) -> date:
    """The first day of the calendar week (Monday) or month holding `day`."""
    if grain is PeriodKind.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_start(grain: PeriodKind, start: date) -> date:
    if grain is PeriodKind.WEEK:
        return start + timedelta(days=7)
    return _add_months(start, 1)


def span(grain: PeriodKind, count: int, end: date) -> Period:
    """The last `count` weeks or months up to `end` (the last one only begun), as a period
    whose kind is the granularity: what the report's buttons carry."""
    start = period_start(grain, end)
    for _ in range(count - 1):
        start = period_start(grain, start - timedelta(days=1))
    return Period(grain, start, end)


def periods_of(p: Period) -> list[tuple[date, date]]:
    """The calendar periods of a span (local days, both ends included). A span that is not
    a whole number of weeks or months starting on a boundary, or is too long, is no report
    this bot ever drew: NotAvailable, as for any forged button."""
    if p.kind not in GRAINS or p.start != period_start(p.kind, p.start) or p.end < p.start:
        raise NotAvailable()
    out = []
    start = p.start
    while start <= p.end:
        nxt = _next_start(p.kind, start)
        out.append((start, min(nxt - timedelta(days=1), p.end)))
        start = nxt
        if len(out) > MAX_PERIODS:
            raise NotAvailable()
    return out


@dataclass(frozen=True, slots=True)
class Point:
    """One person's (or the total's) figures for one week or month."""

    start: date
    end: date  # included; the last period ends on the report's end day
    contacts: int
    new_deals: int
    won_count: int
    revenue: Decimal
    payments: Decimal


@dataclass(frozen=True, slots=True)
class Series:
    id: int  # the manager; 0 for the total
    name: str
    points: tuple[Point, ...]  # oldest first, one per period of the report

    @property
    def empty(self) -> bool:
        return not any(p.contacts or p.new_deals or p.won_count or p.payments
                       for p in self.points)


@dataclass(frozen=True, slots=True)
class DynamicsReport:
    audience: Audience
    period: Period  # kind: PeriodKind.WEEK or MONTH, the granularity
    currency: str
    periods: tuple[tuple[date, date], ...]
    managers: tuple[Series, ...]  # the audience's order
    total: Series | None  # None when the report is about one person

    @property
    def grain(self) -> PeriodKind:
        return self.period.kind

    @property
    def overall(self) -> Series:
        """The total, or the one person's own series."""
        if self.total is not None:
            return self.total
        return self.managers[0] if self.managers else Series(0, "", tuple(
            Point(a, b, 0, 0, 0, Decimal(0), Decimal(0)) for a, b in self.periods))


class DynamicsService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def dynamics(self, actor: Actor, period: Period,
                       team_id: int | None = None) -> DynamicsReport:
        """`period` as made by span(): its kind is the granularity."""
        periods = periods_of(period)
        tz = actor.tz
        days = [a for a, _ in periods] + [period.end + timedelta(days=1)]
        edges = [utc_midnight(d, tz) for d in days]
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            ids = who.ids
            contacts = await repo.contacts_by_bucket(s, ids, edges)
            opened = await repo.deals_opened_by_bucket(s, ids, edges)
            won = await repo.deals_won_by_bucket(s, ids, edges)
            paid = await repo.payments_by_bucket(s, ids, days)

        def series(id_: int, name: str, owners: list[int]) -> Series:
            points = []
            for i, (a, b) in enumerate(periods):
                won_n, revenue = 0, Decimal(0)
                for o in owners:
                    n, amount = won.get((o, i), (0, Decimal(0)))
                    won_n, revenue = won_n + n, revenue + amount
                points.append(Point(
                    a, b, sum(contacts.get((o, i), 0) for o in owners),
                    sum(opened.get((o, i), 0) for o in owners), won_n, revenue,
                    sum((paid.get((o, i), Decimal(0)) for o in owners), Decimal(0))))
            return Series(id_, name, tuple(points))

        managers = tuple(series(m.id, m.name, [m.id]) for m in who.members)
        total = None
        if who.kind is not ScopeKind.OWN:
            total = series(0, who.team_name or "", [m.id for m in who.members])
        return DynamicsReport(who, period, self.config.currency, tuple(periods), managers,
                              total)

