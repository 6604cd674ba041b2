"""Results per manager (seed 12, 13) for a period, with the previous period alongside.

Definitions (tests/test_report_results.py checks each against a hand-built data set):

* contacts — typed history records the manager logged, by type;
* clients in work — as of now (not of the period): clients with an open deal or a planned
  contact;
* overdue contacts — as of now (not of the period): planned contacts not done whose time has
  passed (the digest's figure, the same query: storage.repo.analytics.overdue_planned);
* new deals — deals opened in the period; won / lost — deals closed in the period;
* conversion — won ÷ (won + lost) of the deals closed in the period, in percent;
* average check — revenue ÷ deals won; average duration — days from opening to winning;
* payments — received in the period (by payment date) on the manager's deals;
* commission — payments × COMMISSION_RATE (one rate for everyone for now).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from crm.classifiers import Label, StageInfo, label, stage_info
from crm.clock import Clock
from crm.config import CRMConfig
from crm.digest import LabelCount
from crm.dto import Actor
from crm.errors import NotAvailable
from crm.reports.period import Period, previous
from crm.reports.scope import Audience, ScopeKind, audience
from storage.db import Database
from storage.repo import analytics as analytics_repo
from storage.repo import classifiers as cls_repo
from storage.repo import reports as repo

_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Results:
    """One manager's figures for one period (user_id 0: the total)."""

    user_id: int
    name: str
    contacts: tuple[LabelCount, ...]
    contacts_total: int
    new_deals: int
    won_count: int
    revenue: Decimal
    lost_count: int
    conversion: Decimal | None  # percent, one decimal; None: nothing closed
    avg_check: Decimal | None
    avg_days: Decimal | None
    payments: Decimal
    commission: Decimal


@dataclass(frozen=True, slots=True)
class ResultsLine:
    current: Results
    previous: Results
    clients_in_work: int  # now, not of a period
    overdue_contacts: int  # now, not of a period


@dataclass(frozen=True, slots=True)
class ResultsReport:
    audience: Audience
    period: Period
    previous: Period
    currency: str
    commission_rate: Decimal  # percent
    lines: tuple[ResultsLine, ...]
    total: ResultsLine | None  # None when the report is about one person


class _Acc:
    def __init__(self) -> None:
        self.types: dict[int, int] = defaultdict(int)
        self.new = self.lost = self.won = 0
        self.revenue = Decimal(0)
        self.days = Decimal(0)
        self.paid = Decimal(0)

    def add(self, other: _Acc) -> None:
        for t, n in other.types.items():
            self.types[t] += n
        self.new += other.new
        self.lost += other.lost
        self.won += other.won
        self.revenue += other.revenue
        self.days += other.days
        self.paid += other.paid

    def results(self, user_id: int, name: str, labels: dict[int, Label],
                rate: Decimal) -> Results:
        closed = self.won + self.lost
        contacts = tuple(LabelCount(labels[t], n) for t, n in
                         sorted(self.types.items(), key=lambda kv: (-kv[1], kv[0]))
                         if t in labels)
        return Results(
            user_id=user_id, name=name, contacts=contacts,
            contacts_total=sum(self.types.values()), new_deals=self.new,
            won_count=self.won, revenue=self.revenue, lost_count=self.lost,
            conversion=(Decimal(self.won * 100) / closed).quantize(_TENTH, ROUND_HALF_UP)
            if closed else None,
            avg_check=(self.revenue / self.won).quantize(_CENT, ROUND_HALF_UP)
            if self.won else None,
            avg_days=(self.days / self.won).quantize(_TENTH, ROUND_HALF_UP)
            if self.won else None,
            payments=self.paid,
            commission=(self.paid * rate / 100).quantize(_CENT, ROUND_HALF_UP),
        )


class ResultsService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def manager_deals(self, actor: Actor, user_id: int,
                            team_id: int | None = None) -> ManagerDeals:
        return await manager_deals(self.db, actor, user_id, team_id)

    async def results(self, actor: Actor, period: Period,
                      team_id: int | None = None) -> ResultsReport:
        prev = previous(period)
        tz = actor.tz
        window = repo.Window(period.bounds(tz), prev.bounds(tz), (period.start, period.end),
                             (prev.start, prev.end))
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            ids = who.ids
            accs: dict[tuple[int, int], _Acc] = defaultdict(_Acc)
            for owner, type_id, b, n in await repo.contacts_by_type(s, ids, window):
                accs[(owner, b)].types[type_id] += n
            for (owner, b), (opened, lost) in (await repo.deal_counts(s, ids, window)).items():
                accs[(owner, b)].new, accs[(owner, b)].lost = opened, lost
            for owner, b, amount, opened_at, closed_at in await repo.won_deals(s, ids, window):
                acc = accs[(owner, b)]
                acc.won += 1
                acc.revenue += amount
                acc.days += Decimal((closed_at - opened_at).total_seconds()) / 86400
            for (owner, b), paid in (await repo.payments_received(s, ids, window)).items():
                accs[(owner, b)].paid = paid
            in_work = await analytics_repo.clients_in_work(s, ids)
            overdue = await analytics_repo.overdue_planned(s, ids, self.clock.now())
            type_ids = {t for acc in accs.values() for t in acc.types}
            labels = {i: label(item) for i, item in
                      (await cls_repo.items_by_ids(s, type_ids)).items()}
        rate = self.config.commission_rate
        lines = tuple(
            ResultsLine(accs[(m.id, 0)].results(m.id, m.name, labels, rate),
                        accs[(m.id, 1)].results(m.id, m.name, labels, rate),
                        in_work.get(m.id, 0), overdue.get(m.id, 0))
            for m in who.members
        )
        total = None
        if who.kind is not ScopeKind.OWN:
            sums = (_Acc(), _Acc())
            for m in who.members:
                for b in (0, 1):
                    sums[b].add(accs[(m.id, b)])
            total = ResultsLine(sums[0].results(0, who.team_name or "", labels, rate),
                                sums[1].results(0, who.team_name or "", labels, rate),
                                sum(line.clients_in_work for line in lines),
                                sum(line.overdue_contacts for line in lines))
        return ResultsReport(who, period, prev, self.config.currency, rate, lines, total)


@dataclass(frozen=True, slots=True)
class OpenDeal:
    deal_id: int
    title: str
    client_name: str
    stage: StageInfo
    amount: Decimal
    currency: str
    expected_close: date | None


@dataclass(frozen=True, slots=True)
class ManagerDeals:
    """A results row's drill-down: the manager's open deals, as of now."""

    user_id: int
    name: str
    deals: tuple[OpenDeal, ...]


async def manager_deals(db: Database, actor: Actor, user_id: int,
                        team_id: int | None = None) -> ManagerDeals:
    """Only someone the actor's report scope lists (crm.access.report_scope); else
    NotAvailable, as for a person of another team."""
    async with db.transaction() as s:
        aud = await audience(s, actor, team_id)
        member = next((m for m in aud.members if m.id == user_id), None)
        if member is None:
            raise NotAvailable()
        rows = await analytics_repo.open_deals(s, [member.id])
        return ManagerDeals(member.id, member.name, tuple(
            OpenDeal(d.id, d.title, client, stage_info(st), d.amount, d.currency,
                     d.expected_close) for d, st, client in rows))
