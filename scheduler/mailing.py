"""Broadcasts in the scheduler: one deliverer per channel's outbox kind, and the progress
messages edited in place.

A deliverer takes a claimed outbox row of its kind and records its outcome itself through
crm.mailings (the outbox row, the recipient and the client's history in one transaction).
The Telegram one sends through the sender's `_send`: the shared limiter, and a 429 pauses
everyone. The e-mail one (`EmailMailing`) sends through crm.mail's MailSender, paced by the
e-mail rate setting (MAIL_RATE_PER_MINUTE); a temporary SMTP failure goes back to the outbox
with a backoff, a refused address is marked bounced.
"""

from __future__ import annotations

import logging
import mimetypes
import posixpath
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.utils.i18n import I18n

from bot import metrics
from bot.mailing_views import (
    Part,
    html_body,
    mailing_messages,
    plain_text,
    progress_kb,
    progress_text,
)
from crm.mail import MailFailed, build_message
from crm.mailings import Attachment, Delivered, Failed, MailingView, Paused
from crm.outbox import OutboxItem
from crm.reminders import Skip
from crm.service import CRM
from scheduler.limiter import RateLimiter

if TYPE_CHECKING:
    from scheduler.sender import DeliveryStats, Sender

log = logging.getLogger(__name__)


class Deliverer(Protocol):
    async def deliver(self, item: OutboxItem, stats: DeliveryStats) -> None: ...


class TelegramMailing:
    """A mailing's message to one linked Telegram contact."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.crm = sender.crm

    async def deliver(self, item: OutboxItem, stats: DeliveryStats) -> None:
        from scheduler.sender import _RetryLater, in_locale

        try:
            view = await self.crm.mailings.view(item)
        except Paused:
            await self.crm.mailings.hold(item)
            stats.retried += 1
            return
        if isinstance(view, Skip):
            await self.crm.mailings.skip(item, view.reason)
            stats.cancelled += 1
            return
        with in_locale(self.sender.i18n, view.locale):
            parts = mailing_messages(view)
        outcome: Delivered | Failed
        try:
            message_id = await self._send(item, parts)
            if message_id is None:  # cancelled or taken meanwhile: not sent
                await self.crm.mailings.skip(item, "not pending any more")
                stats.cancelled += 1
                return
            outcome = Delivered(message_id)
        except TelegramForbiddenError as err:
            outcome = Failed(f"blocked: {err.message}", blocked=True)
        except TelegramBadRequest as err:
            outcome = Failed(f"bad request: {err.message}")
        except _RetryLater as err:
            await self.crm.mailings.retry(item, timedelta(seconds=err.delay), err.reason)
            stats.retried += 1
            return
        except Exception as err:  # 5xx, timeouts, network: again later, up to a limit
            reason = f"{type(err).__name__}: {err}"[:400]
            cfg = self.sender.config
            if item.attempts < cfg.max_attempts:
                delay = min(cfg.backoff_base * 2 ** (item.attempts - 1), cfg.backoff_cap)
                await self.crm.mailings.retry(item, timedelta(seconds=delay), reason)
                stats.retried += 1
                return
            outcome = Failed(reason)
        await self.crm.mailings.record(item, outcome)
        if isinstance(outcome, Delivered):
            metrics.SENT.inc()
            stats.sent += 1
        else:
            metrics.SEND_FAILURES.labels("failed").inc()
            stats.failed += 1

    async def _send(self, item: OutboxItem, parts: list[Part]) -> int | None:
        """Each part in its limiter slot. The first request is preceded by the recipient's
        `sending` mark, committed once the slot is ours: a process killed after it never
        sends this message again (see crm.mailings.MailingService.view). None: the
        recipient is no longer pending (cancelled meanwhile)."""
        from aiogram.exceptions import TelegramRetryAfter

        from scheduler.sender import Outgoing, _RetryLater

        message_id = 0
        marked = False
        for part in parts:
            out = Outgoing(text=part.text, markup=part.markup, caption=part.caption,
                           media=part.media)
            limiter = self.sender.limiter
            for _attempt in range(self.sender.config.max_retry_after_in_row):
                granted = await limiter.acquire(item.chat_id)
                if not marked:
                    if not await self.crm.mailings.attempt(item):
                        return None
                    marked = True
                    if time.monotonic() - granted > limiter.global_interval:
                        # The mark's commit waited (a busy database): going now could
                        # bunch this request with the next ones into a 429. Wait for room
                        # in the limiter's window (briefly: the slot is kept) — not for a
                        # fresh slot, as the marked request must go as soon as it can.
                        await limiter.settle(granted)
                try:
                    msg = await self.sender.send_once(item.chat_id, out)
                    break
                except TelegramRetryAfter as err:
                    self.sender.retry_after(err)
            else:
                raise _RetryLater(self.sender.limiter.paused_for + 1, "429 again and again")
            message_id = msg.message_id
        return message_id


class EmailMailing:
    """A mailing's e-mail to one contact person's address. The recipient is marked
    `sending` (committed) once the rate slot is ours and just before the SMTP transaction:
    a process killed after that never mails this address again."""

    CACHE = 8  # attachments kept in memory (a mailing sends one to everyone)

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.crm = sender.crm
        self._files: dict[str, Attachment] = {}

    async def _attachment(self, view: MailingView) -> Attachment | None:
        if view.attachment_ref is None and view.document_version_id is None:
            return None
        key = f"v{view.document_version_id}" if view.document_version_id is not None \
            else f"f{view.attachment_ref}"
        found = self._files.get(key)
        if found is not None:
            return found
        if view.document_version_id is not None:
            found = await self.crm.mailings.attachment(view.document_version_id)
        elif view.attachment_ref is not None:
            found = await self._download(view)
        if found is None:
            return None
        if len(self._files) >= self.CACHE:
            self._files.pop(next(iter(self._files)))
        self._files[key] = found
        return found

    async def _download(self, view: MailingView) -> Attachment:
        """An uploaded file's bytes, from Telegram (the bot's own file)."""
        assert view.attachment_ref is not None
        bot = self.sender.bot
        file = await bot.get_file(view.attachment_ref)
        buf = await bot.download_file(file.file_path or "")
        data = buf.read() if buf is not None else b""
        name = view.attachment_name or (
            "photo.jpg" if view.attachment_kind == "photo"
            else posixpath.basename(file.file_path or "") or "attachment")
        mime = mimetypes.guess_type(name)[0] or (
            "image/jpeg" if view.attachment_kind == "photo" else "application/octet-stream")
        return Attachment(name, data, mime)

    async def deliver(self, item: OutboxItem, stats: DeliveryStats) -> None:
        mailings = self.crm.mailings
        try:
            view = await mailings.view(item)
        except Paused:
            await mailings.hold(item)
            stats.retried += 1
            return
        if isinstance(view, Skip):
            await mailings.skip(item, view.reason)
            stats.cancelled += 1
            return
        mail = self.crm.mail
        cfg = self.sender.config
        outcome: Delivered | Failed
        try:
            file = await self._attachment(view)
            mailto, url = await mail.unsubscribe_links(view.contact_id or 0)
            message = build_message(
                sender=mail.config.smtp_from or "", to=view.address, to_name=view.name or None,
                subject=view.subject, text=plain_text(view.text), html=html_body(view.text),
                attachment=(file.name, file.content, file.mime_type) if file else None,
                unsubscribe_mailto=mailto, unsubscribe_url=url)
            await mail.sender.pace()
            if not await mailings.attempt(item):
                await mailings.skip(item, "not pending any more")
                stats.cancelled += 1
                return
            # One SMTP transaction: a temporary failure goes back to the outbox (below).
            await mail.sender.send(message, attempts=1, paced=True)
            outcome = Delivered(None)
        except MailFailed as err:
            reason = err.reason[:400]
            if err.permanent:
                if err.refused and view.contact_id is not None:
                    await mail.mark_bounced(view.contact_id, view.address, err.reason)
                    outcome = Failed(f"bounced: {reason}", blocked=True)
                else:
                    outcome = Failed(reason)
            elif item.attempts < cfg.max_attempts:
                delay = min(cfg.backoff_base * 2 ** (item.attempts - 1), cfg.backoff_cap)
                await mailings.retry(item, timedelta(seconds=delay), reason)
                stats.retried += 1
                return
            else:
                outcome = Failed(reason)
        except Exception as err:  # the attachment's download, the database: again later
            reason = f"{type(err).__name__}: {err}"[:400]
            if item.attempts < cfg.max_attempts:
                delay = min(cfg.backoff_base * 2 ** (item.attempts - 1), cfg.backoff_cap)
                await mailings.retry(item, timedelta(seconds=delay), reason)
                stats.retried += 1
                return
            outcome = Failed(reason)
        await mailings.record(item, outcome)
        if isinstance(outcome, Delivered):
            metrics.SENT.inc()
            stats.sent += 1
        else:
            metrics.SEND_FAILURES.labels("failed").inc()
            stats.failed += 1


class MailingProgress:
    """Starts the scheduled mailings that fell due and keeps each progress message up to
    date (at most once per `every` seconds; only when a figure changed)."""

    def __init__(self, crm: CRM, bot: Bot, i18n: I18n, limiter: RateLimiter,
                 every: float = 5.0) -> None:
        self.crm = crm
        self.bot = bot
        self.i18n = i18n
        self.limiter = limiter
        self.every = every
        self._last = 0.0

    async def step(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every:
            return
        self._last = now
        try:
            started = await self.crm.mailings.start_due()
            if started:
                log.info("mailings started: %s", started)
            for progress, chat_id, message_id in await self.crm.mailings.to_refresh():
                from scheduler.sender import in_locale

                with in_locale(self.i18n, progress.locale or self.crm.config.default_locale):
                    text = progress_text(progress)
                    markup = progress_kb(progress)
                await self.limiter.acquire(chat_id)
                try:
                    await self.bot.edit_message_text(text=text, chat_id=chat_id,
                                                     message_id=message_id,
                                                     reply_markup=markup)
                except TelegramBadRequest as err:
                    if "not modified" not in str(err):
                        log.warning("mailing %s: progress not shown: %s", progress.id,
                                    err.message)
                except TelegramForbiddenError:
                    pass  # the sender blocked the bot: nothing to show it on
                await self.crm.mailings.shown(progress.id, progress.signature())
        except Exception:
            log.exception("mailing progress failed; the next tick retries")
