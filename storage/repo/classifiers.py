"""SQL for classifiers and pipeline stages."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClassifierItem, Stage


async def items(session: AsyncSession, kind: str) -> Sequence[ClassifierItem]:
    stmt = (
        select(ClassifierItem)
        .where(ClassifierItem.kind == kind, ClassifierItem.is_active.is_(True))
        .order_by(ClassifierItem.sort_order, ClassifierItem.id)
    )
    return (await session.scalars(stmt)).all()


async def item(session: AsyncSession, item_id: int) -> ClassifierItem | None:
    return await session.get(ClassifierItem, item_id)


async def item_by_code(session: AsyncSession, kind: str, code: str) -> ClassifierItem | None:
    stmt = select(ClassifierItem).where(ClassifierItem.kind == kind, ClassifierItem.code == code)
    return await session.scalar(stmt)


async def items_by_ids(session: AsyncSession, ids: set[int]) -> dict[int, ClassifierItem]:
    if not ids:
        return {}
    rows = await session.scalars(select(ClassifierItem).where(ClassifierItem.id.in_(ids)))
    return {r.id: r for r in rows}


async def stages(session: AsyncSession, active_only: bool = True) -> Sequence[Stage]:
    stmt = select(Stage).order_by(Stage.sort_order, Stage.id)
    if active_only:
        stmt = stmt.where(Stage.is_active.is_(True))
    return (await session.scalars(stmt)).all()


async def stage(session: AsyncSession, stage_id: int) -> Stage | None:
    return await session.get(Stage, stage_id)
