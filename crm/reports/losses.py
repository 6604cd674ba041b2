"""Loss analytics (seed 7, 16): why deals are lost, at which stage, by whom.

Deals lost in the period (by the date they were closed); a share is the reason's part of
all the deals lost in the period, in percent with one decimal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from crm.classifiers import Label, StageInfo, label, stage_info
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.period import Period, previous
from crm.reports.scope import Audience, Member, audience
from storage.db import Database
from storage.repo import classifiers as cls_repo
from storage.repo import reports as repo

_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class ReasonShare:
    reason: Label | None  # None: closed without a reason (older data)
    count: int
    share: Decimal  # percent of the period's losses
    amount: Decimal
    previous_count: int


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: Label | None
    count: int


@dataclass(frozen=True, slots=True)
class StageLosses:
    stage: StageInfo
    count: int
    reasons: tuple[ReasonCount, ...]


@dataclass(frozen=True, slots=True)
class ManagerLosses:
    member: Member
    count: int
    previous_count: int
    reasons: tuple[ReasonCount, ...]


@dataclass(frozen=True, slots=True)
class LossReport:
    audience: Audience
    period: Period
    previous: Period
    currency: str
    count: int
    previous_count: int
    amount: Decimal
    reasons: tuple[ReasonShare, ...]  # most frequent first
    by_stage: tuple[StageLosses, ...]  # in the pipeline's order
    by_manager: tuple[ManagerLosses, ...]  # in the audience's order


def share(part: int, whole: int) -> Decimal:
    return (Decimal(part * 100) / whole).quantize(_TENTH, ROUND_HALF_UP) if whole else Decimal(0)


def _ranked(counts: dict[int | None, int], labels: dict[int, Label]) -> tuple[ReasonCount, ...]:
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or 0))
    return tuple(ReasonCount(labels.get(r) if r else None, n) for r, n in order if n)


class LossService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def losses(self, actor: Actor, period: Period,
                     team_id: int | None = None) -> LossReport:
        prev = previous(period)
        tz = actor.tz
        window = repo.Window(period.bounds(tz), prev.bounds(tz), (period.start, period.end),
                             (prev.start, prev.end))
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            rows = await repo.losses(s, who.ids, window)
            reason_ids = {r for _, r, _, _, _, _ in rows if r}
            labels = {i: label(item) for i, item in
                      (await cls_repo.items_by_ids(s, reason_ids)).items()}
            stages = list(await cls_repo.stages(s, active_only=False))
        by_reason: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
        amounts: dict[int | None, Decimal] = defaultdict(Decimal)
        by_stage: dict[int, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
        by_owner: dict[int, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
        owner_prev: dict[int, int] = defaultdict(int)
        for owner, reason, stage, b, n, amount in rows:
            by_reason[reason][b] += n
            if b == 0:
                amounts[reason] += amount
                by_stage[stage][reason] += n
                by_owner[owner][reason] += n
            else:
                owner_prev[owner] += n
        count = sum(v[0] for v in by_reason.values())
        reasons = tuple(
            ReasonShare(labels.get(r) if r else None, v[0], share(v[0], count), amounts[r], v[1])
            for r, v in sorted(by_reason.items(),
                               key=lambda kv: (-kv[1][0], -kv[1][1], kv[0] is None, kv[0] or 0))
        )
        return LossReport(
            audience=who, period=period, previous=prev, currency=self.config.currency,
            count=count, previous_count=sum(v[1] for v in by_reason.values()),
            amount=sum(amounts.values(), Decimal(0)), reasons=reasons,
            by_stage=tuple(
                StageLosses(stage_info(st), sum(by_stage[st.id].values()),
                            _ranked(by_stage[st.id], labels))
                for st in stages if by_stage.get(st.id)
            ),
            by_manager=tuple(
                ManagerLosses(m, sum(by_owner[m.id].values()), owner_prev[m.id],
                              _ranked(by_owner[m.id], labels))
                for m in who.members
            ),
        )
