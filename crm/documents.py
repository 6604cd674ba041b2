"""The library of standard documents (price list, presentation, demo materials) and sending
one to a client from the card.

Marketers and admins keep the library: a document is uploaded to the bot once and kept as
Telegram's file id (to send it in Telegram) and its bytes (to attach them to an e-mail); a
new upload under the same name is a new version, and the name points to the newest. A
hidden document is not offered any more; its versions stay for the history.

Whoever may change a client (its manager, their head, an admin) sends a document to a
contact of the client: to a linked Telegram that is subscribed, or by e-mail to a contact
person whose address has not unsubscribed or bounced (when e-mail is configured). The
history gets an outgoing record "Sent: <name>".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm.access import can_change, require
from crm.clients import load_visible
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable, valid_id
from crm.mail import SUBSCRIBED, MailFailed, MailService, build_message
from crm.roles import Role
from storage.db import Database
from storage.models import Document, DocumentVersion
from storage.repo import channel as channel_repo
from storage.repo import documents as repo
from storage.repo import people as people_repo

DOCUMENT_SENT = "document_sent"  # the history event
TELEGRAM, EMAIL = "telegram", "email"
# Telegram lets a bot download files up to 20 MB; e-mail servers rarely take more either.
MAX_BYTES = 20 * 1024 * 1024
MAX_DOCUMENTS = 100


def can_manage_documents(actor: Actor) -> bool:
    return actor.role in (Role.ADMIN, Role.MARKETER)


@dataclass(frozen=True, slots=True)
class Upload:
    kind: str  # document | photo
    tg_file_id: str
    file_name: str
    mime_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: int
    name: str
    hidden: bool
    version: int
    kind: str
    file_name: str
    size: int
    uploaded_at: datetime
    uploaded_by: str | None


@dataclass(frozen=True, slots=True)
class DocumentFile:
    """The newest version of a document, to be sent."""

    id: int
    version_id: int
    name: str
    version: int
    kind: str
    tg_file_id: str
    file_name: str
    mime_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Target:
    """Where a document can go: a linked Telegram (id: the channel) or a contact person's
    address (id: the contact)."""

    channel: str  # telegram | email
    id: int
    name: str
    address: str | None = None  # the e-mail address
    chat_id: int | None = None  # the Telegram chat


@dataclass(frozen=True, slots=True)
class Targets:
    client_id: int
    client_name: str
    targets: list[Target]
    # Contact persons with an address that e-mail would reach were it configured.
    email_not_configured: bool


@dataclass(frozen=True, slots=True)
class Sent:
    activity_id: int
    client_id: int
    client_name: str
    name: str  # the document's
    to: str


def _name(value: str) -> str:
    name = " ".join(value.split())
    if not 1 <= len(name) <= 200:
        raise InvalidInput("document_name")
    return name


def _check(upload: Upload) -> None:
    if not upload.content or len(upload.content) > MAX_BYTES:
        raise InvalidInput("document_size")


class DocumentService:
    def __init__(self, db: Database, clock: Clock, mail: MailService) -> None:
        self.db = db
        self.clock = clock
        self.mail = mail

    # --- the library --------------------------------------------------------------------

    async def library(self, actor: Actor) -> list[DocumentInfo]:
        """Marketers and admins see the hidden ones too; everyone else what may be sent."""
        manage = can_manage_documents(actor)
        async with self.db.transaction() as s:
            rows = await repo.documents_with_latest(s, include_hidden=manage)
            return [self._info(d, v, who) for d, v, who in rows]

    async def get(self, actor: Actor, document_id: int) -> DocumentInfo:
        require(can_manage_documents(actor))
        async with self.db.transaction() as s:
            found = await repo.document_with_latest(s, valid_id(document_id))
            if found is None:
                raise NotAvailable()
            return self._info(*found)

    @staticmethod
    def _info(d: Document, v: DocumentVersion, who: str | None) -> DocumentInfo:
        return DocumentInfo(d.id, d.name, d.hidden, v.version, v.kind, v.file_name, v.size,
                            v.uploaded_at, who)

    async def add(self, actor: Actor, name: str, upload: Upload) -> DocumentInfo:
        require(can_manage_documents(actor))
        name = _name(name)
        _check(upload)
        now = self.clock.now()
        async with self.db.transaction() as s:
            if await repo.count(s) >= MAX_DOCUMENTS:
                raise InvalidInput("too_many_documents")
            doc = Document(name=name, hidden=False, created_by_id=actor.id, created_at=now,
                           updated_at=now)
            s.add(doc)
            await s.flush()
            version = self._version(doc.id, 1, actor, upload, now)
            s.add(version)
            await s.flush()
            people_repo.audit(s, actor.id, "document.add", "document", doc.id,
                              {"name": name, "size": len(upload.content)}, now)
            return self._info(doc, version, actor.name)

    @staticmethod
    def _version(doc_id: int, number: int, actor: Actor, upload: Upload,
                 now: datetime) -> DocumentVersion:
        return DocumentVersion(
            document_id=doc_id, version=number, kind=upload.kind, tg_file_id=upload.tg_file_id,
            file_name=upload.file_name[:255] or "file", mime_type=upload.mime_type[:100],
            size=len(upload.content), content=upload.content, uploaded_by_id=actor.id,
            uploaded_at=now)

    async def replace(self, actor: Actor, document_id: int, upload: Upload) -> DocumentInfo:
        """A new version; the old ones stay (records of the history point to them)."""
        require(can_manage_documents(actor))
        _check(upload)
        now = self.clock.now()
        async with self.db.transaction() as s:
            doc = await repo.document(s, valid_id(document_id), lock=True)
            if doc is None:
                raise NotAvailable()
            number = await repo.latest_version_number(s, doc.id) + 1
            version = self._version(doc.id, number, actor, upload, now)
            s.add(version)
            doc.updated_at = now
            await s.flush()
            people_repo.audit(s, actor.id, "document.replace", "document", doc.id,
                              {"version": number, "size": len(upload.content)}, now)
            return self._info(doc, version, actor.name)

    async def rename(self, actor: Actor, document_id: int, name: str) -> DocumentInfo:
        require(can_manage_documents(actor))
        name = _name(name)
        now = self.clock.now()
        async with self.db.transaction() as s:
            doc = await repo.document(s, valid_id(document_id))
            if doc is None:
                raise NotAvailable()
            old, doc.name, doc.updated_at = doc.name, name, now
            people_repo.audit(s, actor.id, "document.rename", "document", doc.id,
                              {"from": old, "to": name}, now)
            found = await repo.document_with_latest(s, doc.id)
            assert found is not None
            return self._info(*found)

    async def set_hidden(self, actor: Actor, document_id: int, hidden: bool) -> DocumentInfo:
        require(can_manage_documents(actor))
        now = self.clock.now()
        async with self.db.transaction() as s:
            doc = await repo.document(s, valid_id(document_id))
            if doc is None:
                raise NotAvailable()
            if doc.hidden != hidden:
                doc.hidden = hidden
                people_repo.audit(s, actor.id, "document.hide" if hidden else "document.show",
                                  "document", doc.id, {}, now)
            found = await repo.document_with_latest(s, doc.id)
            assert found is not None
            return self._info(*found)

    # --- sending from the card ----------------------------------------------------------

    async def targets(self, actor: Actor, client_id: int) -> Targets:
        """Where a document may go now: subscribed Telegram contacts, then e-mail addresses
        that neither unsubscribed nor bounced (only when e-mail is configured)."""
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            require(can_change(actor, own))
            channels = await channel_repo.channels_of(s, client.id)
            names = await channel_repo.contact_names(
                s, {c.contact_id for c in channels if c.contact_id is not None})
            out = [Target(TELEGRAM, c.id, names.get(c.contact_id or 0, client.name),
                          chat_id=c.tg_id)
                   for c in channels if c.consent == SUBSCRIBED]
            client_id, client_name = client.id, client.name
        emails = [t for t in await self.mail.targets(client_id) if t.state == SUBSCRIBED]
        configured = self.mail.configured
        if configured:
            out += [Target(EMAIL, t.contact_id, t.name, address=t.email) for t in emails]
        return Targets(client_id, client_name, out, bool(emails) and not configured)

    async def target(self, actor: Actor, client_id: int, channel: str, target_id: int
                     ) -> Target:
        """One of `targets()`, checked again now (consent may have changed)."""
        found = await self.targets(actor, client_id)
        for t in found.targets:
            if t.channel == channel and t.id == target_id:
                return t
        raise Conflict("target_gone")

    async def file(self, actor: Actor, document_id: int) -> DocumentFile:
        """The newest version of a document that may be sent (not hidden)."""
        async with self.db.transaction() as s:
            found = await repo.document_with_latest(s, valid_id(document_id))
            if found is None or found[0].hidden:
                raise NotAvailable()
            d, v, _who = found
            return DocumentFile(d.id, v.id, d.name, v.version, v.kind, v.tg_file_id,
                                v.file_name, v.mime_type, v.content)

    async def record_sent(
        self, actor: Actor, client_id: int, doc: DocumentFile, target: Target,
        comment: str | None, *, tg_chat_id: int | None = None,
        tg_message_id: int | None = None,
    ) -> Sent:
        """The outgoing history record; rights checked again. A Telegram message already
        written (the same update twice) is a Conflict."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            require(can_change(actor, own))
            details: dict[str, Any] = {
                "document_id": doc.id, "version": doc.version, "name": doc.name,
                "channel": target.channel, "to": target.name}
            if target.address:
                details["address"] = target.address
            if target.channel == TELEGRAM:
                details["channel_id"] = target.id
            else:
                details["contact_id"] = target.id
            activity_id = await channel_repo.insert_message(s, {
                "client_id": client.id, "author_id": actor.id, "event": DOCUMENT_SENT,
                "text": comment or None, "details": details,
                "attachment_kind": doc.kind, "attachment_ref": doc.tg_file_id,
                "occurred_at": now, "created_at": now,
                "tg_chat_id": tg_chat_id, "tg_message_id": tg_message_id,
            })
            if activity_id is None:
                raise Conflict("already_sent")
            people_repo.audit(s, actor.id, "document.send", "client", client.id,
                              {"document_id": doc.id, "version": doc.version,
                               "channel": target.channel, "activity_id": activity_id}, now)
            return Sent(activity_id, client.id, client.name, doc.name, target.name)

    async def send_email(
        self, actor: Actor, client_id: int, document_id: int, contact_id: int,
        subject: str, text: str, comment: str | None,
    ) -> Sent:
        """Mail the document's newest version to a contact person, then record it. A
        refused address is marked bounced; MailFailed goes to the caller either way."""
        target = await self.target(actor, client_id, EMAIL, contact_id)
        doc = await self.file(actor, document_id)
        mailto, url = await self.mail.unsubscribe_links(contact_id)
        assert target.address is not None
        sender = self.mail.config.smtp_from or ""
        message = build_message(
            sender=sender, to=target.address, to_name=target.name, subject=subject,
            text=text, attachment=(doc.file_name, doc.content, doc.mime_type),
            unsubscribe_mailto=mailto, unsubscribe_url=url)
        try:
            # The manager waits in the chat: two attempts, not a mailing's patience.
            await self.mail.sender.send(message, attempts=min(self.mail.config.attempts, 2))
        except MailFailed as err:
            if err.refused:
                await self.mail.mark_bounced(contact_id, target.address, err.reason)
            raise
        return await self.record_sent(actor, client_id, doc, target, comment)
