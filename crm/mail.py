"""E-mail: a MIME message (UTF-8 subject and names, an attachment under its own file name,
`List-Unsubscribe` per RFC 2369 and one-click per RFC 8058), sent through SMTP with
aiosmtplib; and the e-mail consent of contact persons (unsubscribed, bounced).

Failures:
* a refused recipient (5xx to RCPT) is permanent at once: `MailFailed(permanent=True,
  refused=True)`; the caller marks the address bounced (`MailService.mark_bounced`);
* anything temporary (connection refused or dropped, a timeout, a 4xx) is tried again after
  `backoff` seconds, doubled each time, `attempts` times in all; then `MailFailed(reason,
  permanent=False)` — the caller keeps the job for later, nothing is lost;
* any other 5xx (the sender or the message refused, wrong credentials) is permanent too, but
  says nothing about the recipient's address.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any, Protocol
from urllib.parse import quote

import aiosmtplib

from crm.clock import Clock
from crm.config import MailConfig
from storage.db import Database
from storage.models import ContactPerson, EmailConsent
from storage.repo import mail as repo
from storage.repo import people as people_repo

SUBSCRIBED, UNSUBSCRIBED, BOUNCED = "subscribed", "unsubscribed", "bounced"
TOKEN_BYTES = 24
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class HasSmtp(Protocol):
    @property
    def smtp_host(self) -> str | None: ...

    @property
    def smtp_from(self) -> str | None: ...


def mail_configured(settings: HasSmtp) -> bool:
    """SMTP_HOST and SMTP_FROM set (the settings or a MailConfig): e-mail can be offered."""
    return bool(settings.smtp_host) and bool(settings.smtp_from)


class MailFailed(Exception):
    """The e-mail was not sent. `permanent`: trying again will not help; `refused`: the
    server refused the recipient's address (it bounced)."""

    def __init__(self, reason: str, permanent: bool, *, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.refused = refused


def _mailto(value: str) -> str:
    if value.startswith("mailto:"):
        return value
    addr = getaddresses([value])[0][1] or value
    return f"mailto:{addr}"


def unsubscribe_footer(mailto: str | None, url: str | None) -> str:
    """The body's last line, in Russian and English (a client's language is not known):
    the https link, else the mailto link (its subject carries the contact's token; mail
    programs open it as a new message)."""
    return f"Отписаться от рассылки / Unsubscribe: {url or mailto or ''}"


def build_message(
    *, sender: str, to: str, to_name: str | None, subject: str, text: str,
    html: str | None = None, attachment: tuple[str, bytes, str] | None = None,
    unsubscribe_mailto: str | None = None, unsubscribe_url: str | None = None,
    footer: str | None = None,
) -> EmailMessage:
    """One e-mail to one person. `attachment` is (file name, bytes, MIME type);
    `unsubscribe_mailto` an address or a mailto: URI (a `?subject=` with the contact's token
    is added by `MailService.unsubscribe_links`); `unsubscribe_url` the https one-click link.
    `footer` replaces the default unsubscribe line of the body."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = Address(display_name=to_name or "", addr_spec=to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = (getaddresses([sender])[0][1] or "localhost").rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    targets = []
    if unsubscribe_mailto:
        targets.append(f"<{_mailto(unsubscribe_mailto)}>")
    if unsubscribe_url:
        targets.append(f"<{unsubscribe_url}>")
    line = None
    if targets:
        msg["List-Unsubscribe"] = ", ".join(targets)
        line = footer or unsubscribe_footer(
            _mailto(unsubscribe_mailto) if unsubscribe_mailto else None, unsubscribe_url)
    if unsubscribe_url:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    body = text.rstrip("\n") + (f"\n\n-- \n{line}\n" if line else "\n")
    msg.set_content(body, charset="utf-8")
    if html is not None:
        from html import escape

        tail = f"<hr><p style=\"font-size:small\">{escape(line)}</p>" if line else ""
        msg.add_alternative(f"<html><body>{html}{tail}</body></html>", subtype="html",
                            charset="utf-8")
    if attachment is not None:
        name, data, mime = attachment
        maintype, _sep, subtype = (mime or "application/octet-stream").partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=name)
    return msg


Sleep = Callable[[float], Awaitable[Any]]


class MailSender:
    """Sends through the configured SMTP server, at most `rate_per_minute` e-mails a minute
    from this process, with retries on temporary failures (see the module's docstring).
    `sleep` and `monotonic` are injected so tests need not wait."""

    def __init__(self, config: MailConfig, *, sleep: Sleep = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._next_at = 0.0

    @property
    def configured(self) -> bool:
        return mail_configured(self.config)

    async def pace(self) -> None:
        """Wait for this process's next e-mail slot (the rate setting); `send(paced=True)`
        then sends at once — a mailing marks its recipient in between."""
        await self._pace()

    async def _pace(self) -> None:
        interval = 60.0 / self.config.rate_per_minute
        async with self._lock:
            now = self._monotonic()
            wait = self._next_at - now
            self._next_at = max(now, self._next_at) + interval
        if wait > 0:
            await self._sleep(wait)

    async def _send_once(self, message: EmailMessage) -> None:
        c = self.config
        tls = c.smtp_tls if c.smtp_tls in DEFAULT_PORTS else "starttls"
        await aiosmtplib.send(
            message, hostname=c.smtp_host, port=c.smtp_port or DEFAULT_PORTS[tls],
            username=c.smtp_user or None, password=c.smtp_password or None,
            use_tls=tls == "ssl", start_tls=tls == "starttls", timeout=c.timeout,
        )

    async def send(self, message: EmailMessage, *, attempts: int | None = None,
                   paced: bool = False) -> None:
        """Send, or raise MailFailed. `attempts` overrides the configured number (a person
        waiting in the chat gets fewer than a mailing in the background); `paced`: the
        first attempt's slot was taken already (`pace`)."""
        if not self.configured:
            raise MailFailed("e-mail is not configured (SMTP_HOST, SMTP_FROM)", permanent=True)
        delay = self.config.backoff
        reason = ""
        tries = max(attempts if attempts is not None else self.config.attempts, 1)
        for attempt in range(1, tries + 1):
            if attempt > 1 or not paced:
                await self._pace()
            try:
                await self._send_once(message)
                return
            except aiosmtplib.SMTPRecipientsRefused as err:
                refused = err.recipients
                reason = "; ".join(f"{r.code} {r.message}" for r in refused) or str(err)
                if not refused or any(r.code >= 500 for r in refused):
                    raise MailFailed(reason, permanent=True, refused=True) from err
            except aiosmtplib.SMTPResponseException as err:
                reason = f"{err.code} {err.message}"
                if not 400 <= err.code < 500:
                    raise MailFailed(reason, permanent=True,
                                     refused=isinstance(err, aiosmtplib.SMTPRecipientRefused)
                                     ) from err
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as err:
                reason = str(err) or type(err).__name__
            if attempt < tries:
                await self._sleep(delay)
                delay *= 2
        raise MailFailed(reason, permanent=False)


# --- consent -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailTarget:
    """A contact person's address and whether mail may go there."""

    contact_id: int
    client_id: int
    name: str
    email: str
    state: str  # subscribed | unsubscribed | bounced


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    email: str
    already: bool  # it was unsubscribed before this


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def state_of(person: ContactPerson, row: EmailConsent | None) -> str:
    return consent_state(person.email, row.email if row else None, row.state if row else None)


def consent_state(email: str | None, consent_email: str | None, state: str | None) -> str:
    """The state of a contact's address, given its consent row's address and state."""
    if state is None or consent_email is None or not email or not _same(consent_email, email):
        return SUBSCRIBED  # a new address starts afresh
    return state


class MailService:
    """The e-mail side of the CRM: the sender, the contacts' consent and the unsubscribe
    links. `crm.mail.email_unsubscribe(token)` is what the link and the mailbox call."""

    def __init__(self, db: Database, clock: Clock, config: MailConfig,
                 sender: MailSender | None = None) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.sender = sender or MailSender(config)

    @property
    def configured(self) -> bool:
        return mail_configured(self.config)

    async def targets(self, client_id: int) -> list[EmailTarget]:
        """The client's contact persons with an address, and their state."""
        async with self.db.transaction() as s:
            people = await repo.contacts_with_email(s, client_id)
            rows = await repo.consents_of(s, [p.id for p in people])
            return [EmailTarget(p.id, p.client_id, p.name, p.email or "",
                                state_of(p, rows.get(p.id))) for p in people]

    async def states(self, contact_ids: list[int]) -> dict[int, EmailTarget]:
        """Many contacts at once (a mailing's audience): those with an address, by id."""
        out: dict[int, EmailTarget] = {}
        async with self.db.transaction() as s:
            for i in range(0, len(contact_ids), 500):
                chunk = contact_ids[i:i + 500]
                people = await repo.contacts_by_ids(s, chunk)
                rows = await repo.consents_of(s, [p.id for p in people])
                for p in people:
                    if p.email:
                        out[p.id] = EmailTarget(p.id, p.client_id, p.name, p.email,
                                                state_of(p, rows.get(p.id)))
        return out

    async def target(self, contact_id: int) -> EmailTarget | None:
        async with self.db.transaction() as s:
            person = await repo.contact(s, contact_id)
            if person is None or not person.email:
                return None
            row = (await repo.consents_of(s, [person.id])).get(person.id)
            return EmailTarget(person.id, person.client_id, person.name, person.email,
                               state_of(person, row))

    async def _row(self, s: Any, person: ContactPerson) -> EmailConsent:
        """The contact's consent row for its current address (made, or reset, on need)."""
        now = self.clock.now()
        row = (await repo.consents_of(s, [person.id])).get(person.id)
        email = person.email or ""
        if row is None:
            row = EmailConsent(contact_id=person.id, client_id=person.client_id, email=email,
                               state=SUBSCRIBED, state_at=now,
                               token=secrets.token_urlsafe(TOKEN_BYTES))
            s.add(row)
            await s.flush()
        elif not _same(row.email, email):
            row.email, row.state, row.reason, row.state_at = email, SUBSCRIBED, None, now
        return row

    async def unsubscribe_links(self, contact_id: int) -> tuple[str | None, str | None]:
        """(mailto URI, https one-click URL or None) for the contact's e-mails; the token is
        the same in both. (None, None): no such contact or no address."""
        async with self.db.transaction() as s:
            person = await repo.contact(s, contact_id)
            if person is None or not person.email:
                return None, None
            token = (await self._row(s, person)).token
        to = self.config.unsubscribe_to or self.config.smtp_from
        mailto = None
        if to:
            addr = getaddresses([to])[0][1] or to
            mailto = f"mailto:{addr}?subject={quote('unsubscribe ' + token)}"
        url = f"{self.config.public_url}/mail/unsubscribe/{token}" \
            if self.config.public_url else None
        return mailto, url

    async def token_address(self, token: str) -> str | None:
        """The address an unsubscribe token stands for; None: no such token."""
        if not token or len(token) > 64:
            return None
        async with self.db.transaction() as s:
            row = await repo.consent_by_token(s, token)
            return row.email if row is not None else None

    async def email_unsubscribe(self, token: str) -> Unsubscribed | None:
        """The unsubscribe link (or a mail to the mailto address) with this token: the
        address is unsubscribed. None: no such token (forged or from a deleted contact)."""
        if not token or len(token) > 64:
            return None
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await repo.consent_by_token(s, token)
            if row is None:
                return None
            already = row.state == UNSUBSCRIBED
            if not already:
                row.state, row.reason, row.state_at = UNSUBSCRIBED, None, now
                people_repo.audit(s, None, "email.unsubscribe", "client", row.client_id,
                                  {"contact_id": row.contact_id}, now)
            return Unsubscribed(row.email, already)

    async def mark_bounced(self, contact_id: int, email: str, reason: str) -> None:
        """The SMTP server refused this address: no more mail to it (until it changes)."""
        async with self.db.transaction() as s:
            person = await repo.contact(s, contact_id)
            if person is None or not person.email or not _same(person.email, email):
                return
            row = await self._row(s, person)
            if row.state != UNSUBSCRIBED:
                now = self.clock.now()
                row.state, row.reason, row.state_at = BOUNCED, reason[:300], now
                people_repo.audit(s, None, "email.bounced", "client", row.client_id,
                                  {"contact_id": row.contact_id, "reason": reason[:300]}, now)
