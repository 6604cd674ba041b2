"""Coverage of the base (seed 14): how much of each manager's client base is really worked —
contacted in the last 30 and 90 days, with no next contact planned, never contacted at all.
A snapshot as of now; a contact is a typed history record by anyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.scope import Audience, audience
from storage.db import Database
from storage.repo import reports as repo

RECENT_DAYS = (30, 90)


@dataclass(frozen=True, slots=True)
class Coverage:
    id: int  # the manager; 0 for the total
    name: str
    clients: int
    contacted_30: int
    contacted_90: int
    no_next_contact: int
    never_contacted: int


@dataclass(frozen=True, slots=True)
class CoverageReport:
    audience: Audience
    as_of: date
    total: Coverage
    managers: tuple[Coverage, ...]


class CoverageService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    async def coverage(self, actor: Actor, team_id: int | None = None) -> CoverageReport:
        now = self.clock.now()
        async with self.db.transaction() as s:
            who = await audience(s, actor, team_id)
            rows = await repo.coverage(s, who.ids, now - timedelta(days=RECENT_DAYS[0]),
                                       now - timedelta(days=RECENT_DAYS[1]))
        managers = tuple(Coverage(m.id, m.name, *rows.get(m.id, (0, 0, 0, 0, 0)))
                         for m in who.members)
        sums = [sum(getattr(c, f) for c in managers) for f in
                ("clients", "contacted_30", "contacted_90", "no_next_contact",
                 "never_contacted")]
        return CoverageReport(who, now.astimezone(actor.tz).date(),
                              Coverage(0, who.team_name or "", *sums), managers)
