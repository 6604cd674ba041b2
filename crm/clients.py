"""Clients: finding them, the card, creating with a duplicate check, editing."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import (
    Ownership,
    can_change,
    can_create_clients,
    can_manage_client,
    can_see,
    client_scope,
    require,
)
from crm.classifiers import ClassifierService, Label
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import InvalidInput, NotAvailable, valid_id
from crm.mail import consent_state
from crm.parsing import (
    format_phone,
    normalize_phone,
    parse_probability,
    phone_digits_for_search,
)
from crm.roles import Role
from crm.search_norm import (
    fuzzy_matches_normalized,
    normalize_name_for_dedup,
    normalize_text,
    typo_patterns,
)
from storage.db import Database, Reader
from storage.models import Client, ContactPerson
from storage.repo import classifiers as cls_repo
from storage.repo import clients as repo
from storage.repo import people as people_repo

PAGE = 8
LIST_PAGE = 10
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CARD_CLASSIFIERS = ("region", "industry", "segment", "source", "campaign")


@dataclass(frozen=True, slots=True)
class ClientRef:
    id: int
    name: str
    hint: str = ""


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: str
    items: list[ClientRef]
    page: int
    pages: int
    total: int


class ListFilter(StrEnum):
    """Which of the actor's clients "My clients" lists."""

    ALL = "all"
    STAGE = "stage"  # an open deal at a given stage
    NO_NEXT = "nonext"  # no next contact planned
    OVERDUE = "overdue"  # an invoice past its due date and not paid


@dataclass(frozen=True, slots=True)
class ClientListPage:
    filter: ListFilter
    stage: Label | None
    items: list[ClientRef]
    page: int
    pages: int
    total: int
    # Heads, admins and service see other managers' clients: each shows its manager.
    shows_owner: bool


@dataclass(frozen=True, slots=True)
class ClientSummary:
    """What is shared about a client from inline mode."""

    id: int
    name: str
    phones: list[str]
    emails: list[str]
    address: str | None


@dataclass(frozen=True, slots=True)
class ContactInfo:
    id: int
    name: str
    position: str | None
    phone: str | None
    email: str | None


def _contact_info(c: ContactPerson) -> ContactInfo:
    return ContactInfo(c.id, c.name, c.position, format_phone(c.phone) if c.phone else None,
                       c.email)


@dataclass(frozen=True, slots=True)
class ContactView:
    """A contact person with the client they belong to."""

    contact: ContactInfo
    client_id: int
    client_name: str
    can_change: bool


@dataclass(frozen=True, slots=True)
class DealLine:
    id: int
    title: str
    stage: Label
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class PlannedLine:
    id: int
    due_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A linked Telegram of the client: whose, and whether they hear from us (consent:
    subscribed | unsubscribed | blocked, since `since`)."""

    id: int
    contact_id: int | None
    name: str  # the contact person's name, or the client's when linked to the client itself
    tg_name: str
    consent: str
    since: datetime


@dataclass(frozen=True, slots=True)
class ClientCard:
    id: int
    name: str
    address: str | None
    phones: list[str]
    emails: list[str]
    tax_number: str | None
    classifiers: dict[str, Label]
    trigger_event: str | None
    probability: int | None
    owner_name: str | None
    contacts: list[ContactInfo]
    open_deals: list[DealLine]
    next_contact: PlannedLine | None
    invoiced: Decimal
    paid: Decimal
    overdue: Decimal
    currency: str
    can_change: bool
    created_at: datetime
    # Reassign, merge, archive (heads of its team, admins); an archived card offers restore.
    can_manage: bool = False
    owner_id: int | None = None
    archived: bool = False
    merged_into: ClientRef | None = None
    channels: list[ChannelState] = field(default_factory=list)
    # Contact persons whose e-mail address takes no mail: unsubscribed | bounced.
    email_states: dict[int, str] = field(default_factory=dict)

    @property
    def due(self) -> Decimal:
        return self.invoiced - self.paid


@dataclass(slots=True)
class ClientDraft:
    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    tax_number: str | None = None
    region_id: int | None = None
    industry_id: int | None = None
    segment_id: int | None = None
    source_id: int | None = None
    campaign_id: int | None = None
    trigger_event: str | None = None
    probability: int | None = None
    contact_name: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Duplicate:
    id: int
    name: str
    reason: str  # phone, email, name
    visible: bool


def split_list(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


def add_to_list(stored: str | None, value: str) -> str:
    """Add to a comma-separated column (phones, e-mails) within its 300 characters."""
    values = split_list(stored)
    if value not in values:
        values.append(value)
    joined = ",".join(values)
    if len(joined) > 300:
        raise InvalidInput("too_many")
    return joined


def _search_text(client: Client, contacts: list[ContactPerson]) -> str:
    parts = [client.name, client.address or "", client.tax_number or ""]
    parts += split_list(client.emails)
    for c in contacts:
        parts += [c.name, c.email or ""]
    return normalize_text(" ".join(p for p in parts if p))


def _phone_digits(client: Client, contacts: list[ContactPerson]) -> str:
    phones = split_list(client.phones) + [c.phone for c in contacts if c.phone]
    return " ".join(dict.fromkeys(phones))


def refresh_search(client: Client, contacts: list[ContactPerson]) -> None:
    # Case folding can lengthen a name (ß → ss): keep within the column.
    client.name_norm = normalize_text(client.name)[:300]
    client.search_text = _search_text(client, contacts)
    client.phone_digits = _phone_digits(client, contacts)


async def load_visible(
    s: AsyncSession, actor: Actor, client_id: int, *, archived: bool = False
) -> tuple[Client, Ownership]:
    """The client if the actor may see it; else NotAvailable, exactly as if it did not exist.

    With `archived`, an archived (or merged) client is found too — for those who may
    restore it (heads of its team, admins) only: its card and history stay reachable."""
    client, own, _ = await load_visible_owner(s, actor, client_id, archived=archived)
    return client, own


async def load_visible_owner(
    s: AsyncSession, actor: Actor, client_id: int, *, archived: bool = False
) -> tuple[Client, Ownership, str | None]:
    """load_visible, and the name of the client's manager."""
    try:
        client, team_id, owner_name = await repo.client_with_owner(
            s, valid_id(client_id), archived=archived)
    except LookupError:
        raise NotAvailable() from None
    own = Ownership(client.owner_id, team_id)
    if not can_see(actor, own):
        raise NotAvailable()
    if client.is_deleted and not can_manage_client(actor, own):
        raise NotAvailable()
    return client, own, owner_name


async def load_changeable(s: AsyncSession, actor: Actor, client_id: int) -> Client:
    client, own = await load_visible(s, actor, client_id)
    require(can_change(actor, own))
    return client


def visibility(actor: Actor) -> repo.Visibility:
    scope = client_scope(actor)
    return repo.Visibility(scope.everything, scope.owner_id, scope.team_id)


def lead_team(actor_team: int | None, teams: list[int]) -> int | None:
    """The queue a new lead waits in: its creator's team; with one team only, that one;
    else none (the admins' queue)."""
    return actor_team if actor_team is not None else (teams[0] if len(teams) == 1 else None)


class ClientService:
    def __init__(self, db: Database, clock: Clock, currency: str,
                 classifiers: ClassifierService | None = None) -> None:
        self.db = db
        self.clock = clock
        self.currency = currency
        self.classifiers = classifiers or ClassifierService(db, clock)
        # Set by the CRM facade: hands new leads out by their team's rule (crm.leads).
        self.distribute: Callable[[Actor, list[int]], Awaitable[object]] | None = None

    async def search(self, actor: Actor, query: str, page: int = 0) -> SearchPage:
        """By name, contact person, e-mail, tax number or phone; Cyrillic case-insensitive,
        ё = е, one typo forgiven when nothing matches exactly."""
        page = max(page, 0)
        vis = visibility(actor)
        norm = normalize_text(query)
        digits = phone_digits_for_search(query)
        letters = re.sub(r"[\d\s]", "", norm)
        dialect = self.db.dialect
        # Display only, and the full-text scans are of unbounded cost: an offloaded read.
        async with self.db.read(offloaded=True) as r:
            if len(digits) >= 5 and not letters:
                found, total = await repo.search_phone(r, dialect, vis, digits, PAGE,
                                                       page * PAGE)
                return self._page(query, self._refs(found), page, total)
            words = norm.split()
            if not words:
                return SearchPage(query, [], 0, 0, 0)
            found, total = await repo.search_words(r, dialect, vis, words, PAGE, page * PAGE)
            if total:
                return self._page(query, self._refs(found), page, total)
            patterns = [repo.WordPatterns(*typo_patterns(w)) for w in words]
            candidates = await repo.search_candidates(r, dialect, vis, patterns)
        matched = [c for c, text in candidates if fuzzy_matches_normalized(words, text)]
        return self._page(query, self._refs(matched[page * PAGE : (page + 1) * PAGE]), page,
                          len(matched))

    @staticmethod
    def _refs(found: list[repo.Found]) -> list[ClientRef]:
        return [ClientRef(c.id, c.name, ClientService._hint(c.phones)) for c in found]

    async def my_clients(
        self, actor: Actor, flt: ListFilter, stage_id: int | None = None, page: int = 0
    ) -> ClientListPage:
        """The clients the actor sees (as in search), filtered, a page of LIST_PAGE by name.
        A page past the end shows the last one; an unknown stage is not available."""
        if (flt is ListFilter.STAGE) != (stage_id is not None):
            raise InvalidInput("filter")
        scope = client_scope(actor)
        shows_owner = scope.everything or scope.team_id is not None
        page = max(page, 0)
        today = self.clock.now().astimezone(actor.tz).date()
        async with self.db.transaction() as s:
            stage: Label | None = None
            if stage_id is not None:
                found = await cls_repo.stage(s, valid_id(stage_id))
                if found is None:
                    raise NotAvailable()
                stage = Label(found.id, found.code, found.name_ru, found.name_en)

            async def fetch(at: int) -> tuple[list[repo.ListRow], int]:
                return await repo.list_clients(
                    s, visibility(actor), stage_id=stage_id,
                    no_next_contact=flt is ListFilter.NO_NEXT,
                    overdue_before=today if flt is ListFilter.OVERDUE else None,
                    limit=LIST_PAGE, offset=at * LIST_PAGE,
                )

            rows, total = await fetch(page)
            pages = max(1, -(-total // LIST_PAGE))
            if page >= pages:
                # The list shrank since the button was drawn: show its last page.
                page = pages - 1
                rows, total = await fetch(page)
        items = [
            ClientRef(r.id, r.name, (r.owner_name or "") if shows_owner else self._hint(r.phones))
            for r in rows
        ]
        return ClientListPage(flt, stage, items, page, pages, total, shows_owner)

    @staticmethod
    def _hint(phones: str | None) -> str:
        found = split_list(phones)
        return format_phone(found[0]) if found else ""

    async def summaries(self, actor: Actor, query: str) -> list[ClientSummary]:
        """The first page of a search, with phones, e-mails and address, in one more query."""
        found = await self.search(actor, query)
        async with self.db.transaction() as s:
            rows = await repo.clients_by_ids(s, [ref.id for ref in found.items])
            return [
                ClientSummary(c.id, c.name, [format_phone(p) for p in split_list(c.phones)],
                              split_list(c.emails), c.address)
                for c in rows
            ]

    @staticmethod
    def _page(query: str, refs: list[ClientRef], page: int, total: int) -> SearchPage:
        pages = max(1, -(-total // PAGE))
        return SearchPage(query, refs, min(page, pages - 1), pages, total)

    async def find_by_phone(self, actor: Actor, phone: str) -> ClientRef | None:
        canonical = normalize_phone(phone)
        if canonical is None:
            return None
        async with self.db.read(offloaded=True) as r:
            found, _ = await repo.search_phone(r, self.db.dialect, visibility(actor), canonical,
                                               1, 0)
        return ClientRef(found[0].id, found[0].name) if found else None

    @staticmethod
    async def _visible_row(r: Reader, actor: Actor, client_id: int, *,
                           archived: bool = False) -> tuple[Any, ...]:
        """The card's client row (repo.card_client) if the actor may see the client, else
        NotAvailable, as load_visible_owner decides."""
        row = await repo.card_client(r, valid_id(client_id))
        return ClientService._visible(actor, row, archived)

    @staticmethod
    def _visible(actor: Actor, row: tuple[Any, ...] | None,
                 archived: bool = False) -> tuple[Any, ...]:
        """`row` (the card's client row) if the actor may see it; archived ones only with
        `archived`."""
        if row is None or (row[15] and not archived):
            raise NotAvailable()
        own = Ownership(row[13], row[17])
        if not can_see(actor, own) or (row[15] and not can_manage_client(actor, own)):
            raise NotAvailable()
        return row

    async def name(self, actor: Actor, client_id: int) -> ClientRef:
        """A client the actor may see, by name (NotAvailable otherwise, archived ones too):
        for the screens of a flow that show no more than the name. One indexed read."""
        async with self.db.read() as r:
            row = await self._visible_row(r, actor, client_id)
        return ClientRef(row[0], row[1])

    async def card(self, actor: Actor, client_id: int, *, archived: bool = False) -> ClientCard:
        """The card; with `archived`, an archived one too, for those who may restore it
        (every other screen off the card refuses an archived client). Read as plain rows
        (Database.read): the card is opened on every other tap."""
        today = self.clock.now().astimezone(ZoneInfo(actor.timezone)).date()
        async with self.db.read() as r:
            # The client's row comes with the rest: what it may not see is never shown.
            rows = await repo.card_rows(r, valid_id(client_id), today)
        if rows is None:
            raise NotAvailable()
        (cid, name, address, phones, emails, tax_number, region_id, industry_id,
         segment_id, source_id, campaign_id, trigger_event, probability, owner_id,
         created_at, is_deleted, merged_into_id, team_id, owner_name, merged_name) = \
            self._visible(actor, rows.client, archived)
        own = Ownership(owner_id, team_id)
        ids = dict(zip(CARD_CLASSIFIERS,
                       (region_id, industry_id, segment_id, source_id, campaign_id), strict=True))
        labels = await self.classifiers.labels({i for i in ids.values() if i is not None})
        stages = await self.classifiers.stage_map() if rows.deals else {}
        names = {c[0]: c[1] for c in rows.contacts}
        email_states = {
            c[0]: st for c in rows.contacts
            if c[4] and (st := consent_state(c[4], c[5], c[6])) != "subscribed"
        }
        planned = rows.planned
        return ClientCard(
            id=cid,
            name=name,
            address=address,
            phones=[format_phone(p) for p in split_list(phones)],
            emails=split_list(emails),
            tax_number=tax_number,
            classifiers={kind: labels[i] for kind, i in ids.items() if i in labels},
            trigger_event=trigger_event,
            probability=probability,
            owner_name=owner_name,
            contacts=[
                ContactInfo(c[0], c[1], c[2], format_phone(c[3]) if c[3] else None, c[4])
                for c in rows.contacts
            ],
            open_deals=[
                DealLine(d[0], d[1], Label(sg.id, sg.code, sg.ru, sg.en), d[3], d[4])
                for d in rows.deals if (sg := stages[d[2]])
            ],
            next_contact=PlannedLine(planned[0], planned[1], planned[2]) if planned else None,
            invoiced=rows.money.invoiced,
            paid=rows.money.paid,
            overdue=rows.money.overdue,
            currency=self.currency,
            can_change=can_change(actor, own) and not is_deleted,
            created_at=created_at,
            can_manage=can_manage_client(actor, own),
            owner_id=owner_id,
            archived=is_deleted,
            merged_into=ClientRef(merged_into_id, merged_name)
            if merged_into_id is not None and merged_name is not None else None,
            channels=[
                ChannelState(ch[0], ch[1], names.get(ch[1] or 0, name), ch[2], ch[3], ch[4])
                for ch in rows.channels
            ],
            email_states=email_states,
        )

    def _clean_draft(self, draft: ClientDraft) -> tuple[str, str | None, str | None]:
        name = " ".join(draft.name.split())
        if not 2 <= len(name) <= 300:
            raise InvalidInput("client_name")
        phone = None
        if draft.phone:
            phone = normalize_phone(draft.phone)
            if phone is None:
                raise InvalidInput("phone")
        email = None
        if draft.email:
            email = draft.email.strip().lower()
            if len(email) > 200 or not EMAIL_RE.match(email):
                raise InvalidInput("email")
        if draft.probability is not None and not 0 <= draft.probability <= 100:
            raise InvalidInput("probability")
        return name, phone, email

    async def duplicates(self, actor: Actor, draft: ClientDraft) -> list[Duplicate]:
        name, phone, email = self._clean_draft(draft)
        dedup = normalize_name_for_dedup(name)
        longest = max(dedup.split(), key=len) if dedup else None
        async with self.db.transaction() as s:
            rows = await repo.possible_duplicates(
                s, [phone] if phone else [], [email] if email else [], longest
            )
            found: list[Duplicate] = []
            for client, team_id in rows:
                visible = can_see(actor, Ownership(client.owner_id, team_id))
                if phone and phone in client.phone_digits.split():
                    found.append(Duplicate(client.id, client.name, "phone", visible))
                elif email and email in split_list(client.emails):
                    found.append(Duplicate(client.id, client.name, "email", visible))
                elif dedup and normalize_name_for_dedup(client.name) == dedup:
                    found.append(Duplicate(client.id, client.name, "name", visible))
            return found

    async def create(self, actor: Actor, draft: ClientDraft) -> ClientRef:
        require(can_create_clients(actor))
        # Marketing finds clients, managers work them: a marketer's client is a lead.
        lead = actor.role is Role.MARKETER
        name, phone, email = self._clean_draft(draft)
        now = self.clock.now()
        async with self.db.transaction() as s:
            for kind in CARD_CLASSIFIERS:
                item_id = getattr(draft, f"{kind}_id")
                if item_id is not None:
                    item = await cls_repo.item(s, item_id)
                    # A hidden value is no longer offered: a stale picker cannot set it.
                    if item is None or item.kind != kind or not item.is_active:
                        raise InvalidInput(kind)
            client = Client(
                name=name,
                address=(draft.address or "").strip() or None,
                phones=phone,
                emails=email,
                tax_number=(draft.tax_number or "").strip() or None,
                region_id=draft.region_id,
                industry_id=draft.industry_id,
                segment_id=draft.segment_id,
                source_id=draft.source_id,
                campaign_id=draft.campaign_id,
                trigger_event=(draft.trigger_event or "").strip() or None,
                probability=draft.probability,
                owner_id=None if lead else actor.id,
                lead_team_id=(lead_team(actor.team_id, [t.id for t in
                                                        await people_repo.list_teams(s)])
                              if lead else None),
                created_at=now,
                updated_at=now,
            )
            contacts: list[ContactPerson] = []
            if draft.contact_name:
                contacts.append(ContactPerson(name=draft.contact_name.strip(), created_at=now))
            refresh_search(client, contacts)
            s.add(client)
            await s.flush()
            for c in contacts:
                c.client_id = client.id
                s.add(c)
            people_repo.audit(s, actor.id, "client.created", "client", client.id,
                              {"lead": True} if lead else None, now)
            ref = ClientRef(client.id, client.name)
        if lead and self.distribute is not None:
            await self.distribute(actor, [ref.id])
        return ref

    async def add_contact(
        self, actor: Actor, client_id: int, name: str, phone: str | None, email: str | None,
        position: str | None = None,
    ) -> ContactInfo:
        name = " ".join(name.split())
        if not 1 <= len(name) <= 200 or len(position or "") > 200:
            raise InvalidInput("contact_name")
        if email and len(email) > 200:
            raise InvalidInput("email")
        canonical = normalize_phone(phone) if phone else None
        if phone and canonical is None:
            raise InvalidInput("phone")
        if email and not EMAIL_RE.match(email.strip()):
            raise InvalidInput("email")
        async with self.db.transaction() as s:
            client = await load_changeable(s, actor, client_id)
            person = ContactPerson(
                client_id=client.id, name=name, phone=canonical,
                email=email.strip().lower() if email else None, position=position,
                created_at=self.clock.now(),
            )
            s.add(person)
            await s.flush()
            refresh_search(client, list(await repo.contacts_of(s, client.id)))
            return ContactInfo(person.id, person.name, person.position,
                               format_phone(canonical) if canonical else None, person.email)

    async def contact(self, actor: Actor, person_id: int) -> ContactView:
        """A contact person of a client the actor may see."""
        async with self.db.transaction() as s:
            person = await repo.contact_person(s, valid_id(person_id))
            if person is None:
                raise NotAvailable()
            client, own = await load_visible(s, actor, person.client_id)
            return ContactView(_contact_info(person), client.id, client.name,
                               can_change(actor, own))

    async def update_contact(
        self, actor: Actor, person_id: int, field_name: str, value: str
    ) -> ContactInfo:
        """Edit one field of a contact person from free text; \"-\" clears an optional one."""
        value = " ".join(value.split())
        clear = value in ("-", "—")
        new: str | None
        if field_name == "name":
            if clear or not 1 <= len(value) <= 200:
                raise InvalidInput("contact_name")
            new = value
        elif field_name == "position":
            if len(value) > 200:
                raise InvalidInput("position")
            new = None if clear or not value else value
        elif field_name == "phone":
            new = None if clear else normalize_phone(value)
            if not clear and new is None:
                raise InvalidInput("phone")
        elif field_name == "email":
            new = None if clear else value.lower()
            if new is not None and (len(new) > 200 or not EMAIL_RE.match(new)):
                raise InvalidInput("email")
        else:
            raise InvalidInput("field")
        async with self.db.transaction() as s:
            person, client = await self._changeable_contact(s, actor, person_id)
            old = getattr(person, field_name)
            setattr(person, field_name, new)
            now = self.clock.now()
            client.updated_at = now
            refresh_search(client, list(await repo.contacts_of(s, client.id)))
            people_repo.audit(s, actor.id, "contact.updated", "contact_person", person.id,
                              {"client_id": client.id, "field": field_name,
                               "old": old, "new": new}, now)
            return _contact_info(person)

    async def remove_contact(self, actor: Actor, person_id: int) -> int:
        """Remove a contact person from the card (the audit keeps them); returns the client."""
        async with self.db.transaction() as s:
            person, client = await self._changeable_contact(s, actor, person_id)
            content = {"client_id": client.id, "name": person.name,
                       "position": person.position, "phone": person.phone,
                       "email": person.email}
            await s.delete(person)
            await s.flush()
            now = self.clock.now()
            client.updated_at = now
            refresh_search(client, list(await repo.contacts_of(s, client.id)))
            people_repo.audit(s, actor.id, "contact.removed", "contact_person", person_id,
                              {"old": content, "new": None}, now)
            return client.id

    @staticmethod
    async def _changeable_contact(
        s: AsyncSession, actor: Actor, person_id: int
    ) -> tuple[ContactPerson, Client]:
        person = await repo.contact_person(s, valid_id(person_id))
        if person is None:
            raise NotAvailable()
        client = await load_changeable(s, actor, person.client_id)
        return person, client

    async def update_field(self, actor: Actor, client_id: int, name: str, value: str) -> None:
        """Edit one field of the card from free text; `value` "-" clears it."""
        value = value.strip()
        clear = value in ("-", "—")
        async with self.db.transaction() as s:
            client = await load_changeable(s, actor, client_id)
            if name == "name":
                if clear or not 2 <= len(value) <= 300:
                    raise InvalidInput("client_name")
                client.name = " ".join(value.split())
            elif name == "phone":
                if clear:
                    client.phones = None
                else:
                    phone = normalize_phone(value)
                    if phone is None:
                        raise InvalidInput("phone")
                    client.phones = add_to_list(client.phones, phone)
            elif name == "email":
                if clear:
                    client.emails = None
                else:
                    email = value.lower()
                    if len(email) > 200 or not EMAIL_RE.match(email):
                        raise InvalidInput("email")
                    client.emails = add_to_list(client.emails, email)
            elif name == "address":
                client.address = None if clear else value[:500]
            elif name == "trigger_event":
                client.trigger_event = None if clear else value[:500]
            elif name == "tax_number":
                digits = re.sub(r"\D", "", value)
                if not clear and len(digits) not in (10, 12):
                    raise InvalidInput("tax_number")
                client.tax_number = None if clear else digits
            elif name == "probability":
                prob = None if clear else parse_probability(value)
                if not clear and prob is None:
                    raise InvalidInput("probability")
                client.probability = prob
            else:
                raise InvalidInput("field")
            client.updated_at = self.clock.now()
            refresh_search(client, list(await repo.contacts_of(s, client.id)))

    async def set_classifier(
        self, actor: Actor, client_id: int, kind: str, item_id: int | None
    ) -> None:
        if kind not in CARD_CLASSIFIERS:
            raise InvalidInput("field")
        async with self.db.transaction() as s:
            client = await load_changeable(s, actor, client_id)
            if item_id is not None:
                item = await cls_repo.item(s, item_id)
                if item is None or item.kind != kind or (
                    not item.is_active and getattr(client, f"{kind}_id") != item_id
                ):
                    raise InvalidInput(kind)
            setattr(client, f"{kind}_id", item_id)
            client.updated_at = self.clock.now()
