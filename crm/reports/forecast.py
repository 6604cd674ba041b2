"""Forecast (issue 8, item 4; seed 6): what the open deals should bring and when, and the
money planned on invoices against the money received, by month. A snapshot as of today in
the viewer's time zone.

* weighted forecast — an open deal's amount × its probability (the deal's own, else its
  stage's), by the month of its expected close, from this month on for HORIZON months; deals
  expected before today are "overdue", after the horizon "later", without a date "no date";
  deals of deleted clients are left out;
* invoices — planned: the amount of the invoices (not cancelled) due in the month; received:
  the payments made in the month (by the payment's date), on the manager's deals; from
  CASH_BEFORE months back to CASH_AFTER months ahead.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.period import _add_months
from crm.reports.scope import Audience, audience
from storage.db import Database
from storage.repo import reports as repo

HORIZON = 12  # months of the weighted forecast, this one first
CASH_BEFORE, CASH_AFTER = 5, 6  # months of the invoices before and after this one

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Cell:
    deals: int
    amount: Decimal  # the deals' full amount
    weighted: Decimal  # … × probability

    def __add__(self, other: Cell) -> Cell:
        return Cell(self.deals + other.deals, self.amount + other.amount,
                    self.weighted + other.weighted)


EMPTY = Cell(0, Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class ForecastRow:
    id: int  # the manager; 0 for the total
    name: str
    overdue: Cell  # expected to close before today
    months: tuple[Cell, ...]  # ForecastReport.months
    later: Cell  # beyond the horizon
    undated: Cell  # no expected close

    @property
    def total(self) -> Cell:
        out = self.overdue + self.later + self.undated
        for cell in self.months:
            out += cell
        return out

    def __add__(self, other: ForecastRow) -> ForecastRow:
        return ForecastRow(self.id, self.name, self.overdue + other.overdue,
                           tuple(a + b for a, b in zip(self.months, other.months, strict=True)),
                           self.later + other.later, self.undated + other.undated)


@dataclass(frozen=True, slots=True)
class CashMonth:
    month: date  # its first day
    planned: Decimal  # invoices due in the month
    received: Decimal  # payments made in the month


@dataclass(frozen=True, slots=True)
class CashRow:
    id: int  # the manager; 0 for the total
    name: str
    months: tuple[CashMonth, ...]

    @property
    def planned(self) -> Decimal:
        return sum((m.planned for m in self.months), Decimal(0))

    @property
    def received(self) -> Decimal:
        return sum((m.received for m in self.months), Decimal(0))


@dataclass(frozen=True, slots=True)
class ForecastReport:
    audience: Audience
    as_of: date
    currency: str
    months: tuple[date, ...]  # first days, HORIZON of them, this month first
    managers: tuple[ForecastRow, ...]  # the audience's order
    total: ForecastRow  # the sum (for one person: the same figures)
    cash_managers: tuple[CashRow, ...]
    cash_total: CashRow


def weigh(amount: Decimal, probability: int) -> Decimal:
    return (amount * probability / 100).quantize(_CENT, ROUND_HALF_UP)


class ForecastService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def forecast(self, actor: Actor, team_id: int | None = None) -> ForecastReport:
        today = self.clock.now().astimezone(actor.tz).date()
        this_month = today.replace(day=1)
        months = [_add_months(this_month, i) for i in range(HORIZON + 1)]
        cash = [_add_months(this_month, i) for i in range(-CASH_BEFORE, CASH_AFTER + 2)]
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            ids = who.ids
            deals = await repo.forecast_by_bucket(s, ids, today, months)
            planned = await repo.invoices_due_by_bucket(s, ids, cash)
            received = await repo.payments_by_bucket(s, ids, cash)
        cells: dict[tuple[int, int], Cell] = defaultdict(lambda: EMPTY)
        for owner, line, prob, n, amount in deals:
            cells[(owner, line)] += Cell(n, amount, weigh(amount, prob))

        def row(id_: int, name: str) -> ForecastRow:
            return ForecastRow(id_, name, cells[(id_, repo.OVERDUE)],
                               tuple(cells[(id_, i)] for i in range(HORIZON)),
                               cells[(id_, HORIZON)], cells[(id_, repo.UNDATED)])

        def cash_row(id_: int, name: str, owners: list[int]) -> CashRow:
            return CashRow(id_, name, tuple(
                CashMonth(m, sum((planned.get((o, i), Decimal(0)) for o in owners), Decimal(0)),
                          sum((received.get((o, i), Decimal(0)) for o in owners), Decimal(0)))
                for i, m in enumerate(cash[:-1])))

        managers = tuple(row(m.id, m.name) for m in who.members)
        total = ForecastRow(0, who.team_name or "", EMPTY, (EMPTY,) * HORIZON, EMPTY, EMPTY)
        for r in managers:
            total += r
        cash_managers = tuple(cash_row(m.id, m.name, [m.id]) for m in who.members)
        cash_total = cash_row(0, who.team_name or "", [m.id for m in who.members])
        return ForecastReport(who, today, self.config.currency, tuple(months[:HORIZON]),
                              managers, total, cash_managers, cash_total)

