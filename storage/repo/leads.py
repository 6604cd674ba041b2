"""SQL of the leads queue: live clients without an owner, the per-team rule, territories."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Client, Deal, LeadRule, PlannedContact, UserTerritory
from storage.repo.client_admin import chunks


def _waiting(team_id: int | None, everything: bool) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [Client.owner_id.is_(None), Client.is_deleted.is_(False)]
    if not everything:
        conds.append(Client.lead_team_id.is_(None) if team_id is None
                     else Client.lead_team_id == team_id)
    return conds


async def count_waiting(s: AsyncSession, team_id: int | None, everything: bool) -> int:
    return int(await s.scalar(
        select(func.count()).select_from(Client).where(*_waiting(team_id, everything))
    ) or 0)


async def waiting(
    s: AsyncSession, team_id: int | None, everything: bool, limit: int, offset: int = 0
) -> Sequence[Client]:
    stmt = (select(Client).where(*_waiting(team_id, everything))
            .order_by(Client.created_at, Client.id).limit(limit).offset(offset))
    return (await s.scalars(stmt)).all()


async def waiting_ids(s: AsyncSession, team_id: int | None) -> list[int]:
    stmt = select(Client.id).where(*_waiting(team_id, False)).order_by(Client.id)
    return list(await s.scalars(stmt))


async def leads_by_ids(s: AsyncSession, ids: Sequence[int]) -> Sequence[Client]:
    """Those of `ids` still leads, locked (PostgreSQL) and re-read."""
    if not ids:
        return []
    await s.execute(select(Client.id).where(Client.id.in_(list(ids))).with_for_update())
    stmt = (select(Client).where(Client.id.in_(list(ids)), *_waiting(None, True))
            .order_by(Client.id).execution_options(populate_existing=True))
    return (await s.scalars(stmt)).all()


async def rule(s: AsyncSession, team_id: int, lock: bool = False) -> LeadRule | None:
    stmt = select(LeadRule).where(LeadRule.team_id == team_id)
    if lock:
        stmt = stmt.with_for_update()
    return await s.scalar(stmt.execution_options(populate_existing=True))


async def set_rule(s: AsyncSession, team_id: int, value: str, now: datetime) -> None:
    found = await rule(s, team_id)
    if found is None:
        s.add(LeadRule(team_id=team_id, rule=value, cursor_user_id=None, updated_at=now))
    else:
        found.rule = value
        found.updated_at = now
    await s.flush()


async def territories(s: AsyncSession, user_ids: Sequence[int]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {u: set() for u in user_ids}
    if user_ids:
        rows = await s.execute(select(UserTerritory.user_id, UserTerritory.item_id)
                               .where(UserTerritory.user_id.in_(list(user_ids))))
        for user_id, item_id in rows:
            out[user_id].add(item_id)
    return out


async def set_territory(s: AsyncSession, user_id: int, item_id: int, on: bool) -> None:
    """Idempotent: setting what is already so changes nothing."""
    await s.execute(delete(UserTerritory).where(UserTerritory.user_id == user_id,
                                                UserTerritory.item_id == item_id))
    if on:
        await s.execute(insert(UserTerritory).values(user_id=user_id, item_id=item_id))


async def unattended(s: AsyncSession, before: datetime) -> Sequence[Client]:
    stmt = (select(Client).where(*_waiting(None, True), Client.created_at <= before,
                                 Client.lead_alerted_at.is_(None))
            .order_by(Client.id).limit(500))
    return (await s.scalars(stmt)).all()


async def mark_alerted(s: AsyncSession, ids: Sequence[int], now: datetime) -> list[int]:
    """Claims the alert of these leads: only the ids not claimed before come back."""
    if not ids:
        return []
    result = await s.execute(
        update(Client)
        .where(Client.id.in_(list(ids)), Client.lead_alerted_at.is_(None),
               Client.owner_id.is_(None))
        .values(lead_alerted_at=now)
        .returning(Client.id)
        .execution_options(synchronize_session=False)
    )
    return [r[0] for r in result]


async def kinds_of(s: AsyncSession, ids: Sequence[int]) -> dict[int, tuple[int | None,
                                                                            int | None]]:
    """Clients' region and industry (what the by-region/industry rule looks at)."""
    out: dict[int, tuple[int | None, int | None]] = {}
    for part in chunks(ids):
        rows = await s.execute(select(Client.id, Client.region_id, Client.industry_id)
                               .where(Client.id.in_(part)))
        out.update({r[0]: (r[1], r[2]) for r in rows})
    return out


async def in_work_of(s: AsyncSession, ids: Sequence[int]) -> set[int]:
    """Those of these clients in work: with an open deal or a planned contact."""
    found: set[int] = set()
    for part in chunks(ids):
        found |= set(await s.scalars(select(Deal.client_id).where(
            Deal.client_id.in_(part), Deal.status == "open")))
        found |= set(await s.scalars(select(PlannedContact.client_id).where(
            PlannedContact.client_id.in_(part), PlannedContact.status == "planned")))
    return found
