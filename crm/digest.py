"""The digest: per-manager figures for the last seven days and as of now.

A head gets their team, a manager their own, an admin everyone. Definitions (the tests
check each against a hand-built data set):

* contacts — typed history records the manager logged in the period, by type;
* clients in work — their clients with an open deal or a planned contact; an alarm when
  below / above the configured thresholds;
* won / lost — deals closed in the period; revenue is the won deals' amounts; the loss
  reasons are the three most frequent;
* new deals — deals opened in the period;
* forecast — open deals' amount × probability (the deal's own, else its stage's), by the
  month of the expected close;
* stalled — open deals with no activity and no stage change for the stage's `stall_days`;
* overdue contacts — planned contacts still open whose time has passed;
* receivables — what is still owed on invoices; overdue — the part past its due date;
* average deal — days from opening to winning, over deals won in the last 90 days;
* visits — check-ins («Visit» contacts) per day of the period, in the reader's time zone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.classifiers import VISIT, Label, StageInfo, label, stage_info
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.errors import Forbidden, NotAvailable
from crm.history import local_day_bounds
from crm.roles import Role
from storage.db import Database
from storage.models import Deal, Invoice, Stage, User
from storage.repo import analytics as repo
from storage.repo import classifiers as cls_repo
from storage.repo import people as people_repo

PERIOD_DAYS = 7
DURATION_WINDOW = timedelta(days=90)
TOP_REASONS = 3
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LabelCount:
    label: Label
    count: int


@dataclass(frozen=True, slots=True)
class ForecastMonth:
    month: date | None  # the first day of the month; None: no expected close date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Figures:
    user_id: int  # 0 for a team total
    name: str
    on_vacation: bool
    contacts: list[LabelCount]
    contacts_total: int
    clients_in_work: int
    alarm: str | None  # "few", "many"
    won_count: int
    won_amount: Decimal
    lost_count: int
    loss_reasons: list[LabelCount]
    new_deals: int
    forecast: list[ForecastMonth]
    forecast_total: Decimal
    stalled: int
    overdue_planned: int
    receivables: Decimal
    overdue_receivables: Decimal
    overdue_invoices: int
    avg_deal_days: float | None
    visits_by_day: tuple[int, ...] = ()  # one count per day of the period

    @property
    def visits(self) -> int:
        return sum(self.visits_by_day)


@dataclass(frozen=True, slots=True)
class StageLine:
    stage: StageInfo
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Digest:
    scope: str  # own, team, all
    team_name: str | None
    start: date  # first day of the period
    end: date  # last day of the period
    currency: str
    managers: list[Figures]
    total: Figures | None
    daily: list[tuple[date, int]]
    pipeline: list[StageLine]
    min_clients: int
    max_clients: int

    @property
    def is_empty(self) -> bool:
        """Nothing happened and nothing is open: the digest has no figure worth a line."""
        people = [*self.managers, *([self.total] if self.total is not None else [])]
        return not any(n for _, n in self.daily) and not self.pipeline and not any(
            f.contacts_total or f.won_count or f.lost_count or f.new_deals or f.receivables
            or f.overdue_planned or f.stalled
            for f in people
        )


@dataclass(frozen=True, slots=True)
class StalledDeal:
    deal_id: int
    client_id: int
    client_name: str
    title: str
    stage: StageInfo
    idle_days: int


@dataclass(frozen=True, slots=True)
class OverdueInvoice:
    invoice_id: int
    client_id: int
    client_name: str
    number: str | None
    owed: Decimal
    currency: str
    due_on: date
    days: int


def weighted(deal: Deal, stage: Stage) -> Decimal:
    prob = deal.probability if deal.probability is not None else stage.probability
    return (deal.amount * Decimal(prob) / 100).quantize(_CENT)


def idle_since(deal: Deal) -> datetime:
    stamps = [t for t in (deal.last_activity_at, deal.stage_changed_at, deal.opened_at) if t]
    return max(stamps)


def is_stalled(deal: Deal, stage: Stage, now: datetime) -> bool:
    return now - idle_since(deal) >= timedelta(days=stage.stall_days)


@dataclass(slots=True)
class _Data:
    """Everything loaded once for all the managers of a digest."""

    contacts: Sequence[tuple[int, int, datetime]]
    in_work: dict[int, int]
    closed: Sequence[Deal]
    opened: dict[int, int]
    open_deals: Sequence[tuple[Deal, Stage, str]]
    overdue_planned: dict[int, int]
    receivables: Sequence[tuple[Invoice, int, int, str, Decimal]]
    durations: Sequence[tuple[int, datetime, datetime]]
    labels: dict[int, Label]
    today: date
    now: datetime
    tz: ZoneInfo
    first_day: date


def _everyone(owner: int | None) -> bool:
    return True


def _by_owner(d: _Data) -> Callable[[int], _Data]:
    """Each owner's share of the rows, grouped in one pass: the admin's digest of 50
    managers would otherwise read every row 50 times."""
    contacts: defaultdict[int, list[tuple[int, int, datetime]]] = defaultdict(list)
    closed: defaultdict[int, list[Deal]] = defaultdict(list)
    open_deals: defaultdict[int, list[tuple[Deal, Stage, str]]] = defaultdict(list)
    receivables: defaultdict[int, list[tuple[Invoice, int, int, str, Decimal]]] = (
        defaultdict(list)
    )
    durations: defaultdict[int, list[tuple[int, datetime, datetime]]] = defaultdict(list)
    for c in d.contacts:
        contacts[c[0]].append(c)
    for deal in d.closed:
        closed[deal.owner_id or 0].append(deal)
    for row in d.open_deals:
        open_deals[row[0].owner_id or 0].append(row)
    for r in d.receivables:
        receivables[r[1]].append(r)
    for span in d.durations:
        durations[span[0]].append(span)

    def share(owner: int) -> _Data:
        def one(counts: dict[int, int]) -> dict[int, int]:
            return {owner: counts[owner]} if owner in counts else {}

        return _Data(
            contacts=contacts.get(owner, []), in_work=one(d.in_work),
            closed=closed.get(owner, []), opened=one(d.opened),
            open_deals=open_deals.get(owner, []), overdue_planned=one(d.overdue_planned),
            receivables=receivables.get(owner, []), durations=durations.get(owner, []),
            labels=d.labels, today=d.today, now=d.now, tz=d.tz, first_day=d.first_day,
        )

    return share


class DigestService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    # --- who sees what --------------------------------------------------------------------

    async def for_actor(self, actor: Actor) -> Digest:
        """/digest: a head's team, a manager's own, an admin's everyone."""
        if actor.role not in (Role.ADMIN, Role.HEAD, Role.MANAGER):
            raise Forbidden()
        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, actor.id)
            if user is None:
                raise NotAvailable()
            return await self._digest(s, user)

    async def for_user(self, user_id: int) -> Digest | None:
        """The scheduled digest of a user, or None if they are no longer to get one."""
        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, user_id)
            if user is None or not user.is_active or user.role not in ("admin", "head",
                                                                         "manager"):
                return None
            return await self._digest(s, user)

    async def _scope(self, s: AsyncSession, user: User) -> tuple[str, str | None, list[User]]:
        if user.role == Role.ADMIN:
            return "all", None, list(await repo.managers(s))
        if user.role == Role.HEAD and user.team_id is not None:
            team = await people_repo.team_by_id(s, user.team_id)
            people = list(await repo.managers(s, team_id=user.team_id))
            return "team", team.name if team is not None else None, people
        return "own", None, list(await repo.managers(s, user_id=user.id))

    async def _may_see(self, s: AsyncSession, actor: Actor, manager_id: int) -> User:
        manager = await people_repo.user_by_id(s, manager_id)
        if manager is None:
            raise NotAvailable()
        if actor.role is Role.ADMIN or manager.id == actor.id:
            return manager
        if actor.role is Role.HEAD and actor.team_id is not None \
                and manager.team_id == actor.team_id:
            return manager
        raise NotAvailable()

    # --- figures ----------------------------------------------------------------------------

    async def _digest(self, s: AsyncSession, user: User) -> Digest:
        scope, team_name, people = await self._scope(s, user)
        tz = ZoneInfo(user.timezone)
        now = self.clock.now()
        today_start, _ = local_day_bounds(now, tz)
        start = today_start - timedelta(days=PERIOD_DAYS)
        first_day = start.astimezone(tz).date()
        ids = [p.id for p in people] or [0]
        data = await self._load(s, ids, start, today_start, now, now.astimezone(tz).date(),
                                tz, first_day)
        share = _by_owner(data)
        figures = [self._figures(share(p.id), p.id, p.name, p.on_vacation, _everyone)
                   for p in people]
        total = None
        if scope != "own":
            total = self._figures(data, 0, team_name or "", False, _everyone)
        daily_counts = Counter(at.astimezone(tz).date() for _, _, at in data.contacts)
        daily = [(first_day + timedelta(days=i), daily_counts[first_day + timedelta(days=i)])
                 for i in range(PERIOD_DAYS)]
        stages = {st.id: st for st in await cls_repo.stages(s, active_only=False)}
        by_stage: dict[int, tuple[int, Decimal]] = {}
        for deal, _stage, _ in data.open_deals:
            n, amount = by_stage.get(deal.stage_id, (0, Decimal(0)))
            by_stage[deal.stage_id] = (n + 1, amount + deal.amount)
        pipeline = [
            StageLine(stage_info(st), *by_stage[sid])
            for sid, st in sorted(stages.items(), key=lambda kv: kv[1].sort_order)
            if sid in by_stage
        ]
        cfg = self.config.notify
        return Digest(
            scope=scope, team_name=team_name, start=first_day,
            end=first_day + timedelta(days=PERIOD_DAYS - 1), currency=self.config.currency,
            managers=figures, total=total, daily=daily, pipeline=pipeline,
            min_clients=cfg.clients_in_work_min, max_clients=cfg.clients_in_work_max,
        )

    async def _load(
        self, s: AsyncSession, ids: list[int], start: datetime, end: datetime,
        now: datetime, today: date, tz: ZoneInfo, first_day: date,
    ) -> _Data:
        contacts = await repo.contacts(s, ids, start, end)
        closed = await repo.deals_closed(s, ids, start, end)
        label_ids = {t for _, t, _ in contacts} | {d.loss_reason_id for d in closed
                                                   if d.loss_reason_id}
        labels = {i: label(item) for i, item in
                  (await cls_repo.items_by_ids(s, label_ids)).items()}
        return _Data(
            contacts=contacts,
            in_work=await repo.clients_in_work(s, ids),
            closed=closed,
            opened=await repo.deals_opened(s, ids, start, end),
            open_deals=await repo.open_deals(s, ids),
            overdue_planned=await repo.overdue_planned(s, ids, now),
            receivables=await repo.receivables(s, ids),
            durations=await repo.won_durations(s, ids, now - DURATION_WINDOW),
            labels=labels, today=today, now=now, tz=tz, first_day=first_day,
        )

    def _figures(
        self, d: _Data, user_id: int, name: str, on_vacation: bool,
        mine: Callable[[int | None], bool],
    ) -> Figures:
        by_type = Counter(t for owner, t, _ in d.contacts if mine(owner))
        contacts = [LabelCount(d.labels[t], n) for t, n in by_type.most_common()
                    if t in d.labels]
        won = [x for x in d.closed if mine(x.owner_id) and x.status == "won"]
        lost = [x for x in d.closed if mine(x.owner_id) and x.status == "lost"]
        reasons = Counter(x.loss_reason_id for x in lost if x.loss_reason_id)
        top = [LabelCount(d.labels[r], n) for r, n in
               sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
               if r in d.labels]
        months: dict[date | None, Decimal] = {}
        stalled = 0
        for deal, stage, _ in d.open_deals:
            if not mine(deal.owner_id):
                continue
            month = deal.expected_close.replace(day=1) if deal.expected_close else None
            months[month] = months.get(month, Decimal(0)) + weighted(deal, stage)
            stalled += is_stalled(deal, stage, d.now)
        forecast = [ForecastMonth(m, a) for m, a in
                    sorted(months.items(), key=lambda kv: (kv[0] is None, kv[0] or date.min))]
        owed = [(inv, amount) for inv, owner, _, _, amount in d.receivables if mine(owner)]
        overdue = [(inv, a) for inv, a in owed if inv.due_on < d.today]
        spans = [(closed - opened).total_seconds() / 86400
                 for owner, opened, closed in d.durations if mine(owner)]
        in_work = sum(n for owner, n in d.in_work.items() if mine(owner))
        visit_days = Counter(
            (at.astimezone(d.tz).date() - d.first_day).days for owner, t, at in d.contacts
            if mine(owner) and t in d.labels and d.labels[t].code == VISIT)
        cfg = self.config.notify
        alarm = None
        if user_id:
            alarm = ("few" if in_work < cfg.clients_in_work_min
                     else "many" if in_work > cfg.clients_in_work_max else None)
        return Figures(
            user_id=user_id, name=name, on_vacation=on_vacation,
            contacts=contacts, contacts_total=sum(by_type.values()),
            clients_in_work=in_work, alarm=alarm,
            won_count=len(won), won_amount=sum((x.amount for x in won), Decimal(0)),
            lost_count=len(lost), loss_reasons=top,
            new_deals=sum(n for owner, n in d.opened.items() if mine(owner)),
            forecast=forecast, forecast_total=sum(months.values(), Decimal(0)),
            stalled=stalled,
            overdue_planned=sum(n for owner, n in d.overdue_planned.items() if mine(owner)),
            receivables=sum((a for _, a in owed), Decimal(0)),
            overdue_receivables=sum((a for _, a in overdue), Decimal(0)),
            overdue_invoices=len(overdue),
            avg_deal_days=round(sum(spans) / len(spans), 1) if spans else None,
            visits_by_day=tuple(visit_days[i] for i in range(PERIOD_DAYS)),
        )

    # --- drill-down -------------------------------------------------------------------------

    async def person_name(self, actor: Actor, manager_id: int) -> str:
        async with self.db.transaction() as s:
            return (await self._may_see(s, actor, manager_id)).name

    async def stalled_deals(self, actor: Actor, manager_id: int) -> list[StalledDeal]:
        now = self.clock.now()
        async with self.db.transaction() as s:
            manager = await self._may_see(s, actor, manager_id)
            rows = await repo.open_deals(s, [manager.id])
            found = [
                StalledDeal(deal.id, deal.client_id, client_name, deal.title,
                            stage_info(stage), (now - idle_since(deal)).days)
                for deal, stage, client_name in rows if is_stalled(deal, stage, now)
            ]
            return sorted(found, key=lambda x: -x.idle_days)

    async def overdue_invoices(self, actor: Actor, manager_id: int) -> list[OverdueInvoice]:
        async with self.db.transaction() as s:
            manager = await self._may_see(s, actor, manager_id)
            today = self.clock.now().astimezone(ZoneInfo(actor.timezone)).date()
            return [
                OverdueInvoice(inv.id, client_id, client_name, inv.number, owed, inv.currency,
                               inv.due_on, (today - inv.due_on).days)
                for inv, _, client_id, client_name, owed in await repo.receivables(
                    s, [manager.id])
                if inv.due_on < today
            ]
