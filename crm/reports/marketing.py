"""Marketing (seed 15): which source, segment, region, industry and campaign brings the
clients, the deals and the revenue, for a period with the previous one alongside.

Definitions (tests/test_report_marketing.py checks each against a hand-built data set); a
figure counts towards the client's source / segment / region / industry / campaign as set on
the card now:

* new clients — clients created in the period (deleted ones left out);
* deals opened — deals opened in the period; won / lost — deals closed in the period;
* revenue — the amount of the deals won; conversion — won ÷ (won + lost), in percent, as in
  the results per manager; average cycle — days from opening to winning of the deals won;
* touches — history records of the type «campaign touch» in the period on the clients of
  the value. A touch counts towards the source, segment, region and industry of the client
  it was logged on; towards a campaign, it counts for its own campaign when it has one (a
  broadcast's delivery carries the mailing's campaign; a touch logged by hand, the
  client's campaign of the moment — `activities.campaign_id`, migration 0020), else for the
  client's. So a «Black Friday» mailing to clients whose card says «Exhibition» counts its
  touches towards Black Friday, while the clients themselves, their deals and revenue stay
  with Exhibition.

Whose: a marketer and an admin see every client and deal (unassigned ones too), a head the
clients and deals owned by their team.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from crm.classifiers import Label, label
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.period import Period, previous
from crm.reports.scope import Audience, ScopeKind, audience
from storage.db import Database
from storage.repo import classifiers as cls_repo
from storage.repo import reports as repo

_TENTH = Decimal("0.1")
TOUCH = "campaign_touch"  # the activity type of a campaign touch


class Dimension(StrEnum):
    """What the clients are grouped by; the value is the classifier kind (and the order of
    repo.MARKETING_DIMENSIONS)."""

    SOURCE = "source"
    SEGMENT = "segment"
    REGION = "region"
    INDUSTRY = "industry"
    CAMPAIGN = "campaign"


DIMENSIONS = tuple(Dimension)


@dataclass(frozen=True, slots=True)
class Channel:
    """The figures of one value (or of everything) for one period."""

    new_clients: int = 0
    deals_opened: int = 0
    won_count: int = 0
    revenue: Decimal = Decimal(0)
    lost_count: int = 0
    touches: int = 0
    conversion: Decimal | None = None  # percent, one decimal; None: nothing closed
    avg_days: Decimal | None = None  # None: nothing won

    @property
    def empty(self) -> bool:
        return not (self.new_clients or self.deals_opened or self.won_count or self.lost_count
                    or self.touches)


@dataclass(frozen=True, slots=True)
class ChannelLine:
    item: Label | None  # None: not set on the card
    current: Channel
    previous: Channel


@dataclass(frozen=True, slots=True)
class MarketingReport:
    audience: Audience
    period: Period
    previous: Period
    currency: str
    total: ChannelLine  # item None
    # Per dimension: the values with anything in either period, most revenue first.
    by: dict[Dimension, tuple[ChannelLine, ...]]


class _Acc:
    __slots__ = ("days", "lost", "new", "opened", "revenue", "touches", "won")

    def __init__(self) -> None:
        self.new = self.opened = self.won = self.lost = self.touches = 0
        self.revenue = Decimal(0)
        self.days = Decimal(0)

    def channel(self) -> Channel:
        closed = self.won + self.lost
        return Channel(
            new_clients=self.new, deals_opened=self.opened, won_count=self.won,
            revenue=self.revenue, lost_count=self.lost, touches=self.touches,
            conversion=(Decimal(self.won * 100) / closed).quantize(_TENTH, ROUND_HALF_UP)
            if closed else None,
            avg_days=(self.days / self.won).quantize(_TENTH, ROUND_HALF_UP)
            if self.won else None,
        )


Key = tuple[Dimension | None, int | None, int]  # (dimension or None: total, value, bucket)
S, G, R, IND, C = DIMENSIONS


def _spread(rows: Iterable[tuple[tuple[int | None, ...], int, int]]) -> dict[Key, int]:
    """Counts grouped by all five classifiers at once → per value of each one, and the
    total (a plain loop: at a year of 100k clients these are tens of thousands of rows)."""
    out: dict[Key, int] = defaultdict(int)
    for (s, g, r, i, c), b, n in rows:
        out[(None, None, b)] += n
        out[(S, s, b)] += n
        out[(G, g, b)] += n
        out[(R, r, b)] += n
        out[(IND, i, b)] += n
        out[(C, c, b)] += n
    return out


class MarketingService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def marketing(self, actor: Actor, period: Period,
                        team_id: int | None = None) -> MarketingReport:
        prev = previous(period)
        tz = actor.tz
        window = repo.Window(period.bounds(tz), prev.bounds(tz), (period.start, period.end),
                             (prev.start, prev.end))
        accs: dict[Key, _Acc] = defaultdict(_Acc)

        def each(dims: tuple[int | None, ...], b: int) -> Iterable[_Acc]:
            yield accs[(None, None, b)]
            for d, value in zip(DIMENSIONS, dims, strict=True):
                yield accs[(d, value, b)]

        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            # Everyone's figures include clients and deals nobody owns (yet).
            owners = None if who.kind is ScopeKind.ALL else who.ids
            touch = await cls_repo.item_by_code(s, "activity_type", TOUCH)
            if owners is None:
                # Everyone's: the whole UTC days from the counts kept per classifier value
                # and day, the hours at the periods' ends from the clients and the history.
                whole, spans = repo.whole_days(window)
                for kind, value, b, n_new, n_touches in await repo.marketing_daily(s, whole):
                    d = Dimension(kind)
                    accs[(d, value, b)].new += n_new
                    accs[(d, value, b)].touches += n_touches
                    if d is S:  # each client has one source (or none): the total
                        accs[(None, None, b)].new += n_new
                        accs[(None, None, b)].touches += n_touches
            else:
                spans = repo.window_spans(window)
            for key, n in _spread(await repo.marketing_new_clients(s, owners, spans)).items():
                accs[key].new += n
            deals = await repo.marketing_deal_counts(s, owners, window)
            for key, n in _spread((d, b, n) for d, b, n, _ in deals).items():
                accs[key].opened += n
            for key, n in _spread((d, b, n) for d, b, _, n in deals).items():
                accs[key].lost += n
            for dims, b, amount, opened_at, closed_at in await repo.marketing_won(
                    s, owners, window):
                days = Decimal((closed_at - opened_at).total_seconds()) / 86400
                for acc in each(dims, b):
                    acc.won += 1
                    acc.revenue += amount
                    acc.days += days
            if touch is not None:
                touches = await repo.marketing_touches(s, owners, spans, touch.id)
                for key, n in _spread(touches).items():
                    accs[key].touches += n
            ids = {v for (d, v, _b) in accs if d is not None and v is not None}
            labels = {i: label(item) for i, item in
                      (await cls_repo.items_by_ids(s, ids)).items()}

        def line(d: Dimension | None, value: int | None) -> ChannelLine:
            return ChannelLine(labels.get(value) if value is not None else None,
                               accs[(d, value, 0)].channel(), accs[(d, value, 1)].channel())

        by: dict[Dimension, tuple[ChannelLine, ...]] = {}
        for d in DIMENSIONS:
            values = {v for (dd, v, _b) in list(accs) if dd is d}
            lines = [line(d, v) for v in values]
            lines = [x for x in lines if not (x.current.empty and x.previous.empty)]
            lines.sort(key=lambda x: (-x.current.revenue, -x.current.won_count,
                                      -x.current.deals_opened, -x.current.new_clients,
                                      x.item is None,
                                      x.item.text("en") if x.item is not None else ""))
            by[d] = tuple(lines)
        return MarketingReport(who, period, prev, self.config.currency, line(None, None), by)
