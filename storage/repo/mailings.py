"""SQL of broadcasts: mailings, their recipients (unique per mailing × channel × address),
who can be reached over Telegram, and the figures of a mailing's report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Activity,
    Client,
    ClientChannel,
    ContactPerson,
    Mailing,
    MailingRecipient,
    OutboxMessage,
    User,
)

_CHUNK = 500


def _insert(s: AsyncSession, model: Any) -> Any:
    bind = s.bind
    if bind is not None and bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


async def add_mailing(s: AsyncSession, values: dict[str, Any]) -> int | None:
    """A new mailing; None when its token is taken (the same «Send» pressed twice)."""
    stmt = (_insert(s, Mailing).values(**values)
            .on_conflict_do_nothing(index_elements=["token"]).returning(Mailing.id))
    found = await s.scalar(stmt)
    return int(found) if found is not None else None


async def by_token(s: AsyncSession, token: str) -> Mailing | None:
    return await s.scalar(select(Mailing).where(Mailing.token == token))


async def mailing(s: AsyncSession, mailing_id: int) -> Mailing | None:
    return await s.get(Mailing, mailing_id)


async def recent(s: AsyncSession, created_by: int | None, limit: int) -> Sequence[Mailing]:
    stmt = select(Mailing).order_by(Mailing.id.desc()).limit(limit)
    if created_by is not None:
        stmt = stmt.where(Mailing.created_by_id == created_by)
    return (await s.scalars(stmt)).all()


async def due(s: AsyncSession, now: datetime) -> Sequence[Mailing]:
    stmt = select(Mailing).where(Mailing.status == "scheduled", Mailing.start_at <= now)
    return (await s.scalars(stmt.order_by(Mailing.start_at, Mailing.id))).all()


async def active(s: AsyncSession) -> Sequence[Mailing]:
    """Mailings going out (one with nothing left is done), and those whose progress
    message has not shown the end yet."""
    stmt = select(Mailing).where(
        Mailing.status.in_(("sending", "paused"))
        | (Mailing.status.in_(("done", "cancelled"))
           & Mailing.progress_message_id.is_not(None)
           & (Mailing.progress_shown.is_(None)
              | ~Mailing.progress_shown.startswith("final:"))))
    return (await s.scalars(stmt.order_by(Mailing.id))).all()


async def set_status(s: AsyncSession, mailing_id: int, old: Sequence[str], new: str,
                     **values: Any) -> bool:
    result = await s.execute(
        update(Mailing).where(Mailing.id == mailing_id, Mailing.status.in_(list(old)))
        .values(status=new, **values))
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TelegramTarget:
    client_id: int
    client_unsubscribed: bool
    channel_id: int | None  # None: the client has no linked Telegram
    tg_id: int | None
    consent: str | None
    contact_id: int | None
    name: str  # the contact person's, else the client's
    manager: str | None
    locale: str | None


async def telegram_targets(s: AsyncSession, client_ids: Sequence[int]) -> list[TelegramTarget]:
    """Every client of the list with each of its linked Telegram contacts (a client with
    none appears once, channel None)."""
    out: list[TelegramTarget] = []
    ids = list(client_ids)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        rows = await s.execute(
            select(Client.id, Client.unsubscribed, Client.name, User.name,
                   ClientChannel.id, ClientChannel.tg_id, ClientChannel.consent,
                   ClientChannel.contact_id, ContactPerson.name, ClientChannel.locale)
            .outerjoin(User, User.id == Client.owner_id)
            .outerjoin(ClientChannel, ClientChannel.client_id == Client.id)
            .outerjoin(ContactPerson, ContactPerson.id == ClientChannel.contact_id)
            .where(Client.id.in_(chunk), Client.is_deleted.is_(False))
            .order_by(Client.id, ClientChannel.id))
        for (cid, unsub, cname, manager, ch_id, tg_id, consent, contact_id, pname,
             locale) in rows.all():
            out.append(TelegramTarget(int(cid), bool(unsub), ch_id, tg_id, consent,
                                      contact_id, pname or cname, manager, locale))
    return out


async def add_recipients(s: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    for i in range(0, len(rows), _CHUNK):
        stmt = _insert(s, MailingRecipient).values(list(rows[i:i + _CHUNK]))
        await s.execute(stmt.on_conflict_do_nothing(
            index_elements=["mailing_id", "channel", "address"]))


async def recipient_ids(s: AsyncSession, mailing_id: int, channel: str) -> list[tuple[int, str]]:
    rows = await s.execute(
        select(MailingRecipient.id, MailingRecipient.address)
        .where(MailingRecipient.mailing_id == mailing_id, MailingRecipient.channel == channel)
        .order_by(MailingRecipient.id))
    return [(int(i), str(a)) for i, a in rows.all()]


async def recipient(s: AsyncSession, recipient_id: int) -> MailingRecipient | None:
    return await s.get(MailingRecipient, recipient_id)


async def recipients(s: AsyncSession, mailing_id: int) -> Sequence[MailingRecipient]:
    stmt = select(MailingRecipient).where(MailingRecipient.mailing_id == mailing_id)
    return (await s.scalars(stmt.order_by(MailingRecipient.id))).all()


async def finish_recipient(s: AsyncSession, recipient_id: int, status: str, *,
                           from_status: str | tuple[str, ...] = "pending",
                           **values: Any) -> bool:
    """From `from_status` (pending) to `status`, once."""
    olds = (from_status,) if isinstance(from_status, str) else from_status
    result = await s.execute(
        update(MailingRecipient)
        .where(MailingRecipient.id == recipient_id, MailingRecipient.status.in_(olds))
        .values(status=status, **values))
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def cancel_recipients(s: AsyncSession, mailing_id: int) -> int:
    result = await s.execute(
        update(MailingRecipient)
        .where(MailingRecipient.mailing_id == mailing_id, MailingRecipient.status == "pending")
        .values(status="cancelled"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def status_counts(s: AsyncSession, mailing_id: int) -> dict[str, int]:
    rows = await s.execute(
        select(MailingRecipient.status, func.count())
        .where(MailingRecipient.mailing_id == mailing_id)
        .group_by(MailingRecipient.status))
    return {str(st): int(n) for st, n in rows.all()}


async def failure_reasons(s: AsyncSession, mailing_id: int) -> dict[str, int]:
    rows = await s.execute(
        select(MailingRecipient.error, func.count())
        .where(MailingRecipient.mailing_id == mailing_id, MailingRecipient.status == "failed")
        .group_by(MailingRecipient.error))
    return {str(e or "?"): int(n) for e, n in rows.all()}


def outbox_prefix(mailing_id: int) -> str:
    return f"mailing:{mailing_id}:"


async def move_pending(s: AsyncSession, mailing_id: int, due_at: datetime) -> int:
    """The mailing's queued Telegram messages: due at `due_at` (far ahead: paused)."""
    result = await s.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "pending",
               OutboxMessage.idempotency_key.startswith(outbox_prefix(mailing_id),
                                                        autoescape=True))
        .values(due_at=due_at))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def spread_pending(s: AsyncSession, mailing_id: int, kind: str, start: datetime,
                         per_minute: int) -> None:
    """The mailing's queued rows of this kind: `per_minute` of them due each minute from
    `start` (e-mails, at their rate)."""
    from datetime import timedelta

    ids = list(await s.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.kind == kind,
               OutboxMessage.idempotency_key.startswith(outbox_prefix(mailing_id),
                                                        autoescape=True))
        .order_by(OutboxMessage.id)))
    for minute, i in enumerate(range(0, len(ids), per_minute)):
        await s.execute(update(OutboxMessage)
                        .where(OutboxMessage.id.in_(ids[i:i + per_minute]))
                        .values(due_at=start + timedelta(minutes=minute)))


async def cancel_pending(s: AsyncSession, mailing_id: int, reason: str) -> int:
    result = await s.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == "pending",
               OutboxMessage.idempotency_key.startswith(outbox_prefix(mailing_id),
                                                        autoescape=True))
        .values(status="cancelled", last_error=reason))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def unsubscribed_since(s: AsyncSession, channel_ids: Sequence[int],
                             since: datetime) -> set[int]:
    found: set[int] = set()
    ids = list(channel_ids)
    for i in range(0, len(ids), _CHUNK):
        rows = await s.scalars(
            select(ClientChannel.id).where(ClientChannel.id.in_(ids[i:i + _CHUNK]),
                                           ClientChannel.consent == "unsubscribed",
                                           ClientChannel.consent_at >= since))
        found.update(int(x) for x in rows if x is not None)
    return found


async def replied_chats(s: AsyncSession, client_ids: Sequence[int], event: str,
                        since: datetime, until: datetime) -> set[int]:
    """Telegram chats of these clients that wrote to us between `since` and `until`."""
    found: set[int] = set()
    ids = list(dict.fromkeys(client_ids))
    for i in range(0, len(ids), _CHUNK):
        rows = await s.scalars(
            select(Activity.tg_chat_id).where(
                Activity.client_id.in_(ids[i:i + _CHUNK]), Activity.event == event,
                Activity.occurred_at >= since, Activity.occurred_at < until,
                Activity.tg_chat_id.is_not(None)).distinct())
        found.update(int(x) for x in rows if x is not None)
    return found


@dataclass(frozen=True, slots=True)
class EmailTarget:
    client_id: int
    client_unsubscribed: bool
    contact_id: int | None  # None: the client has no contact person
    email: str | None
    name: str  # the contact person's, else the client's
    manager: str | None


async def email_targets(s: AsyncSession, client_ids: Sequence[int]) -> list[EmailTarget]:
    """Every client of the list with each of its contact persons (a client with none
    appears once, contact None)."""
    out: list[EmailTarget] = []
    ids = list(client_ids)
    for i in range(0, len(ids), _CHUNK):
        rows = await s.execute(
            select(Client.id, Client.unsubscribed, Client.name, User.name,
                   ContactPerson.id, ContactPerson.email, ContactPerson.name)
            .outerjoin(User, User.id == Client.owner_id)
            .outerjoin(ContactPerson, ContactPerson.client_id == Client.id)
            .where(Client.id.in_(ids[i:i + _CHUNK]), Client.is_deleted.is_(False))
            .order_by(Client.id, ContactPerson.id))
        for cid, unsub, cname, manager, pid, email, pname in rows.all():
            out.append(EmailTarget(int(cid), bool(unsub), pid, (email or "").strip() or None,
                                   pname or cname, manager))
    return out


async def email_unsubscribed_since(s: AsyncSession, contact_ids: Sequence[int],
                                   since: datetime) -> dict[int, str]:
    """Contact persons whose address was unsubscribed at `since` or later: id → address."""
    from storage.models import EmailConsent

    found: dict[int, str] = {}
    ids = list(dict.fromkeys(contact_ids))
    for i in range(0, len(ids), _CHUNK):
        rows = await s.execute(
            select(EmailConsent.contact_id, EmailConsent.email)
            .where(EmailConsent.contact_id.in_(ids[i:i + _CHUNK]),
                   EmailConsent.state == "unsubscribed", EmailConsent.state_at >= since))
        found.update({int(c): str(e) for c, e in rows.all()})
    return found
