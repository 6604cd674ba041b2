"""The periodic jobs: the tick (enqueue what fell due, claim, deliver) and housekeeping.

These are the only APScheduler jobs; a reminder is never a job of its own. A tick runs until
nothing due is left, one batch at a time, enqueueing again between batches so that what
falls due meanwhile does not wait behind a long backlog's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.service import CRM
from scheduler.lockfile import FileLock, lock_path
from scheduler.mailing import MailingProgress
from scheduler.sender import DeliveryStats, Sender

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 0x5A1E5B07  # "salesbot": one scheduler per PostgreSQL database


class Leadership:
    """Exactly one scheduler leads: on PostgreSQL a session-level advisory lock, held on a
    connection of its own for as long as the scheduler lives; on SQLite an OS file lock
    next to the database file (scheduler.lockfile), so a second process on the same file
    waits — every tick retries — instead of sending everything a second time."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._conn: AsyncConnection | None = None
        self.acquired_now = False  # leadership was (re)gained by the last ensure()
        self._led = False
        path = lock_path(crm.db.url) if crm.db.dialect == "sqlite" else None
        self._file = FileLock(path) if path is not None else None
        self._told_waiting = False

    @property
    def needs_lock(self) -> bool:
        return self.crm.db.dialect == "postgresql"

    async def ensure(self) -> bool:
        self.acquired_now = False
        if not self.needs_lock:
            return self._ensure_file()
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
                return True
            except Exception:  # the session (and with it the lock) is gone
                log.warning("scheduler lost its database session; re-electing")
                await self._drop()
        conn = await self.crm.db.engine.connect()
        try:
            got = await conn.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            await conn.commit()
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            self.acquired_now = True
            log.info("this scheduler leads")
            return True
        await conn.close()
        return False

    def _ensure_file(self) -> bool:
        if self._file is not None and not self._file.held:
            if not self._file.acquire():
                if not self._told_waiting:
                    self._told_waiting = True
                    log.info("another process leads the scheduler on this database "
                             "(%s is locked); waiting to take over", self._file.path)
                return False
            self._led = False
        if not self._led:
            self._led = True
            self.acquired_now = True
            if self._told_waiting:
                log.info("this scheduler leads")
        return True

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to close
                await conn.close()

    async def release(self) -> None:
        if self._file is not None:
            self._file.release()
            self._led = False
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing the session releases it anyway
                await self._conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
        await self._drop()


@dataclass(slots=True)
class TickStats:
    enqueued: int = 0
    batches: int = 0
    delivery: DeliveryStats | None = None


class Jobs:
    def __init__(
        self, crm: CRM, sender: Sender, *, batch: int = 100, poll: float = 1.0
    ) -> None:
        self.crm = crm
        self.sender = sender
        self.batch = batch
        self.poll = poll
        self.leader = Leadership(crm)
        self.stopping = False
        self._lock = asyncio.Lock()
        self._current: asyncio.Task[object] | None = None
        # Broadcasts: scheduled ones started, progress messages edited (set by the runner).
        self.mailings: MailingProgress | None = None

    async def tick(self) -> TickStats | None:
        """The interval job. A tick already running makes this one a no-op."""
        if self._lock.locked() or self.stopping:
            return None
        async with self._lock:
            self._current = asyncio.current_task()
            try:
                return await self._tick()
            except Exception:
                log.exception("scheduler tick failed; the next one retries")
                return None
            finally:
                self._current = None

    async def _tick(self) -> TickStats | None:
        if not await self.leader.ensure():
            return None
        if self.leader.acquired_now:
            # Whoever had these rows in `sending` is dead (we hold the only lease on the
            # database): they go out again. See OutboxService.mark_sent for the one window.
            released = await self.crm.outbox.release_stuck(everything=True)
            if released:
                log.warning("re-queued %s notifications interrupted mid-delivery", released)
        try:
            # Leads nobody took in time: their heads are told, once per lead (the claim is
            # a conditional UPDATE, so a tick run twice alerts once).
            await self.crm.leads.alert_unattended()
        except Exception:
            log.exception("unattended-lead alerts failed; the next tick retries")
        stats = TickStats(delivery=DeliveryStats())
        assert stats.delivery is not None
        started = time.monotonic()
        await self._mailings(force=True)
        while not self.stopping:
            enq = await self.crm.notifications.enqueue_due()
            stats.enqueued += enq.reminders + enq.overdue + enq.digests
            items = await self.crm.outbox.claim(self.batch)
            if items:
                # Claim the next batch when this one runs low, so the limiter never idles
                # between batches; rows claimed but not yet sent stay few.
                stats.batches += 1
                self.sender.submit(items, stats.delivery)
                await self.sender.wait_below(max(1, self.batch // 2))
                await self._mailings()
                continue
            if self.sender.in_flight == 0:
                break
            # Nothing more is due, but a chat's long queue is still going out: look for
            # what falls due meanwhile every `poll` seconds rather than queue behind it.
            await self.sender.wait_idle(self.poll)
            await self._mailings()
        await self._mailings(force=True)
        if stats.batches:
            log.debug("tick: %s batches in %.2fs: %s", stats.batches,
                      time.monotonic() - started, stats.delivery)
        return stats

    async def _mailings(self, *, force: bool = False) -> None:
        if self.mailings is not None and not self.stopping:
            await self.mailings.step(force=force)

    async def housekeeping(self) -> None:
        """Rows stuck in `sending` past the lease, by a leader that lost them without dying
        (the start-up release covers the dead). Never while a tick runs here: a chat's
        long queue legitimately keeps its rows `sending` for longer than the lease."""
        if self._lock.locked() or self.stopping:
            return
        try:
            if await self.leader.ensure():
                released = await self.crm.outbox.release_stuck()
                if released:
                    log.warning("re-queued %s notifications past their lease", released)
        except Exception:
            log.exception("scheduler housekeeping failed")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; let the delivery in flight finish (up to `timeout`)."""
        self.stopping = True
        current = self._current
        if current is not None and not current.done():
            try:
                await asyncio.wait_for(asyncio.shield(current), timeout)
            except (TimeoutError, asyncio.CancelledError):
                current.cancel()
        # Whatever is still in flight stays `sending` and goes out after the next start.
        self.sender.cancel_all()
        await self.leader.release()
