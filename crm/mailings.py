"""Broadcasts: a marketer (an admin; a head over their team's clients) sends one message to
a client list over Telegram — and e-mail, once it is configured — with {name}/{manager}
fields, now or at a set time; it goes out through the outbox and the shared limiter; the
report counts what was delivered, what failed and why, who unsubscribed and who replied.

Decisions:
* the audience (a saved list or a filter, crm/lists.py, in the sender's client scope) is
  resolved when the mailing *starts*: consent as of then; a contact who unsubscribes later
  is skipped at send time too;
* one recipient per mailing × channel × address (a Telegram chat, an e-mail address): a
  unique key, so a client with two linked contacts gets two messages, a contact listed twice
  one; the outbox row's key is built from the same three (`outbox_key`);
* excluded, with the reason: the client unsubscribed (its card), the contact unsubscribed
  (/stop, «Отписаться»), the contact blocked the bot (403), no address on the channel;
* each delivery is a history record of the client of the type «Campaign touch» (the
  marketing report counts those), written with the outcome in one transaction, and tagged
  with the mailing and its campaign;
* exactly once per recipient except the one unavoidable window: a message Telegram accepted
  whose OK the process did not live to record (see crm.outbox.OutboxService.mark_sent) —
  only requests on the wire at a crash; the limiter's queue is not on the wire.

Channels are pluggable: `ChannelPlan` per channel in `_resolve` (who, and who is excluded)
and a deliverer per outbox kind in the scheduler (scheduler/mailing.py). Without SMTP
settings e-mail shows as "not configured". E-mail:

1. `MailingService.email_enabled = mail_configured(config.mail)` (crm/service.py);
2. `_email_targets`: one recipient per contact person with an address (two contacts sharing
   an address: one e-mail), counting EXCLUDED_NO_EMAIL / EXCLUDED_EMAIL_UNSUBSCRIBED /
   EXCLUDED_BOUNCED (and the client marked «no mailings»); `view()` re-checks the address's
   consent at send time (`_email_consent`; Telegram's is checked through
   `client_channel_id`);
3. `scheduler.mailing.EmailMailing` delivers the outbox kind `OUTBOX_KIND[EMAIL]`
   ("mailing_email"): `view` → the rate slot (`MailSender.pace`, MAIL_RATE_PER_MINUTE) →
   `attempt` (the `sending` mark) → one SMTP transaction → `record(item, Delivered(None))`;
   a refused address is marked bounced and `Failed("bounced: …", blocked=True)`, another
   permanent failure `Failed(reason)`, a temporary one `retry(item, delay, reason)` with the
   sender's backoff, failed with the reason after its `max_attempts`. Its outbox rows fall due
   a minute's worth of the rate at a time (`_start`). The attachment: a library version's
   bytes (`document_version_id`), or an uploaded file downloaded from Telegram.
"""

from __future__ import annotations

import html
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import can_manage_mailing, can_send_mailings, require
from crm.channel import BLOCKED, CLIENT_MESSAGE, SUBSCRIBED, UNSUBSCRIBED
from crm.classifiers import Label, label
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable, valid_id
from crm.lists import ClientFilter, ClientLists, SavedInfo
from crm.mail import BOUNCED as MAIL_BOUNCED
from crm.mail import SUBSCRIBED as MAIL_SUBSCRIBED
from crm.mail import UNSUBSCRIBED as MAIL_UNSUBSCRIBED
from crm.outbox import OutboxItem
from crm.people import to_actor
from crm.reminders import Skip
from crm.reports.marketing import TOUCH
from storage.db import Database
from storage.models import Client, DocumentVersion, Mailing, MailingRecipient
from storage.repo import channel as channel_repo
from storage.repo import classifiers as cls_repo
from storage.repo import mail as mail_repo
from storage.repo import mailings as repo
from storage.repo import outbox as outbox_repo
from storage.repo import people as people_repo

MAILING = "mailing"  # the outbox kind of a mailing's Telegram message
TELEGRAM, EMAIL = "telegram", "email"
CHANNELS = (TELEGRAM, EMAIL)
# The outbox kind each channel's deliveries go under (the scheduler has a deliverer each).
OUTBOX_KIND = {TELEGRAM: MAILING, EMAIL: "mailing_email"}
SCHEDULED, SENDING, PAUSED, DONE, CANCELLED = "scheduled", "sending", "paused", "done", \
    "cancelled"
PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
# A recipient whose request is (or was) on the wire; one found so after a crash is UNKNOWN:
# it may have arrived, and it is not sent again (no client gets a mailing twice).
ATTEMPT, UNKNOWN = "sending", "unknown"
FIELDS = ("name", "manager")
NAME_MAX = 200
TEXT_MAX = 3500  # the template; a field's value adds to it (a message holds 4096)
CAPTION_MAX = 1024
REPLY_DAYS = 7
HOLD = timedelta(days=3650)  # a paused mailing's queued messages wait "forever"
AHEAD = timedelta(days=366)  # the furthest a mailing can be scheduled
_FIELD = re.compile(r"\{([^{}\s]*)\}")
# Why someone on the list gets nothing (the preview's and the report's keys).
EXCLUDED_CLIENT_UNSUBSCRIBED = "client_unsubscribed"
EXCLUDED_UNSUBSCRIBED = "unsubscribed"
EXCLUDED_BLOCKED = "blocked"
EXCLUDED_NO_TELEGRAM = "no_telegram"
EXCLUDED_NO_EMAIL = "no_email"
EXCLUDED_BOUNCED = "bounced"
EXCLUDED_EMAIL_UNSUBSCRIBED = "email_unsubscribed"  # the address (the link, the mailto)


def check_text(text: str) -> str:
    """The template: 1..TEXT_MAX characters, only known {fields}."""
    text = text.strip()
    if not text or len(text) > TEXT_MAX:
        raise InvalidInput("mailing_text", max=TEXT_MAX)
    unknown = [f for f in _FIELD.findall(text) if f not in FIELDS]
    if unknown:
        raise InvalidInput("mailing_field", field=unknown[0])
    return text


def render(template: str, name: str, manager: str | None) -> str:
    """The template (Telegram HTML) with the fields filled, their values escaped."""
    values = {"name": name, "manager": manager or ""}
    return _FIELD.sub(lambda m: html.escape(values.get(m.group(1), m.group(0))), template)


def outbox_key(mailing_id: int, channel: str, address: str) -> str:
    return f"{repo.outbox_prefix(mailing_id)}{channel}:{address}"


@dataclass(frozen=True, slots=True)
class Plan:
    """What the wizard has gathered: the mailing before it exists."""

    name: str
    campaign_id: int | None
    list_id: int | None  # a saved list, or
    filter: dict[str, Any] | None  # a filter (ClientFilter.to_json())
    channels: tuple[str, ...]
    text: str
    attachment_kind: str | None = None  # photo | document
    attachment_ref: str | None = None  # its Telegram file id
    attachment_name: str | None = None  # the file name an e-mail attaches it under
    document_version_id: int | None = None  # from the library: the version (its bytes)

    def audience(self) -> dict[str, Any]:
        if self.list_id is not None:
            return {"list_id": self.list_id}
        return {"filter": self.filter or {}}


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    channel: str
    configured: bool
    recipients: int


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    manager: str | None


@dataclass(frozen=True, slots=True)
class AudiencePreview:
    clients: int
    channels: list[ChannelPlan]
    excluded: dict[str, int]
    sample: Sample | None

    @property
    def total(self) -> int:
        return sum(c.recipients for c in self.channels)


@dataclass(frozen=True, slots=True)
class Progress:
    id: int
    name: str
    status: str
    total: int
    sent: int
    failed: int
    skipped: int
    left: int
    unknown: int  # the bot restarted while sending these: they may have arrived
    start_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    locale: str | None  # the sender's
    timezone: str
    eta_seconds: float | None

    def signature(self) -> str:
        final = self.status in (DONE, CANCELLED)
        return (f"{'final:' if final else ''}{self.status}:{self.sent}:{self.failed}:"
                f"{self.skipped}:{self.left}:{self.unknown}")


@dataclass(frozen=True, slots=True)
class RecipientLine:
    client_id: int
    name: str
    channel: str
    address: str
    status: str
    error: str | None
    sent_at: datetime | None
    unsubscribed: bool
    replied: bool


@dataclass(frozen=True, slots=True)
class MailingReport:
    progress: Progress
    campaign: Label | None
    channels: list[str]
    excluded: dict[str, int]
    reasons: dict[str, int]
    unsubscribed: int
    replied: int
    lines: list[RecipientLine] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MailingInfo:
    id: int
    name: str
    status: str
    start_at: datetime


@dataclass(frozen=True, slots=True)
class MailingView:
    """One message as its recipient gets it."""

    mailing_id: int
    recipient_id: int
    channel: str
    address: str
    text: str
    attachment_kind: str | None
    attachment_ref: str | None
    locale: str
    # E-mail: the subject (the mailing's name), the contact person, the attachment's file
    # name and its library version (None: an uploaded file, downloaded from Telegram).
    subject: str = ""
    contact_id: int | None = None
    attachment_name: str | None = None
    document_version_id: int | None = None
    name: str = ""  # the contact person's


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content: bytes
    mime_type: str


class Paused(Exception):
    """The mailing is paused: its message goes back to the queue."""


@dataclass(frozen=True, slots=True)
class Delivered:
    message_id: int | None


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str
    blocked: bool = False  # the address refuses us for good (403, an SMTP 5xx)


@dataclass(slots=True)
class _Resolved:
    rows: list[dict[str, Any]]
    excluded: Counter[str]
    plans: list[ChannelPlan]
    clients: int


def _recipient_row(mailing_id: int, channel: str, address: str, client_id: int,
                   contact_id: int | None, channel_id: int | None, name: str,
                   manager: str | None, locale: str) -> dict[str, Any]:
    return {"mailing_id": mailing_id, "channel": channel, "address": address,
            "client_id": client_id, "contact_id": contact_id, "client_channel_id": channel_id,
            "name": name[:300], "manager": manager, "locale": locale, "status": PENDING,
            "error": None, "sent_at": None, "tg_message_id": None}


class MailingService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig,
                 lists: ClientLists) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.lists = lists
        # Set where the CRM is built: mail_configured(the SMTP settings).
        self.email_enabled = False

    # --- the wizard -------------------------------------------------------------------------

    def channels(self) -> list[tuple[str, bool]]:
        """(channel, configured)."""
        return [(TELEGRAM, True), (EMAIL, self.email_enabled)]

    async def campaigns(self, actor: Actor) -> list[Label]:
        require(can_send_mailings(actor))
        async with self.db.transaction() as s:
            return [label(i) for i in await cls_repo.items(s, "campaign")]

    async def check_campaign(self, actor: Actor, campaign_id: int | None) -> Label | None:
        if campaign_id is None:
            return None
        for c in await self.campaigns(actor):
            if c.id == campaign_id:
                return c
        raise NotAvailable()

    async def saved_lists(self, actor: Actor) -> list[SavedInfo]:
        require(can_send_mailings(actor))
        return await self.lists.saved(actor)

    async def audience_name(self, actor: Actor, plan: Plan) -> str | None:
        """A saved list's name (None: a filter)."""
        if plan.list_id is None:
            return None
        return (await self.lists.open(actor, plan.list_id)).info.name

    async def _client_ids(self, actor: Actor, audience: dict[str, Any]) -> list[int]:
        if audience.get("list_id") is not None:
            saved = await self.lists.open(actor, int(audience["list_id"]))
            flt = saved.filter
        else:
            flt = ClientFilter.from_json(audience.get("filter") or {})
        return await self.lists.client_ids(actor, flt)

    def check_plan(self, plan: Plan) -> Plan:
        name = " ".join(plan.name.split())
        if not name or len(name) > NAME_MAX:
            raise InvalidInput("mailing_name", max=NAME_MAX)
        channels = tuple(c for c in CHANNELS if c in plan.channels)
        if not channels:
            raise InvalidInput("mailing_channels")
        if plan.attachment_kind not in (None, "photo", "document"):
            raise InvalidInput("mailing_attachment")
        if plan.list_id is not None:
            valid_id(plan.list_id)
        if plan.document_version_id is not None:
            valid_id(plan.document_version_id)
        attachment_name = (plan.attachment_name or "").strip()[:255] or None
        return Plan(name, plan.campaign_id, plan.list_id, plan.filter, channels,
                    check_text(plan.text), plan.attachment_kind, plan.attachment_ref,
                    attachment_name, plan.document_version_id)

    async def preview(self, actor: Actor, plan: Plan) -> AudiencePreview:
        """Who would get it now, per channel, and who would not, and why."""
        require(can_send_mailings(actor))
        plan = self.check_plan(plan)
        ids = await self._client_ids(actor, plan.audience())
        async with self.db.transaction() as s:
            found = await self._resolve(s, 0, ids, plan.channels)
        sample = None
        if found.rows:
            first = found.rows[0]
            sample = Sample(first["name"], first["manager"])
        return AudiencePreview(found.clients, found.plans, dict(found.excluded), sample)

    async def _resolve(self, s: AsyncSession, mailing_id: int, client_ids: list[int],
                       channels: tuple[str, ...]) -> _Resolved:
        rows: list[dict[str, Any]] = []
        excluded: Counter[str] = Counter()
        plans: list[ChannelPlan] = []
        clients: set[int] = set()
        if TELEGRAM in channels:
            before = len(rows)
            seen: set[int] = set()
            for t in await repo.telegram_targets(s, client_ids):
                clients.add(t.client_id)
                if t.client_unsubscribed:
                    if t.client_id not in seen:
                        excluded[EXCLUDED_CLIENT_UNSUBSCRIBED] += 1
                    seen.add(t.client_id)
                    continue
                if t.channel_id is None or t.tg_id is None:
                    excluded[EXCLUDED_NO_TELEGRAM] += 1
                    continue
                if t.consent == UNSUBSCRIBED:
                    excluded[EXCLUDED_UNSUBSCRIBED] += 1
                    continue
                if t.consent == BLOCKED:
                    excluded[EXCLUDED_BLOCKED] += 1
                    continue
                if t.consent != SUBSCRIBED:
                    continue
                rows.append(_recipient_row(
                    mailing_id, TELEGRAM, str(t.tg_id), t.client_id, t.contact_id,
                    t.channel_id, t.name, t.manager,
                    t.locale or self.config.default_locale))
            # A chat linked to two clients of the list cannot be: tg_id is unique.
            plans.append(ChannelPlan(TELEGRAM, True, len(rows) - before))
        if not self.email_enabled:
            plans.append(ChannelPlan(EMAIL, False, 0))  # shown: "e-mail: not configured"
        elif EMAIL in channels:
            before = len(rows)
            rows.extend(await self._email_targets(s, mailing_id, client_ids, excluded,
                                                  channels))
            plans.append(ChannelPlan(EMAIL, True, len(rows) - before))
        return _Resolved(rows, excluded, plans, len(clients) or len(set(client_ids)))

    async def _email_targets(self, s: AsyncSession, mailing_id: int, client_ids: list[int],
                             excluded: Counter[str],
                             channels: tuple[str, ...]) -> list[dict[str, Any]]:
        """E-mail recipients: PLUG-IN POINT for the e-mail channel (crm/mail.py). One row per
        contact person with an address (`_recipient_row(mailing_id, EMAIL, address, …)`),
        counting EXCLUDED_NO_EMAIL / EXCLUDED_EMAIL_UNSUBSCRIBED / EXCLUDED_BOUNCED (and the
        client marked «no mailings», once per client, unless Telegram counted it)."""
        targets = await repo.email_targets(s, client_ids)
        consents = await mail_repo.consents_of(
            s, [t.contact_id for t in targets if t.contact_id is not None and t.email])
        rows: list[dict[str, Any]] = []
        seen_clients: set[int] = set()
        seen_addresses: set[str] = set()
        count_clients = TELEGRAM not in channels
        for t in targets:
            if t.client_unsubscribed:
                if count_clients and t.client_id not in seen_clients:
                    excluded[EXCLUDED_CLIENT_UNSUBSCRIBED] += 1
                seen_clients.add(t.client_id)
                continue
            if t.contact_id is None or not t.email:
                excluded[EXCLUDED_NO_EMAIL] += 1
                continue
            consent = consents.get(t.contact_id)
            state = MAIL_SUBSCRIBED
            if consent is not None and consent.email.strip().casefold() == t.email.casefold():
                state = consent.state
            if state == MAIL_UNSUBSCRIBED:
                excluded[EXCLUDED_EMAIL_UNSUBSCRIBED] += 1
                continue
            if state == MAIL_BOUNCED:
                excluded[EXCLUDED_BOUNCED] += 1
                continue
            key = t.email.casefold()
            if key in seen_addresses:
                continue  # two contact persons, one address: one e-mail
            seen_addresses.add(key)
            rows.append(_recipient_row(mailing_id, EMAIL, t.email, t.client_id, t.contact_id,
                                       None, t.name, t.manager, self.config.default_locale))
        return rows

    # --- creating and starting --------------------------------------------------------------

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(16)

    async def create(self, actor: Actor, plan: Plan, token: str, start_at: datetime | None,
                     progress_chat_id: int | None = None,
                     progress_message_id: int | None = None) -> int:
        """A mailing, once per wizard token; starts at once when `start_at` is None (the
        recipients are written in the same transaction), else when the scheduler finds it
        due. The progress message, if given, is edited as it goes out."""
        require(can_send_mailings(actor))
        plan = self.check_plan(plan)
        await self.check_campaign(actor, plan.campaign_id)
        now = self.clock.now()
        if start_at is not None:
            if start_at <= now:
                raise InvalidInput("when_past")
            if start_at > now + AHEAD:
                raise InvalidInput("when_far")
        ids = await self._client_ids(actor, plan.audience()) if start_at is None else []
        async with self.db.transaction() as s:
            existing = await repo.by_token(s, token[:40])
            if existing is not None:
                return existing.id
            mailing_id = await repo.add_mailing(s, {
                "token": token[:40], "name": plan.name, "campaign_id": plan.campaign_id,
                "created_by_id": actor.id, "audience": plan.audience(),
                "channels": list(plan.channels), "text": plan.text,
                "attachment_kind": plan.attachment_kind,
                "attachment_ref": plan.attachment_ref,
                "attachment_name": plan.attachment_name,
                "document_version_id": plan.document_version_id, "status": SCHEDULED,
                "start_at": start_at or now, "excluded": {},
                "progress_chat_id": progress_chat_id,
                "progress_message_id": progress_message_id, "created_at": now,
            })
            if mailing_id is None:
                raise Conflict("mailing_exists")
            people_repo.audit(s, actor.id, "mailing.create", "mailing", mailing_id,
                              {"name": plan.name, "start_at": (start_at or now).isoformat()},
                              now)
            if start_at is None:
                row = await repo.mailing(s, mailing_id)
                assert row is not None
                await self._start(s, row, ids)
            return mailing_id

    async def set_progress_message(self, actor: Actor, mailing_id: int, chat_id: int,
                                   message_id: int) -> None:
        async with self.db.transaction() as s:
            row = await self._load(s, actor, mailing_id)
            row.progress_chat_id, row.progress_message_id = chat_id, message_id
            row.progress_shown = None

    async def start_due(self) -> list[int]:
        """Start the scheduled mailings that fell due (the scheduler's tick). The audience is
        resolved in the creator's scope as of now; a list gone meanwhile cancels it."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            due = [(m.id, m.created_by_id, dict(m.audience or {})) for m in await repo.due(s, now)]
        started: list[int] = []
        for mailing_id, creator_id, audience in due:
            async with self.db.transaction() as s:
                user = await people_repo.user_by_id(s, creator_id)
            try:
                if user is None or not user.is_active:
                    raise NotAvailable()
                actor = to_actor(user)
                require(can_send_mailings(actor))
                ids = await self._client_ids(actor, audience)
            except Exception as err:  # the creator left, the list is gone: it cannot start
                async with self.db.transaction() as s:
                    await repo.set_status(s, mailing_id, (SCHEDULED,), CANCELLED,
                                          finished_at=now,
                                          excluded={"error": type(err).__name__})
                continue
            async with self.db.transaction() as s:
                row = await repo.mailing(s, mailing_id)
                if row is not None and row.status == SCHEDULED:
                    await self._start(s, row, ids)
                    started.append(mailing_id)
        return started

    def _email_per_minute(self) -> int:
        return max(int(self.config.mail.rate_per_minute), 1)

    async def _start(self, s: AsyncSession, row: Mailing, client_ids: list[int]) -> None:
        """Resolve the recipients and queue their messages, in the caller's transaction: a
        crash leaves the mailing scheduled with nothing queued, or started with all."""
        now = self.clock.now()
        if not await repo.set_status(s, row.id, (SCHEDULED,), SENDING, started_at=now):
            return
        found = await self._resolve(s, row.id, client_ids, tuple(row.channels or ()))
        row.excluded = dict(found.excluded)
        await repo.add_recipients(s, found.rows)
        for channel in row.channels or ():
            if channel == EMAIL and not self.email_enabled:
                continue
            kind = OUTBOX_KIND[channel]
            # E-mails fall due a minute's worth (the rate setting) at a time: the outbox
            # claims by due time, and a long run of e-mails waiting for their rate slots
            # must not hold up reminders and Telegram messages due meanwhile.
            per_minute = self._email_per_minute() if channel == EMAIL else 0
            out = [{
                "idempotency_key": outbox_key(row.id, channel, address), "kind": kind,
                "user_id": None, "chat_id": int(address) if channel == TELEGRAM else 0,
                "payload": {"mailing_id": row.id, "recipient_id": rid},
                "due_at": now + timedelta(minutes=i // per_minute) if per_minute else now,
                "created_at": now, "claimed_at": None, "sent_at": None,
                "tg_message_id": None,
            } for i, (rid, address) in enumerate(await repo.recipient_ids(s, row.id, channel))]
            await outbox_repo.insert_if_absent(s, out)

    # --- while it goes out ------------------------------------------------------------------

    async def _load(self, s: AsyncSession, actor: Actor, mailing_id: int) -> Mailing:
        row = await repo.mailing(s, valid_id(mailing_id))
        if row is None:
            raise NotAvailable()
        creator = await people_repo.user_by_id(s, row.created_by_id)
        if not can_manage_mailing(actor, row.created_by_id,
                                  creator.team_id if creator else None):
            raise NotAvailable()
        return row

    async def pause(self, actor: Actor, mailing_id: int) -> Progress:
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._load(s, actor, mailing_id)
            if row.status == SENDING:
                await repo.set_status(s, row.id, (SENDING,), PAUSED)
                await repo.move_pending(s, row.id, now + HOLD)
                people_repo.audit(s, actor.id, "mailing.pause", "mailing", row.id, {}, now)
        return await self.progress(actor, mailing_id)

    async def resume(self, actor: Actor, mailing_id: int) -> Progress:
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._load(s, actor, mailing_id)
            if row.status == PAUSED:
                await repo.set_status(s, row.id, (PAUSED,), SENDING)
                await repo.move_pending(s, row.id, now)
                if EMAIL in (row.channels or ()) and self.email_enabled:
                    await repo.spread_pending(s, row.id, OUTBOX_KIND[EMAIL], now,
                                              self._email_per_minute())
                people_repo.audit(s, actor.id, "mailing.resume", "mailing", row.id, {}, now)
        return await self.progress(actor, mailing_id)

    async def cancel(self, actor: Actor, mailing_id: int) -> Progress:
        """What has not gone out yet never will; a repeated cancel changes nothing."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._load(s, actor, mailing_id)
            if await repo.set_status(s, row.id, (SCHEDULED, SENDING, PAUSED), CANCELLED,
                                     finished_at=now):
                await repo.cancel_pending(s, row.id, "mailing cancelled")
                await repo.cancel_recipients(s, row.id)
                people_repo.audit(s, actor.id, "mailing.cancel", "mailing", row.id, {}, now)
        return await self.progress(actor, mailing_id)

    async def progress(self, actor: Actor, mailing_id: int) -> Progress:
        async with self.db.transaction() as s:
            row = await self._load(s, actor, mailing_id)
            return await self._progress(s, row)

    async def _progress(self, s: AsyncSession, row: Mailing) -> Progress:
        counts = await repo.status_counts(s, row.id)
        creator = await people_repo.user_by_id(s, row.created_by_id)
        sent, failed = counts.get(SENT, 0), counts.get(FAILED, 0)
        skipped = counts.get(SKIPPED, 0) + counts.get(CANCELLED, 0)
        left = counts.get(PENDING, 0) + counts.get(ATTEMPT, 0)
        eta = None
        if left and row.status == SENDING and row.started_at is not None and sent + failed:
            elapsed = (self.clock.now() - row.started_at).total_seconds()
            if elapsed > 0:
                eta = left / ((sent + failed) / elapsed)
        return Progress(row.id, row.name, row.status, sum(counts.values()), sent, failed,
                        skipped, left, counts.get(UNKNOWN, 0), row.start_at, row.started_at,
                        row.finished_at,
                        creator.locale if creator else None,
                        creator.timezone if creator else "UTC", eta)

    async def to_refresh(self) -> list[tuple[Progress, int, int]]:
        """(progress, chat, message) of every progress message that is out of date; a
        mailing with nothing left is marked done here."""
        now = self.clock.now()
        out: list[tuple[Progress, int, int]] = []
        async with self.db.transaction() as s:
            for row in await repo.active(s):
                p = await self._progress(s, row)
                if row.status == SENDING and p.left == 0:
                    await repo.set_status(s, row.id, (SENDING,), DONE, finished_at=now)
                    await s.refresh(row)
                    p = await self._progress(s, row)
                if p.signature() != row.progress_shown and row.progress_chat_id is not None \
                        and row.progress_message_id is not None:
                    out.append((p, int(row.progress_chat_id), int(row.progress_message_id)))
        return out

    async def shown(self, mailing_id: int, signature: str) -> None:
        async with self.db.transaction() as s:
            row = await repo.mailing(s, mailing_id)
            if row is not None:
                row.progress_shown = signature

    # --- delivering one message (the scheduler) ----------------------------------------------

    async def view(self, item: OutboxItem) -> MailingView | Skip:
        """The message for this outbox row as of now; Skip when it must not go (cancelled,
        the contact unsubscribed or blocked meanwhile); raises Paused."""
        async with self.db.transaction() as s:
            r = await repo.recipient(s, int(item.payload.get("recipient_id", 0)))
            row = await repo.mailing(s, int(item.payload.get("mailing_id", 0)))
            if r is None or row is None:
                return Skip("mailing gone")
            if r.status == ATTEMPT:
                # Marked just before its request went out, never recorded: that process
                # died with the request on the wire. Telegram may well have it.
                await repo.finish_recipient(s, r.id, UNKNOWN, from_status=ATTEMPT,
                                            error="the bot restarted while sending it")
                return Skip("unknown: the bot restarted while sending it")
            if r.status != PENDING:
                return Skip(f"recipient {r.status}")
            if row.status == CANCELLED:
                await repo.finish_recipient(s, r.id, CANCELLED)
                return Skip("mailing cancelled")
            if row.status == PAUSED:
                raise Paused()
            if r.client_channel_id is not None:
                ch = await channel_repo.channel(s, r.client_channel_id)
                if ch is None or ch.consent != SUBSCRIBED or str(ch.tg_id) != r.address:
                    reason = ch.consent if ch is not None else "unlinked"
                    await repo.finish_recipient(s, r.id, SKIPPED, error=reason)
                    return Skip(reason)
            if r.channel == EMAIL:
                refused = await self._email_consent(s, r)
                if refused is not None:
                    await repo.finish_recipient(s, r.id, SKIPPED, error=refused)
                    return Skip(refused)
            return MailingView(row.id, r.id, r.channel, r.address,
                               render(row.text, r.name, r.manager), row.attachment_kind,
                               row.attachment_ref, r.locale, row.name, r.contact_id,
                               row.attachment_name, row.document_version_id, r.name)

    @staticmethod
    async def _email_consent(s: AsyncSession, r: MailingRecipient) -> str | None:
        """Why this address must not get the mail now (None: it may): the client marked «no
        mailings», the contact gone or its address changed, unsubscribed or bounced."""
        client = await s.get(Client, r.client_id)
        if client is None or client.is_deleted or client.unsubscribed:
            return EXCLUDED_CLIENT_UNSUBSCRIBED
        person = await mail_repo.contact(s, r.contact_id or 0)
        if person is None or not person.email or \
                person.email.strip().casefold() != r.address.casefold():
            return "address changed"
        consent = (await mail_repo.consents_of(s, [person.id])).get(person.id)
        if consent is not None and consent.email.strip().casefold() == r.address.casefold() \
                and consent.state != MAIL_SUBSCRIBED:
            return str(consent.state)
        return None

    async def attachment(self, version_id: int) -> Attachment | None:
        """A library version's bytes, to attach to an e-mail."""
        async with self.db.transaction() as s:
            v = await s.get(DocumentVersion, version_id)
            if v is None:
                return None
            return Attachment(v.file_name, bytes(v.content), v.mime_type)

    async def attempt(self, item: OutboxItem) -> bool:
        """Its request goes out now (committed first); False: not pending any more."""
        async with self.db.transaction() as s:
            return await repo.finish_recipient(s, int(item.payload.get("recipient_id", 0)),
                                               ATTEMPT)

    async def retry(self, item: OutboxItem, delay: timedelta, reason: str) -> None:
        """Telegram refused it for now (429 after 429, 5xx, no answer): back to the queue."""
        async with self.db.transaction() as s:
            await repo.finish_recipient(s, int(item.payload.get("recipient_id", 0)), PENDING,
                                        from_status=ATTEMPT)
            await outbox_repo.retry_later(s, item.id, self.clock.now() + delay, reason)

    async def record(self, item: OutboxItem, outcome: Delivered | Failed) -> None:
        """The outcome, the outbox row, the recipient and the client's history, in one
        transaction (a crash leaves all of them as they were)."""
        now = self.clock.now()
        rid = int(item.payload.get("recipient_id", 0))
        async with self.db.transaction() as s:
            r = await repo.recipient(s, rid)
            row = await repo.mailing(s, int(item.payload.get("mailing_id", 0)))
            if isinstance(outcome, Delivered):
                await outbox_repo.mark_sent(s, item.id, now, outcome.message_id)
                if r is None or row is None:
                    return
                if await repo.finish_recipient(s, r.id, SENT, from_status=(PENDING, ATTEMPT),
                                               sent_at=now, tg_message_id=outcome.message_id):
                    await self._touch(s, row, r, outcome.message_id, now)
                return
            await outbox_repo.finish(s, item.id, outbox_repo.FAILED, outcome.reason)
            if r is None:
                return
            await repo.finish_recipient(s, r.id, FAILED, from_status=(PENDING, ATTEMPT),
                                        error=outcome.reason[:500])
            if outcome.blocked and r.client_channel_id is not None:
                ch = await channel_repo.channel(s, r.client_channel_id)
                if ch is not None and ch.consent != BLOCKED:
                    ch.consent, ch.consent_at = BLOCKED, now
                    people_repo.audit(s, None, "client_channel.blocked", "client",
                                      ch.client_id, {"channel_id": ch.id,
                                                     "mailing_id": r.mailing_id}, now)

    async def _touch(self, s: AsyncSession, row: Mailing, r: MailingRecipient,
                     message_id: int | None, now: datetime) -> None:
        touch = await cls_repo.item_by_code(s, "activity_type", TOUCH)
        values: dict[str, Any] = {
            "client_id": r.client_id, "author_id": row.created_by_id,
            "type_id": touch.id if touch is not None else None, "campaign_id": row.campaign_id,
            "text": f"📣 {row.name}",
            "details": {"mailing_id": row.id, "campaign_id": row.campaign_id,
                        "channel": r.channel, "contact_id": r.contact_id},
            "occurred_at": now, "created_at": now,
        }
        if r.channel == TELEGRAM and message_id is not None:
            values["tg_chat_id"] = int(r.address)
            values["tg_message_id"] = message_id
        await channel_repo.insert_message(s, values)

    async def skip(self, item: OutboxItem, reason: str) -> None:
        async with self.db.transaction() as s:
            await outbox_repo.finish(s, item.id, outbox_repo.CANCELLED, reason)

    async def hold(self, item: OutboxItem) -> None:
        """Paused while it waited to go: back to the queue, due when resumed."""
        async with self.db.transaction() as s:
            await outbox_repo.retry_later(s, item.id, self.clock.now() + HOLD, "paused")

    # --- after ------------------------------------------------------------------------------

    async def recent(self, actor: Actor, limit: int = 10) -> list[MailingInfo]:
        require(can_send_mailings(actor))
        async with self.db.transaction() as s:
            rows = await repo.recent(s, None, limit * 5)
            out: list[MailingInfo] = []
            for row in rows:
                creator = await people_repo.user_by_id(s, row.created_by_id)
                if can_manage_mailing(actor, row.created_by_id,
                                      creator.team_id if creator else None):
                    out.append(MailingInfo(row.id, row.name, row.status, row.start_at))
            return out[:limit]

    async def report(self, actor: Actor, mailing_id: int) -> MailingReport:
        """Delivered, failed by reason, unsubscribed since it started, replied within
        REPLY_DAYS of its start — and every recipient's line (the spreadsheet)."""
        async with self.db.transaction() as s:
            row = await self._load(s, actor, mailing_id)
            progress = await self._progress(s, row)
            reasons = await repo.failure_reasons(s, row.id)
            campaign = None
            if row.campaign_id is not None:
                item = await cls_repo.item(s, row.campaign_id)
                campaign = label(item) if item is not None else None
            people = await repo.recipients(s, row.id)
            start = row.started_at or row.start_at
            unsub = await repo.unsubscribed_since(
                s, [r.client_channel_id for r in people if r.client_channel_id is not None],
                start)
            email_unsub = await repo.email_unsubscribed_since(
                s, [r.contact_id for r in people
                    if r.channel == EMAIL and r.contact_id is not None], start)
            replied = await repo.replied_chats(
                s, [r.client_id for r in people if r.channel == TELEGRAM], CLIENT_MESSAGE,
                start, start + timedelta(days=REPLY_DAYS))
            lines = [RecipientLine(
                r.client_id, r.name, r.channel, r.address, r.status, r.error, r.sent_at,
                r.client_channel_id in unsub if r.channel == TELEGRAM else
                email_unsub.get(r.contact_id or 0, "").casefold() == r.address.casefold(),
                r.channel == TELEGRAM and r.status == SENT and int(r.address) in replied)
                for r in people]
            return MailingReport(
                progress, campaign, list(row.channels or ()), dict(row.excluded or {}),
                reasons, sum(1 for x in lines if x.unsubscribed),
                sum(1 for x in lines if x.replied), lines)
