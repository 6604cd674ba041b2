"""SQL for the outbox: insert-if-absent by idempotency key, claim, and delivery outcomes.

Status flow: pending → sending → sent | failed | cancelled; a failed attempt that may
succeed later goes back to pending with a later `due_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, SchedulerState

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"
_CHUNK = 200


def _dialect(s: AsyncSession) -> str:
    bind = s.bind
    return bind.dialect.name if bind is not None else "sqlite"


def _insert(dialect: str) -> Any:
    # Both dialects spell "skip a row whose unique key exists" the same way; behind one
    # function so nothing else knows there are two.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(OutboxMessage)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(OutboxMessage)


async def insert_if_absent(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; a row whose idempotency_key exists is skipped. Returns inserted.

    Each dict has idempotency_key, kind, user_id, chat_id, payload, due_at, created_at and
    optionally status / last_error (a row may be born cancelled to consume its key).
    """
    inserted = 0
    dialect = _dialect(s)
    for i in range(0, len(rows), _CHUNK):
        values = [
            {
                "status": PENDING,
                "attempts": 0,
                "last_error": None,
                **row,
            }
            for row in rows[i : i + _CHUNK]
        ]
        stmt = _insert(dialect).values(values).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        result = await s.execute(stmt)
        inserted += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return inserted


async def existing_keys(s: AsyncSession, keys: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = await s.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(chunk))
        )
        found.update(rows)
    return found


async def claim_due(s: AsyncSession, now: datetime, limit: int) -> list[OutboxMessage]:
    """Move up to `limit` due pending rows to `sending` and return them, oldest first.

    On PostgreSQL the inner SELECT skips rows another scheduler has locked, so two
    schedulers never claim the same row; SQLite ignores FOR UPDATE (it has one writer).
    """
    due = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == PENDING, OutboxMessage.due_at <= now)
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # Two statements, not UPDATE … WHERE id IN (SELECT … LIMIT … FOR UPDATE): PostgreSQL
    # may evaluate such a subquery more than once and update more than `limit` rows.
    ids = list((await s.scalars(due)).all())
    if not ids:
        return []
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
        .values(status=SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    rows = list((await s.scalars(stmt)).all())
    rows.sort(key=lambda r: (r.due_at, r.id))
    return rows


async def mark_sent(
    s: AsyncSession, row_id: int, now: datetime, tg_message_id: int | None,
    payload: dict[str, Any] | None = None,
) -> bool:
    values: dict[str, Any] = {
        "status": SENT, "sent_at": now, "tg_message_id": tg_message_id, "last_error": None,
    }
    if payload is not None:
        values["payload"] = payload
    result = await s.execute(
        update(OutboxMessage)
        # Also from pending: a row re-queued while its message was in flight did go out.
        .where(OutboxMessage.id == row_id, OutboxMessage.status.in_((SENDING, PENDING)))
        .values(**values)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def save_payload(s: AsyncSession, row_id: int, payload: dict[str, Any]) -> None:
    await s.execute(
        update(OutboxMessage).where(OutboxMessage.id == row_id).values(payload=payload)
    )


async def finish(s: AsyncSession, row_id: int, status: str, error: str | None) -> None:
    """failed or cancelled: the row is done with, with the reason kept."""
    await s.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status.in_((PENDING, SENDING)))
        .values(status=status, last_error=(error or "")[:500] or None)
    )


async def retry_later(s: AsyncSession, row_id: int, at: datetime, error: str | None) -> None:
    await s.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == SENDING)
        .values(status=PENDING, due_at=at, claimed_at=None, last_error=(error or "")[:500])
    )


async def release_stuck(s: AsyncSession, claimed_before: datetime | None) -> int:
    """Rows left in `sending` by a process that died: back to pending.

    With `claimed_before=None` every `sending` row is released — only safe when no other
    scheduler can be delivering (the leader at start-up).
    """
    stmt = update(OutboxMessage).where(OutboxMessage.status == SENDING)
    if claimed_before is not None:
        stmt = stmt.where(OutboxMessage.claimed_at < claimed_before)
    result = await s.execute(stmt.values(status=PENDING, claimed_at=None))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def cancel_pending_like(
    s: AsyncSession, key_prefix: str, keep_key: str, reason: str
) -> int:
    """Cancel pending rows whose key starts with `key_prefix`, except `keep_key`."""
    result = await s.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.idempotency_key.startswith(key_prefix, autoescape=True),
            OutboxMessage.idempotency_key != keep_key,
        )
        .values(status=CANCELLED, last_error=reason)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def pending_future(
    s: AsyncSession, kind: str, now: datetime, limit: int
) -> Sequence[OutboxMessage]:
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.kind == kind,
            OutboxMessage.status == PENDING,
            OutboxMessage.due_at > now,
        )
        .order_by(OutboxMessage.due_at)
        .limit(limit)
    )
    return (await s.scalars(stmt)).all()


async def pending_future_of_user(
    s: AsyncSession, kind: str, user_id: int, now: datetime
) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).where(
        OutboxMessage.kind == kind,
        OutboxMessage.user_id == user_id,
        OutboxMessage.status == PENDING,
        OutboxMessage.due_at > now,
    )
    return (await s.scalars(stmt.order_by(OutboxMessage.id))).all()


async def cancel(s: AsyncSession, ids: Sequence[int], reason: str) -> None:
    if ids:
        await s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(list(ids)), OutboxMessage.status == PENDING)
            .values(status=CANCELLED, last_error=reason)
        )


async def by_key(s: AsyncSession, key: str) -> OutboxMessage | None:
    return await s.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))


async def rows(
    s: AsyncSession, kind: str | None = None, status: str | None = None
) -> Sequence[OutboxMessage]:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind is not None:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    return (await s.scalars(stmt)).all()


async def counts(s: AsyncSession) -> dict[str, int]:
    result = await s.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    return {status: int(n) for status, n in result.all()}


async def depth(s: AsyncSession) -> dict[str, int]:
    """Rows not yet delivered (pending or being sent), by kind."""
    result = await s.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.status.in_((PENDING, SENDING)))
        .group_by(OutboxMessage.kind)
    )
    return {kind: int(n) for kind, n in result.all()}


async def scheduler_state(s: AsyncSession) -> SchedulerState | None:
    return await s.get(SchedulerState, "scheduler")


async def save_scheduler_state(s: AsyncSession, up_since: datetime, last_tick: datetime) -> None:
    row = await s.get(SchedulerState, "scheduler")
    if row is None:
        s.add(SchedulerState(name="scheduler", up_since=up_since, last_tick=last_tick))
    else:
        row.up_since, row.last_tick = up_since, last_tick
    await s.flush()
