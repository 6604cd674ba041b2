"""SQL for users, teams, invitations and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Reader
from storage.models import AuditLog, CacheVersion, Invite, Team, User


async def user_by_tg(session: AsyncSession, tg_id: int) -> User | None:
    return await session.scalar(select(User).where(User.tg_id == tg_id))


# Read on every update (who is acting): built once, plain columns, no ORM object; with it,
# the classifiers' version (crm/classifiers.py), at no extra statement.
_ACTOR_BY_TG = select(
    User.id, User.tg_id, User.name, User.role, User.team_id, User.timezone, User.locale,
    User.work_start_min, User.work_end_min, User.work_days,
    select(CacheVersion.version).where(CacheVersion.name == "classifiers").scalar_subquery(),
).where(User.tg_id == bindparam("tg_id"), User.is_active.is_(True))


async def active_user_row(r: Reader, tg_id: int) -> tuple[Any, ...] | None:
    """The active user's fields an Actor holds, in Actor's order, then the classifiers'
    version; None if there is no such user."""
    return await r.first(_ACTOR_BY_TG, tg_id=tg_id)


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def list_users(
    session: AsyncSession, *, team_id: int | None = None, active_only: bool = False
) -> Sequence[User]:
    stmt = select(User).order_by(User.is_active.desc(), User.role, User.name)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    if active_only:
        stmt = stmt.where(User.is_active.is_(True))
    return (await session.scalars(stmt)).all()


async def list_teams(session: AsyncSession) -> Sequence[Team]:
    return (await session.scalars(select(Team).order_by(Team.name))).all()


async def team_by_id(session: AsyncSession, team_id: int) -> Team | None:
    return await session.get(Team, team_id)


async def team_by_name(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name))


async def invite_by_hash(session: AsyncSession, token_hash: str) -> Invite | None:
    return await session.scalar(select(Invite).where(Invite.token_hash == token_hash))


async def claim_invite(
    session: AsyncSession, invite_id: int, user_id: int, now: datetime
) -> bool:
    """Mark an invite used; False when someone else used it first (single use under races)."""
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite_id, Invite.used_at.is_(None))
        .values(used_at=now, used_by_id=user_id)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def audit(
    session: AsyncSession,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    row = AuditLog(
        actor_id=actor_id, action=action, entity=entity, entity_id=entity_id, details=details
    )
    if at is not None:
        row.at = at
    session.add(row)


async def audit_entries(session: AsyncSession, limit: int = 50) -> Sequence[AuditLog]:
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    return (await session.scalars(stmt)).all()
