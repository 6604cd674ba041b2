"""Who a report is about, as decided in crm/access.py, turned into the people it lists."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import report_scope
from crm.dto import Actor
from crm.errors import NotAvailable
from storage.repo import analytics as analytics_repo
from storage.repo import people as people_repo


class ScopeKind(StrEnum):
    OWN = "own"
    TEAM = "team"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Audience:
    kind: ScopeKind
    team_name: str | None
    members: tuple[Member, ...]

    @property
    def ids(self) -> list[int]:
        # IN () is a syntax error on some backends: an id no row has.
        return [m.id for m in self.members] or [0]


async def audience(s: AsyncSession, actor: Actor, team_id: int | None = None) -> Audience:
    scope = report_scope(actor, team_id)
    if scope.user_id is not None:
        people = await analytics_repo.managers(s, user_id=scope.user_id)
        return Audience(ScopeKind.OWN, None, tuple(Member(p.id, p.name) for p in people))
    team_name = None
    if scope.team_id is not None:
        team = await people_repo.team_by_id(s, scope.team_id)
        if team is None:
            raise NotAvailable()
        team_name = team.name
    people = await analytics_repo.managers(s, team_id=scope.team_id)
    kind = ScopeKind.ALL if scope.everything else ScopeKind.TEAM
    return Audience(kind, team_name, tuple(Member(p.id, p.name) for p in people))
