"""Funnel and stages (seed 9, 14): where the open deals are now, how far the deals opened in
a period got, how long deals stay in each stage, and which deals are stalled.

Definitions (tests/test_report_funnel.py checks each against a hand-built data set):

* open now — open deals and their amount per stage, as of now (not of the period);
* reached — of the deals opened in the period, those that were ever in the stage or in a
  later one (by the stages named in their history, and where they are now); a won deal has
  reached every stage; conversion — reached ÷ reached at the stage before, in percent;
* time in stage — the average stay, in days, over the stays that ended in the period (the
  deal moved to another stage, or was won or lost); a stay starts when the deal entered
  the stage (created, moved, reopened), or when it was opened for a history without it;
* stalled — open deals that have been in their current stage longer than the stage's
  `stall_days` (the digest's "stalled" also looks at the last activity; this is the time
  in the stage alone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from crm.classifiers import StageInfo, stage_info
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.period import Period, previous
from crm.reports.scope import Audience, audience
from storage.db import Database
from storage.repo import classifiers as cls_repo
from storage.repo import reports as repo

_TENTH = Decimal("0.1")
# Stalled deals listed (the count covers them all).
STALLED_ROWS = 500


@dataclass(frozen=True, slots=True)
class StageLine:
    stage: StageInfo
    open_count: int  # now
    open_amount: Decimal
    reached: int  # deals opened in the period that got to this stage or beyond
    previous_reached: int
    conversion: Decimal | None  # percent of the stage before; None for the first stage
    avg_days: Decimal | None  # average stay that ended in the period; None: no such stay
    previous_avg_days: Decimal | None
    stays: int  # the stays averaged
    stalled: int  # open deals stalled in this stage now


@dataclass(frozen=True, slots=True)
class StalledDeal:
    deal_id: int
    title: str
    client_name: str
    manager: str
    stage: StageInfo
    amount: Decimal
    days_in_stage: int
    over_by: int  # days beyond the stage's threshold


@dataclass(frozen=True, slots=True)
class FunnelReport:
    audience: Audience
    period: Period
    previous: Period
    as_of: date
    currency: str
    stages: tuple[StageLine, ...]  # the pipeline's order
    opened: int  # deals opened in the period
    previous_opened: int
    won: int  # … of them won by now
    previous_won: int
    won_conversion: Decimal | None  # won ÷ reached the last stage, percent
    open_count: int
    open_amount: Decimal
    stalled_count: int
    stalled: tuple[StalledDeal, ...]  # furthest beyond the threshold first (at most 500)


def percent_of(part: int, whole: int) -> Decimal | None:
    return (Decimal(part * 100) / whole).quantize(_TENTH, ROUND_HALF_UP) if whole else None


def _avg(n: int, total_ms: int) -> Decimal | None:
    if not n:
        return None
    return (Decimal(total_ms) / n / 86_400_000).quantize(_TENTH, ROUND_HALF_UP)


class FunnelService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def funnel(self, actor: Actor, period: Period,
                     team_id: int | None = None) -> FunnelReport:
        now = self.clock.now()
        prev = previous(period)
        tz = actor.tz
        window = repo.Window(period.bounds(tz), prev.bounds(tz), (period.start, period.end),
                             (prev.start, prev.end))
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            ids = who.ids
            all_stages = list(await cls_repo.stages(s, active_only=False))
            open_now = await repo.open_by_stage(s, ids)
            furthest_rows = await repo.furthest_stages(s, ids, window)
            stay_rows = await repo.stage_stays(s, ids, window)
            cutoffs = {st.id: now - timedelta(days=st.stall_days)
                       for st in all_stages if st.stall_days > 0}
            stalled_counts, stalled_rows = await repo.stalled(s, ids, cutoffs, STALLED_ROWS)
        by_id = {st.id: st for st in all_stages}

        # How far the deals opened in either period got: the latest stage each was ever in.
        furthest: list[dict[int, int]] = [defaultdict(int), defaultdict(int)]  # order → n
        won = [0, 0]
        count = [0, 0]
        for b, status, top, n in furthest_rows:
            count[b] += n
            if status == "won":
                won[b] += n
            else:
                furthest[b][top] += n

        def reached(stage_order: int, b: int) -> int:
            return won[b] + sum(n for o, n in furthest[b].items() if o >= stage_order)

        # Stays that ended in either period: (code, bucket) → (stays, total ms).
        spent = {(code, b): (n, ms) for code, b, n, ms in stay_rows}

        shown = [st for st in all_stages if st.is_active or st.id in open_now]
        lines: list[StageLine] = []
        before: int | None = None
        for st in shown:
            n = reached(st.sort_order, 0)
            cnt, amount = open_now.get(st.id, (0, Decimal(0)))
            lines.append(StageLine(
                stage=stage_info(st), open_count=cnt, open_amount=amount, reached=n,
                previous_reached=reached(st.sort_order, 1),
                conversion=percent_of(n, before) if before is not None else None,
                avg_days=_avg(*spent.get((st.code, 0), (0, 0))),
                previous_avg_days=_avg(*spent.get((st.code, 1), (0, 0))),
                stays=spent.get((st.code, 0), (0, 0))[0], stalled=stalled_counts.get(st.id, 0),
            ))
            before = n
        names = {m.id: m.name for m in who.members}
        stalled = []
        for row in stalled_rows:
            st = by_id[row.stage_id]
            days = (now - row.stage_changed_at).days
            stalled.append(StalledDeal(row.deal_id, row.title, row.client_name,
                                       names.get(row.owner_id, ""), stage_info(st),
                                       row.amount, days, days - st.stall_days))
        stalled.sort(key=lambda x: (-x.over_by, -x.days_in_stage, x.deal_id))
        return FunnelReport(
            audience=who, period=period, previous=prev, as_of=now.astimezone(tz).date(),
            currency=self.config.currency, stages=tuple(lines), opened=count[0],
            previous_opened=count[1], won=won[0], previous_won=won[1],
            won_conversion=percent_of(won[0], before) if before is not None else None,
            open_count=sum(c for c, _ in open_now.values()),
            open_amount=sum((a for _, a in open_now.values()), Decimal(0)),
            stalled_count=sum(stalled_counts.values()), stalled=tuple(stalled),
        )
