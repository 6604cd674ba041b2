"""Delivers claimed outbox rows through the shared limiter; never loses one.

Each row is rendered when it is sent, from what is true then (a reminder for a contact
that was done or moved meanwhile is cancelled instead). Outcomes:

* OK — marked sent in its own transaction at once (see OutboxService.mark_sent);
* 429 — every sender pauses for `retry_after`, then the same row is tried again;
* 403 — the user blocked the bot: marked unreachable, the row failed;
* 5xx, timeouts, network errors, our own bugs — back to the queue with a backoff;
* 400 — Telegram will never take it: failed, with the reason kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot import metrics
from bot.charts import digest_chart, has_chart
from bot.keyboards.channel import client_message_kb
from bot.keyboards.client_admin import moved_clients_kb
from bot.keyboards.deals import open_deal_kb
from bot.keyboards.leads import leads_button
from bot.keyboards.reminders import digest_kb, overdue_kb, reminder_kb
from bot.notices import (
    client_message_text,
    deal_closed_text,
    digest_parts,
    invite_used_text,
    leads_waiting_text,
    overdue_text,
    reassigned_text,
    reminder_text,
)
from crm.channel import CLIENT_MESSAGE
from crm.leads import LEADS_WAITING
from crm.mailings import EMAIL, MAILING, OUTBOX_KIND
from crm.notifications import (
    DEAL_CLOSED,
    DIGEST,
    INVITE_USED,
    OVERDUE,
    REASSIGNED,
    REMINDER,
    is_late,
)
from crm.outbox import OutboxItem
from crm.reminders import Recipient, Skip
from crm.service import CRM
from scheduler.limiter import RateLimiter
from scheduler.mailing import Deliverer, EmailMailing, TelegramMailing

log = logging.getLogger(__name__)
MAILING_EMAIL = OUTBOX_KIND[EMAIL]


@dataclass(frozen=True, slots=True)
class SenderConfig:
    concurrency: int = 32
    request_timeout: int = 30
    max_attempts: int = 12
    max_retry_after_in_row: int = 5
    backoff_base: float = 15.0
    backoff_cap: float = 1800.0


@dataclass(slots=True)
class Outgoing:
    text: str | None = None
    markup: InlineKeyboardMarkup | None = None
    photo: bytes | None = None
    caption: str | None = None
    # (photo | document | voice, Telegram file id): an attachment sent again by its id.
    media: tuple[str, str] | None = None


@dataclass(slots=True)
class Prepared:
    messages: list[Outgoing]
    payload: dict[str, Any]


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0
    cancelled: int = 0
    failed: int = 0
    retried: int = 0
    late: int = 0
    errors: list[str] = field(default_factory=list)


class _RetryLater(Exception):
    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class Sender:
    def __init__(
        self, crm: CRM, bot: Bot, i18n: I18n, limiter: RateLimiter,
        config: SenderConfig | None = None,
    ) -> None:
        self.crm = crm
        self.bot = bot
        self.i18n = i18n
        self.limiter = limiter
        self.config = config or SenderConfig()
        self._gate = asyncio.Semaphore(self.config.concurrency)
        self._tails: dict[int, asyncio.Task[None]] = {}
        self._in_flight = 0
        self._changed = asyncio.Event()
        self._renderers: dict[str, Callable[[OutboxItem, bool], Awaitable[Prepared | Skip]]] = {
            REMINDER: self._reminder, OVERDUE: self._overdue, DIGEST: self._digest,
            INVITE_USED: self._invite_used,
            DEAL_CLOSED: self._deal_closed,
            REASSIGNED: self._reassigned,
            CLIENT_MESSAGE: self._client_message,
            LEADS_WAITING: self._leads_waiting,
        }
        # Outbox kinds delivered by a channel of their own, which records its outcomes
        # itself: a mailing's Telegram messages and its e-mails.
        self.deliverers: dict[str, Deliverer] = {
            MAILING: TelegramMailing(self), MAILING_EMAIL: EmailMailing(self)}

    async def deliver(self, items: list[OutboxItem]) -> DeliveryStats:
        """Send the rows and wait until every one has an outcome."""
        stats = DeliveryStats()
        self.submit(items, stats)
        await self.wait_below(1)
        return stats

    def submit(self, items: list[OutboxItem], stats: DeliveryStats) -> None:
        """Start sending; returns at once. One chat's rows go in order — also across
        batches, as each chat's run waits for the chat's previous run — and chats side by
        side, so a chat with a long queue holds up no one else."""
        by_chat: dict[int, list[OutboxItem]] = {}
        for item in items:
            by_chat.setdefault(item.chat_id, []).append(item)
        self._in_flight += len(items)
        for chat, chat_items in by_chat.items():
            task = asyncio.create_task(
                self._run_chat(self._tails.get(chat), chat_items, stats))
            self._tails[chat] = task
            task.add_done_callback(functools.partial(self._forget_tail, chat))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def wait_below(self, n: int) -> None:
        """Until fewer than `n` submitted rows are still without an outcome."""
        while self._in_flight >= n:
            changed = self._changed
            await changed.wait()

    async def wait_idle(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.wait_below(1)

    def cancel_all(self) -> None:
        """Give up on what is in flight (shutting down); such rows stay `sending` and go
        out after the next start."""
        for task in list(self._tails.values()):
            task.cancel()

    def _forget_tail(self, chat: int, task: asyncio.Task[None]) -> None:
        if self._tails.get(chat) is task:
            del self._tails[chat]

    def _progress(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _run_chat(
        self, previous: asyncio.Task[None] | None, items: list[OutboxItem],
        stats: DeliveryStats,
    ) -> None:
        left = len(items)
        try:
            if previous is not None:
                await asyncio.wait([previous])
            for item in items:
                try:
                    async with self._gate:
                        await self._one(item, stats)
                except Exception:
                    # The database failed us: the row stays `sending`; it is re-queued at
                    # the next start (or after the lease) and goes out then.
                    log.exception("outbox %s: outcome not recorded", item.key)
                left -= 1
                self._in_flight -= 1
                self._progress()
        finally:
            self._in_flight -= left
            self._progress()

    # --- one row ------------------------------------------------------------------------------

    async def _one(self, item: OutboxItem, stats: DeliveryStats) -> None:
        # Decided when the row was enqueued, from the scheduler's persisted uptime (see
        # crm.notifications.Uptime); rows from before that rule fall back to the delay.
        flag = item.payload.get("late")
        late = flag if isinstance(flag, bool) else is_late(item.fire_at, self.crm.clock.now())
        deliverer = self.deliverers.get(item.kind)
        if deliverer is not None:
            await deliverer.deliver(item, stats)
            return
        try:
            render = self._renderers.get(item.kind)
            if render is None:
                await self.crm.outbox.fail(item, f"unknown kind {item.kind}")
                stats.failed += 1
                return
            prepared = await render(item, late)
            if isinstance(prepared, Skip):
                await self.crm.outbox.cancel(item, prepared.reason)
                stats.cancelled += 1
                return
            await self._send_all(item, prepared)
            metrics.SENT.inc()
            stats.sent += 1
            stats.late += late
        except TelegramForbiddenError as err:
            if item.user_id is not None:
                await self.crm.outbox.mark_unreachable(item.user_id)
            await self.crm.outbox.fail(item, f"blocked: {err.message}")
            metrics.SEND_FAILURES.labels("failed").inc()
            stats.failed += 1
        except TelegramBadRequest as err:
            log.warning("outbox %s refused by Telegram: %s", item.key, err.message)
            await self.crm.outbox.fail(item, f"bad request: {err.message}")
            metrics.SEND_FAILURES.labels("failed").inc()
            stats.failed += 1
        except _RetryLater as err:
            await self.crm.outbox.retry_later(item, timedelta(seconds=err.delay), err.reason)
            stats.retried += 1
        except Exception as err:  # 5xx, timeouts, network, and our own bugs: never lose it
            reason = f"{type(err).__name__}: {err}"[:400]
            stats.errors.append(reason)
            metrics.SEND_FAILURES.labels(
                "failed" if item.attempts >= self.config.max_attempts else "retried").inc()
            if item.attempts >= self.config.max_attempts:
                log.error("outbox %s gave up after %s attempts: %s", item.key, item.attempts,
                          reason)
                await self.crm.outbox.fail(item, reason)
                stats.failed += 1
            else:
                delay = min(self.config.backoff_base * 2 ** (item.attempts - 1),
                            self.config.backoff_cap)
                log.warning("outbox %s failed (%s), retry in %.0fs", item.key, reason, delay)
                await self.crm.outbox.retry_later(item, timedelta(seconds=delay), reason)
                stats.retried += 1

    async def _send_all(self, item: OutboxItem, prepared: Prepared) -> None:
        payload = prepared.payload
        start = int(payload.get("sent_parts", 0))
        last = len(prepared.messages) - 1
        message_id: int | None = payload.get("first_message_id")
        for i, out in enumerate(prepared.messages):
            if i < start:
                continue  # went out before a crash; progress was saved
            msg = await self._send(item.chat_id, out)
            message_id = message_id or msg.message_id
            if i < last:
                payload = {**payload, "sent_parts": i + 1, "first_message_id": message_id}
                await self.crm.outbox.save_progress(item, payload)
        await self.crm.outbox.mark_sent(item, message_id, payload)

    async def _send(self, chat_id: int, out: Outgoing) -> Message:
        for _attempt in range(self.config.max_retry_after_in_row):
            await self.limiter.acquire(chat_id)
            try:
                return await self.send_once(chat_id, out)
            except TelegramRetryAfter as err:
                self.retry_after(err)
        raise _RetryLater(self.limiter.paused_for + 1, "429 again and again")

    def retry_after(self, err: TelegramRetryAfter) -> None:
        log.warning("Telegram 429: pausing all sending for %ss", err.retry_after)
        metrics.RETRY_AFTER.inc()
        self.limiter.pause(err.retry_after)

    async def send_once(self, chat_id: int, out: Outgoing) -> Message:
        """One API call, its limiter slot already taken."""
        if out.media is not None:
            return await self._send_media(chat_id, out)
        if out.photo is not None:
            photo = BufferedInputFile(out.photo, filename="digest.png")
            return await self.bot.send_photo(
                chat_id, photo, caption=out.caption, reply_markup=out.markup,
                request_timeout=self.config.request_timeout,
            )
        return await self.bot.send_message(
            chat_id, out.text or "", reply_markup=out.markup,
            request_timeout=self.config.request_timeout,
        )

    async def _send_media(self, chat_id: int, out: Outgoing) -> Message:
        assert out.media is not None
        kind, file_id = out.media
        timeout = self.config.request_timeout
        if kind == "photo":
            return await self.bot.send_photo(chat_id, file_id, caption=out.caption,
                                             reply_markup=out.markup, request_timeout=timeout)
        if kind == "voice":
            return await self.bot.send_voice(chat_id, file_id, caption=out.caption,
                                             reply_markup=out.markup, request_timeout=timeout)
        return await self.bot.send_document(chat_id, file_id, caption=out.caption,
                                            reply_markup=out.markup, request_timeout=timeout)

    # --- rendering ----------------------------------------------------------------------------

    def _locale(self, who: Recipient) -> AbstractContextManager[None]:
        return in_locale(self.i18n, who.locale)

    async def _reminder(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.reminders.reminder_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = reminder_text(view, item.fire_at if late else None)
            markup = reminder_kb(view)
        return Prepared([Outgoing(text, markup)], {**item.payload, "late": late})

    async def _overdue(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.reminders.overdue_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = overdue_text(view, item.fire_at if late else None)
            markup = overdue_kb(view)
        payload = {**item.payload, "late": late, "days": view.days_overdue}
        return Prepared([Outgoing(text, markup)], payload)

    async def _invite_used(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.reminders.invite_used_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = invite_used_text(view)
        return Prepared([Outgoing(text)], item.payload)
    async def _deal_closed(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.reminders.deal_closed_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = deal_closed_text(view)
            markup = open_deal_kb(view.deal_id)
        return Prepared([Outgoing(text, markup)], {**item.payload, "late": late})

    async def _reassigned(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.reminders.reassigned_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = reassigned_text(view)
            markup = moved_clients_kb(view.clients) if view.to_me else None
        return Prepared([Outgoing(text, markup)], {**item.payload, "late": late})

    async def _client_message(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.channel.message_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = client_message_text(view)
            markup = client_message_kb(view.channel_id, view.client_id)
        if view.kind is not None and view.file_id is not None:
            # A caption holds 1024 characters: a long text goes as a message of its own.
            if len(text) <= 1024:
                return Prepared([Outgoing(caption=text, markup=markup,
                                          media=(view.kind, view.file_id))], item.payload)
            return Prepared([Outgoing(media=(view.kind, view.file_id)),
                             Outgoing(text, markup)], item.payload)
        return Prepared([Outgoing(text, markup)], item.payload)

    async def _leads_waiting(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        view = await self.crm.leads.alert_view(item)
        if isinstance(view, Skip):
            return view
        with self._locale(view.recipient):
            text = leads_waiting_text(view)
            markup = InlineKeyboardMarkup(inline_keyboard=[[leads_button(len(view.clients))]])
        return Prepared([Outgoing(text, markup)], {**item.payload, "late": late})

    async def _digest(self, item: OutboxItem, late: bool) -> Prepared | Skip:
        who = await self.crm.reminders.digest_recipient(item)
        if isinstance(who, Skip):
            return who
        digest = await self.crm.digest.for_user(who.user_id)
        if digest is None:
            return Skip("no digest for this user")
        with self._locale(who):
            parts = digest_parts(digest, item.fire_at if late else None,
                                 ZoneInfo(who.timezone))
            markup = digest_kb(digest)
            titles = (_("Contacts per day"), _("Open deals by stage"))
            caption = _("📈 The week's activity and the pipeline")
        messages = [Outgoing(text) for text in parts]
        messages[-1].markup = markup
        if has_chart(digest):  # no chart of zeros
            png = await asyncio.to_thread(digest_chart, digest, who.locale, titles)
            messages.append(Outgoing(photo=png, caption=caption))
        return Prepared(messages, {**item.payload, "late": late})


@contextmanager
def in_locale(i18n: I18n, locale: str) -> Iterator[None]:
    """This I18n, in this locale, for gettext called outside a handler."""
    with i18n.context(), i18n.use_locale(locale):
        yield
