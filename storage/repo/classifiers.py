"""SQL for classifiers and pipeline stages."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ClassifierItem, Deal, OutcomeLink, Stage


async def items(
    session: AsyncSession, kind: str, active_only: bool = True
) -> Sequence[ClassifierItem]:
    """The values of a classifier in their order; hidden ones too with `active_only=False`."""
    stmt = (
        select(ClassifierItem)
        .where(ClassifierItem.kind == kind)
        .order_by(ClassifierItem.sort_order, ClassifierItem.id)
    )
    if active_only:
        stmt = stmt.where(ClassifierItem.is_active.is_(True))
    return (await session.scalars(stmt)).all()


async def all_items(session: AsyncSession) -> Sequence[ClassifierItem]:
    """Every value of every classifier, hidden ones too."""
    return (await session.scalars(select(ClassifierItem))).all()


async def lock_kind(session: AsyncSession, kind: str) -> None:
    """Serialise the writers of one classifier until the transaction ends, so a name checked
    free is still free at the insert. SQLite's BEGIN IMMEDIATE already has one writer; on
    PostgreSQL two transactions could both see the name free and make two codes."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                              {"key": f"classifier:{kind}"})


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


async def stage(session: AsyncSession, stage_id: int, *, lock: bool = False,
                shared: bool = False) -> Stage | None:
    """The stage; `lock` holds it against change until commit (hiding it), `shared` against
    being hidden meanwhile (a deal moving to it). PostgreSQL only: SQLite has one writer."""
    if not lock and not shared:
        return await session.get(Stage, stage_id)
    stmt = select(Stage).where(Stage.id == stage_id).with_for_update(read=shared and not lock)
    return await session.scalar(stmt)


async def item_counts(session: AsyncSession) -> dict[str, tuple[int, int]]:
    """kind → (values shown in pickers, hidden values)."""
    stmt = select(ClassifierItem.kind, ClassifierItem.is_active, func.count()).group_by(
        ClassifierItem.kind, ClassifierItem.is_active
    )
    counts: dict[str, tuple[int, int]] = {}
    for kind, active, n in (await session.execute(stmt)).all():
        shown, hidden = counts.get(kind, (0, 0))
        counts[kind] = (shown + n, hidden) if active else (shown, hidden + n)
    return counts


async def codes(session: AsyncSession, kind: str) -> set[str]:
    stmt = select(ClassifierItem.code).where(ClassifierItem.kind == kind)
    return set((await session.scalars(stmt)).all())


async def stage_codes(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(Stage.code))).all())


async def open_deals_by_stage(session: AsyncSession) -> dict[int, int]:
    stmt = (
        select(Deal.stage_id, func.count())
        .where(Deal.status == "open")
        .group_by(Deal.stage_id)
    )
    return {stage_id: n for stage_id, n in (await session.execute(stmt)).all()}


async def open_deals_at(session: AsyncSession, stage_id: int) -> Sequence[Deal]:
    """The open deals at a stage, locked until commit (PostgreSQL; SQLite has one writer):
    a deal moved to it meanwhile is not left behind on a hidden stage."""
    stmt = (
        select(Deal)
        .where(Deal.stage_id == stage_id, Deal.status == "open")
        .order_by(Deal.id)
        .with_for_update()
    )
    return (await session.scalars(stmt)).all()


async def outcome_links(session: AsyncSession) -> list[tuple[int, int]]:
    """(kind of contact, outcome) pairs: the outcome is offered after that kind."""
    rows = await session.execute(select(OutcomeLink.type_id, OutcomeLink.outcome_id))
    return [(r[0], r[1]) for r in rows]


async def outcomes_linked(session: AsyncSession, type_id: int) -> list[int]:
    """The outcomes offered after one kind of contact."""
    return list((await session.scalars(
        select(OutcomeLink.outcome_id).where(OutcomeLink.type_id == type_id))).all())


async def link_outcome(session: AsyncSession, type_id: int, outcome_id: int) -> None:
    await session.execute(insert(OutcomeLink).values(type_id=type_id, outcome_id=outcome_id))


async def unlink_outcome(session: AsyncSession, type_id: int, outcome_id: int) -> None:
    await session.execute(delete(OutcomeLink).where(
        OutcomeLink.type_id == type_id, OutcomeLink.outcome_id == outcome_id))


async def link_all(session: AsyncSession, *, type_id: int | None = None,
                   outcome_id: int | None = None) -> None:
    """Link a new kind of contact to every outcome, or a new outcome to every kind."""
    if type_id is not None:
        pairs = select(literal(type_id), ClassifierItem.id).where(
            ClassifierItem.kind == "outcome")
        await session.execute(insert(OutcomeLink).from_select(["type_id", "outcome_id"], pairs))
    elif outcome_id is not None:
        kinds = select(ClassifierItem.id, literal(outcome_id)).where(
            ClassifierItem.kind == "activity_type")
        await session.execute(insert(OutcomeLink).from_select(["type_id", "outcome_id"], kinds))
