"""How managers spend their time (seed 18): the typed history records each manager logged
(calls, meetings, visits … by type) per day of the period, or per week for a period longer
than a month, with the totals and the previous period's total alongside.

Days are the viewer's local days (each bound is a local midnight converted to UTC on its
own, so a day across a DST change has its 23 or 25 hours); a week runs Monday to Sunday,
cut to the period at both ends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from crm.classifiers import Label, label
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.period import Period, previous, utc_midnight
from crm.reports.scope import Audience, Member, audience
from storage.db import Database
from storage.repo import classifiers as cls_repo
from storage.repo import reports as repo

# A period of more days than this is counted by week.
DAILY_MAX_DAYS = 31


@dataclass(frozen=True, slots=True)
class Slot:
    start: date
    end: date  # included; equal to start for a day


@dataclass(frozen=True, slots=True)
class SlotCounts:
    slot: Slot
    counts: tuple[int, ...]  # per type, in the report's `types` order

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class ManagerTime:
    member: Member
    slots: tuple[SlotCounts, ...]  # every slot of the period, empty ones too
    totals: tuple[int, ...]  # per type
    previous_total: int

    @property
    def total(self) -> int:
        return sum(self.totals)


@dataclass(frozen=True, slots=True)
class TimeUseReport:
    audience: Audience
    period: Period
    previous: Period
    by_week: bool
    slots: tuple[Slot, ...]
    types: tuple[Label, ...]  # the types logged in either period, in the classifier's order
    managers: tuple[ManagerTime, ...]  # the audience's order
    totals: tuple[int, ...]  # per type, everyone
    previous_totals: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.totals)

    @property
    def previous_total(self) -> int:
        return sum(self.previous_totals)


def slots_of(period: Period) -> tuple[bool, tuple[Slot, ...]]:
    """(by week, the slots): each day, or each Monday-to-Sunday week cut to the period."""
    if period.days <= DAILY_MAX_DAYS:
        return False, tuple(Slot(period.start + timedelta(days=i), period.start +
                                 timedelta(days=i)) for i in range(period.days))
    found = []
    day = period.start
    while day <= period.end:
        end = min(day + timedelta(days=6 - day.weekday()), period.end)
        found.append(Slot(day, end))
        day = end + timedelta(days=1)
    return True, tuple(found)


def utc_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """(until, UTC offset in seconds) of each stretch of [start, end) with one offset, in
    order; the last until is `end`. A zone changes its offset (DST, a new law) at a quarter
    hour: found day by day, then to the quarter hour."""

    def offset(at: datetime) -> int:
        delta = at.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    found: list[tuple[datetime, int]] = []
    at, current = start, offset(start)
    while at < end:
        nxt = min(at + timedelta(days=1), end)
        if offset(nxt) == current:
            at = nxt
            continue
        step = at
        while offset(step) == current:
            step += timedelta(minutes=15)
        found.append((step, current))
        at, current = step, offset(step)
    found.append((end, current))
    return found


class TimeUseService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def time_use(self, actor: Actor, period: Period,
                       team_id: int | None = None) -> TimeUseReport:
        prev = previous(period)
        tz = actor.tz
        by_week, slots = slots_of(period)
        # Each slot from its first day's local midnight to the next one's.
        edges = [utc_midnight(x.start, tz) for x in slots]
        edges.append(utc_midnight(period.end + timedelta(days=1), tz))
        window = repo.Window(period.bounds(tz), prev.bounds(tz), (period.start, period.end),
                             (prev.start, prev.end))
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            rows = await repo.contacts_by_slots(s, who.ids, edges)
            before = [r for r in await repo.contacts_by_type(s, who.ids, window) if r[2] == 1]
            type_ids = {r[1] for r in rows} | {r[1] for r in before}
            items = await cls_repo.items_by_ids(s, type_ids)
        kinds = sorted(items.values(), key=lambda i: (i.sort_order, i.id))
        types = tuple(label(i) for i in kinds)
        col = {t.id: i for i, t in enumerate(types)}
        grid: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0] * len(types))
        for owner, type_id, slot, n in rows:
            if slot >= 0 and type_id in col:
                grid[(owner, slot)][col[type_id]] += n
        prev_by_owner: dict[int, list[int]] = defaultdict(lambda: [0] * len(types))
        for owner, type_id, _b, n in before:
            if type_id in col:
                prev_by_owner[owner][col[type_id]] += n
        managers = []
        for m in who.members:
            cells = tuple(SlotCounts(x, tuple(grid[(m.id, i)])) for i, x in enumerate(slots))
            totals = tuple(sum(c.counts[j] for c in cells) for j in range(len(types)))
            managers.append(ManagerTime(m, cells, totals, sum(prev_by_owner[m.id])))
        return TimeUseReport(
            audience=who, period=period, previous=prev, by_week=by_week, slots=slots,
            types=types, managers=tuple(managers),
            totals=tuple(sum(m.totals[j] for m in managers) for j in range(len(types))),
            previous_totals=tuple(sum(prev_by_owner[m.id][j] for m in who.members)
                                  for j in range(len(types))),
        )
