"""The outbox as the scheduler's sender sees it: claim what is due, record how it went.

Each outcome is recorded in its own short transaction, right after Telegram answered, so a
crash loses at most the knowledge of the one message in flight (see `mark_sent`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm.clock import Clock
from storage.db import Database
from storage.models import OutboxMessage
from storage.repo import notify as notify_repo
from storage.repo import outbox as repo

# A row in `sending` longer than this belongs to a process that died mid-delivery.
LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    key: str
    kind: str
    user_id: int | None
    chat_id: int
    payload: dict[str, Any]
    due_at: datetime
    attempts: int

    @property
    def fire_at(self) -> datetime:
        """When it was first meant to go out (retries move `due_at`, not this)."""
        raw = self.payload.get("fire_at")
        return datetime.fromisoformat(raw) if isinstance(raw, str) else self.due_at


def _item(row: OutboxMessage) -> OutboxItem:
    return OutboxItem(row.id, row.idempotency_key, row.kind, row.user_id, row.chat_id,
                      dict(row.payload or {}), row.due_at, row.attempts)


class OutboxService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def claim(self, limit: int = 100) -> list[OutboxItem]:
        now = self.clock.now()
        async with self.db.transaction() as s:
            return [_item(r) for r in await repo.claim_due(s, now, limit)]

    async def mark_sent(
        self, item: OutboxItem, tg_message_id: int | None, payload: dict[str, Any] | None = None
    ) -> None:
        """Called the moment Telegram says OK, in a transaction of its own.

        The only way a message goes out twice is a crash in the gap between Telegram's OK
        and this commit (or a timeout after Telegram accepted the message): the row is
        still `sending`, and after the lease it is sent again. We prefer a rare duplicate
        to a lost reminder.
        """
        async with self.db.transaction() as s:
            await repo.mark_sent(s, item.id, self.clock.now(), tg_message_id, payload)

    async def save_progress(self, item: OutboxItem, payload: dict[str, Any]) -> None:
        """For a notification of several messages: what has gone out already."""
        async with self.db.transaction() as s:
            await repo.save_payload(s, item.id, payload)

    async def retry_later(self, item: OutboxItem, delay: timedelta, error: str) -> None:
        async with self.db.transaction() as s:
            await repo.retry_later(s, item.id, self.clock.now() + delay, error)

    async def fail(self, item: OutboxItem, error: str) -> None:
        async with self.db.transaction() as s:
            await repo.finish(s, item.id, repo.FAILED, error)

    async def cancel(self, item: OutboxItem, reason: str) -> None:
        async with self.db.transaction() as s:
            await repo.finish(s, item.id, repo.CANCELLED, reason)

    async def release_stuck(self, *, everything: bool = False) -> int:
        """Return rows orphaned in `sending` to the queue: those older than the lease, or
        all of them when the caller knows no one else is delivering (start-up, leader)."""
        cutoff = None if everything else self.clock.now() - LEASE
        async with self.db.transaction() as s:
            return await repo.release_stuck(s, cutoff)

    async def mark_unreachable(self, user_id: int) -> None:
        """Telegram said 403: the user blocked the bot. Nothing more is sent to them."""
        async with self.db.transaction() as s:
            await notify_repo.set_unreachable(s, user_id, True)

    async def counts(self) -> dict[str, int]:
        async with self.db.transaction() as s:
            return await repo.counts(s)

    async def depth(self) -> dict[str, int]:
        """What still waits to go out, by kind (for /metrics)."""
        async with self.db.transaction() as s:
            return await repo.depth(s)
