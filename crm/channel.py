"""The client's own channel: a personal deep link connects a client's Telegram to one of
its contact persons; what they write comes into the history and to their manager; the
manager's reply goes back; `/stop` records that they want no more from us.

Decisions:
* a link is used once; a new link for the same contact revokes its unused predecessor;
* a Telegram user already linked who opens another contact's link is *relinked* to it
  (the link was given to them on purpose; the old contact keeps its history);
* opening a link (or /start again) is consent: the contact is subscribed again;
* staff opening a client link change nothing;
* a message goes to the client's manager, or — manager on vacation, inactive, unreachable
  or none — to the heads of the manager's team, else to the admins.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from crm.access import can_change, require
from crm.clients import load_visible
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.errors import Conflict, NotAvailable, valid_id
from crm.outbox import OutboxItem
from crm.reminders import Recipient, Skip, recipient
from storage.db import Database
from storage.models import ClientChannel, ClientLink, User
from storage.repo import channel as repo
from storage.repo import clients as clients_repo
from storage.repo import notify as notify_repo
from storage.repo import outbox as outbox_repo
from storage.repo import people as people_repo

SUBSCRIBED, UNSUBSCRIBED, BLOCKED = "subscribed", "unsubscribed", "blocked"
# History events and the outbox kind of a client's message pushed to staff.
CLIENT_MESSAGE, CLIENT_REPLY = "client_message", "client_reply"
# 24 random bytes: 32 url-safe characters, inside Telegram's 64 for a start parameter.
TOKEN_BYTES = 24


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def client_locale(language_code: str | None, default: str) -> str:
    if not language_code:
        return default
    lang = language_code.split("-")[0].lower()
    if lang in ("ru", "uk", "be", "kk", "uz", "ky", "tg", "hy", "az"):
        return "ru"
    return "en"


def client_message_key(activity_id: int, user_id: int) -> str:
    return f"client_msg:{activity_id}:{user_id}"


@dataclass(frozen=True, slots=True)
class LinkTarget:
    contact_id: int | None  # None: the client itself (it has no contact persons)
    name: str


@dataclass(frozen=True, slots=True)
class NewLink:
    id: int
    token: str
    client_id: int
    name: str


@dataclass(frozen=True, slots=True)
class LinkedClient:
    """A linked client's Telegram, as the bot sees it on every update."""

    channel_id: int
    client_id: int
    contact_id: int | None
    locale: str
    consent: str


@dataclass(frozen=True, slots=True)
class Greeting:
    company: str | None  # None: the bot's own name is used
    manager: str | None
    name: str
    locale: str


@dataclass(frozen=True, slots=True)
class OpenResult:
    """linked | relinked | again | used | revoked | staff."""

    outcome: str
    greeting: Greeting | None = None


@dataclass(frozen=True, slots=True)
class ClientMessageView:
    recipient: Recipient
    client_id: int
    client_name: str
    name: str  # the contact person's (or the client's)
    channel_id: int
    text: str | None
    kind: str | None
    file_id: str | None
    manager: str | None  # set when it reached someone else than the manager


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    channel_id: int
    chat_id: int
    client_id: int
    name: str
    client_name: str


def _linked(ch: ClientChannel) -> LinkedClient:
    return LinkedClient(ch.id, ch.client_id, ch.contact_id, ch.locale, ch.consent)


class ChannelService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    # --- staff: links -----------------------------------------------------------------

    async def link_targets(self, actor: Actor, client_id: int) -> tuple[str, list[LinkTarget]]:
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            require(can_change(actor, own))
            contacts = await clients_repo.contacts_of(s, client.id)
            if not contacts:
                return client.name, [LinkTarget(None, client.name)]
            return client.name, [LinkTarget(c.id, c.name) for c in contacts]

    async def create_link(
        self, actor: Actor, client_id: int, contact_id: int | None
    ) -> NewLink:
        now = self.clock.now()
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            require(can_change(actor, own))
            name = client.name
            if contact_id is not None:
                person = await repo.contact(s, valid_id(contact_id))
                if person is None or person.client_id != client.id:
                    raise NotAvailable()
                name = person.name
            await repo.revoke_live_links(s, client.id, contact_id, now)
            token = secrets.token_urlsafe(TOKEN_BYTES)
            row = ClientLink(token_hash=hash_token(token), client_id=client.id,
                             contact_id=contact_id, created_by_id=actor.id, created_at=now)
            s.add(row)
            await s.flush()
            people_repo.audit(s, actor.id, "client_link.create", "client", client.id,
                              {"link_id": row.id, "contact_id": contact_id}, now)
            return NewLink(row.id, token, client.id, name)

    async def revoke_link(self, actor: Actor, link_id: int) -> bool:
        """False: it was used or revoked already (nothing changes)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await repo.link(s, valid_id(link_id))
            if row is None:
                raise NotAvailable()
            _client, own = await load_visible(s, actor, row.client_id)
            require(can_change(actor, own))
            if row.used_at is not None or row.revoked_at is not None:
                return False
            row.revoked_at = now
            people_repo.audit(s, actor.id, "client_link.revoke", "client", row.client_id,
                              {"link_id": row.id}, now)
            return True

    # --- the client's side --------------------------------------------------------------

    async def identify(self, tg_id: int) -> LinkedClient | None:
        async with self.db.transaction() as s:
            ch = await repo.channel_by_tg(s, tg_id)
            return _linked(ch) if ch is not None else None

    async def is_client_link(self, token: str) -> bool:
        async with self.db.transaction() as s:
            return await repo.link_by_hash(s, hash_token(token)) is not None

    async def open_link(
        self, tg_id: int, name: str, username: str | None, language_code: str | None,
        token: str, *, staff: bool,
    ) -> OpenResult | None:
        """None: not a client link (maybe an invitation)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            link = await repo.link_by_hash(s, hash_token(token))
            if link is None:
                return None
            if staff:
                return OpenResult("staff")
            ch = await repo.channel_by_tg(s, tg_id)
            if link.used_at is not None:
                mine = (link.used_by_tg_id == tg_id and ch is not None
                        and ch.client_id == link.client_id and ch.contact_id == link.contact_id)
                if not mine:
                    return OpenResult("used")
                assert ch is not None
                return OpenResult("again", await self._greeting(s, ch))
            if link.revoked_at is not None:
                return OpenResult("revoked")
            link.used_at = now
            link.used_by_tg_id = tg_id
            locale = client_locale(language_code, self.config.default_locale)
            outcome = "linked"
            if ch is None:
                ch = ClientChannel(tg_id=tg_id, client_id=link.client_id,
                                   contact_id=link.contact_id, tg_name=name[:200],
                                   tg_username=username, locale=locale, consent=SUBSCRIBED,
                                   consent_at=now, linked_at=now)
                s.add(ch)
                await s.flush()
            else:
                outcome = "relinked"
                ch.client_id, ch.contact_id = link.client_id, link.contact_id
                ch.tg_name, ch.tg_username, ch.locale = name[:200], username, locale
                ch.consent, ch.consent_at, ch.linked_at = SUBSCRIBED, now, now
            people_repo.audit(s, None, f"client_link.{outcome}", "client", link.client_id,
                              {"link_id": link.id, "channel_id": ch.id, "tg_id": tg_id}, now)
            return OpenResult(outcome, await self._greeting(s, ch))

    async def restart(self, tg_id: int) -> Greeting | None:
        """/start without a link from a linked client: the greeting again, and subscribed."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            ch = await repo.channel_by_tg(s, tg_id)
            if ch is None:
                return None
            if ch.consent != SUBSCRIBED:
                ch.consent, ch.consent_at = SUBSCRIBED, now
                people_repo.audit(s, None, "client_channel.subscribe", "client", ch.client_id,
                                  {"channel_id": ch.id}, now)
            return await self._greeting(s, ch)

    async def _greeting(self, s: Any, ch: ClientChannel) -> Greeting:
        client, _team = await clients_repo.client_with_team(s, ch.client_id)
        manager = await people_repo.user_by_id(s, client.owner_id) if client.owner_id else None
        name = client.name
        if ch.contact_id is not None:
            person = await repo.contact(s, ch.contact_id)
            name = person.name if person is not None else name
        return Greeting(self.config.company_name, manager.name if manager else None, name,
                        ch.locale)

    async def stop(self, tg_id: int) -> LinkedClient | None:
        """Unsubscribed, with the time; once (a second /stop keeps the first time)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            ch = await repo.channel_by_tg(s, tg_id)
            if ch is None:
                return None
            if ch.consent != UNSUBSCRIBED:
                ch.consent, ch.consent_at = UNSUBSCRIBED, now
                people_repo.audit(s, None, "client_channel.unsubscribe", "client",
                                  ch.client_id, {"channel_id": ch.id}, now)
            return _linked(ch)

    async def incoming(
        self, tg_id: int, chat_id: int, message_id: int, text: str | None,
        kind: str | None, file_id: str | None,
    ) -> int | None:
        """Write a linked client's message into the history and push it to staff, in one
        transaction; None when this message was written before (a resent update)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            ch = await repo.channel_by_tg(s, tg_id)
            if ch is None:
                return None
            activity_id = await repo.insert_message(s, {
                "client_id": ch.client_id, "author_id": None, "event": CLIENT_MESSAGE,
                "text": text, "details": {"channel_id": ch.id, "contact_id": ch.contact_id,
                                          "from": ch.tg_name},
                "attachment_kind": kind, "attachment_ref": file_id,
                "occurred_at": now, "created_at": now,
                "tg_chat_id": chat_id, "tg_message_id": message_id,
            })
            if activity_id is None:
                return None
            client, _team = await clients_repo.client_with_team(s, ch.client_id)
            people, redirected = await self._recipients(s, client.owner_id)
            rows = [{
                "idempotency_key": client_message_key(activity_id, u.id),
                "kind": CLIENT_MESSAGE, "user_id": u.id, "chat_id": u.tg_id,
                "payload": {"activity_id": activity_id, "channel_id": ch.id,
                            "redirected": redirected, "fire_at": now.isoformat(),
                            "late": False},
                "due_at": now, "created_at": now, "claimed_at": None, "sent_at": None,
                "tg_message_id": None,
            } for u in people]
            if rows:
                await outbox_repo.insert_if_absent(s, rows)
            return activity_id

    async def _recipients(self, s: Any, owner_id: int | None) -> tuple[list[User], bool]:
        def ok(u: User | None) -> bool:
            return u is not None and u.is_active and not u.on_vacation and not u.unreachable

        owner = await people_repo.user_by_id(s, owner_id) if owner_id else None
        if owner is not None and ok(owner):
            return [owner], False
        if owner is not None and owner.team_id is not None:
            heads = [h for h in await notify_repo.heads_of_team(s, owner.team_id)
                     if h.id != owner.id and ok(h)]
            if heads:
                return heads, True
        admins = [a for a in await notify_repo.active_admins(s) if ok(a)]
        return admins, True

    async def message_view(self, item: OutboxItem) -> ClientMessageView | Skip:
        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if user is None or not user.is_active or user.unreachable:
                return Skip("user inactive")
            act = await repo.activity(s, int(item.payload.get("activity_id", 0)))
            ch = await repo.channel(s, int(item.payload.get("channel_id", 0)))
            if act is None or ch is None:
                return Skip("message gone")
            try:
                client, _team = await clients_repo.client_with_team(s, act.client_id)
            except LookupError:
                return Skip("client deleted")
            name = client.name
            if ch.contact_id is not None:
                person = await repo.contact(s, ch.contact_id)
                name = person.name if person is not None else name
            manager = None
            if item.payload.get("redirected"):
                owner = await people_repo.user_by_id(s, client.owner_id) \
                    if client.owner_id else None
                manager = owner.name if owner is not None else "—"
            return ClientMessageView(
                recipient(user, self.config.default_locale), client.id, client.name, name,
                ch.id, act.text, act.attachment_kind, act.attachment_ref, manager)

    # --- staff: replies -----------------------------------------------------------------

    async def reply_target(self, actor: Actor, channel_id: int) -> ReplyTarget:
        async with self.db.transaction() as s:
            ch = await repo.channel(s, valid_id(channel_id))
            if ch is None:
                raise NotAvailable()
            client, own = await load_visible(s, actor, ch.client_id)
            require(can_change(actor, own))
            name = client.name
            if ch.contact_id is not None:
                person = await repo.contact(s, ch.contact_id)
                name = person.name if person is not None else name
            return ReplyTarget(ch.id, ch.tg_id, client.id, name, client.name)

    async def record_reply(
        self, actor: Actor, channel_id: int, text: str, tg_message_id: int
    ) -> int:
        """The reply went out: an outgoing record of the history (rights checked again)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            ch = await repo.channel(s, valid_id(channel_id))
            if ch is None:
                raise NotAvailable()
            _client, own = await load_visible(s, actor, ch.client_id)
            require(can_change(actor, own))
            activity_id = await repo.insert_message(s, {
                "client_id": ch.client_id, "author_id": actor.id, "event": CLIENT_REPLY,
                "text": text, "details": {"channel_id": ch.id, "contact_id": ch.contact_id},
                "occurred_at": now, "created_at": now,
                "tg_chat_id": ch.tg_id, "tg_message_id": tg_message_id,
            })
            if activity_id is None:
                raise Conflict("already_sent")
            people_repo.audit(s, actor.id, "client_channel.reply", "client", ch.client_id,
                              {"channel_id": ch.id, "activity_id": activity_id}, now)
            return activity_id

    async def mark_blocked(self, channel_id: int) -> None:
        """Telegram said 403: the client blocked the bot."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            ch = await repo.channel(s, channel_id)
            if ch is not None and ch.consent != BLOCKED:
                ch.consent, ch.consent_at = BLOCKED, now
                people_repo.audit(s, None, "client_channel.blocked", "client", ch.client_id,
                                  {"channel_id": ch.id}, now)
