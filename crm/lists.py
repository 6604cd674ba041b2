"""Client lists — the seed's ad-hoc queries: a filter over the clients one sees, its count
and pages, saved under a name (private, or shared with the team) and run afresh when
reopened, and the rows of its spreadsheet.

Public API for the features that use a list as an audience or an export (issues 9, 10):

* ``ClientFilter`` — the filter, a frozen dataclass; ``to_json()`` / ``ClientFilter.from_json``
  (what a saved list stores);
* ``ClientLists.count / page / client_ids / rows`` — run a filter in the actor's client
  scope (crm.access.client_scope): nobody gets a client they could not open;
* ``ClientLists.saved / open / open_page / save / rename / delete`` — the saved lists, with
  access re-checked on every call (crm.access.can_open_list);
* ``client_rows(s, ids)`` — the export rows (``ClientRow``: classifiers, manager, open
  deals, last and next contact) of clients already checked visible, inside a transaction;
  bot/xlsx.py ``client_columns / client_cells / clients_table / clients_xlsx`` lay them out,
  the one format of every clients spreadsheet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import can_open_list, can_use_lists, client_scope, require
from crm.classifiers import Label, label
from crm.clients import ClientRef, split_list, visibility
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable, valid_id
from crm.parsing import format_phone
from crm.reports.period import utc_midnight
from crm.roles import Role
from storage.db import Database
from storage.models import SavedList
from storage.repo import classifiers as cls_repo
from storage.repo import lists as repo
from storage.repo import people as people_repo

PAGE = 10
MAX_N_DAYS = 3650  # "no contact for N days": up to ten years
NAME_MAX = 100


class Criterion(StrEnum):
    """One thing a list can be filtered by (its button in the builder)."""

    MANAGER = "mgr"
    TEAM = "team"
    REGION = "region"
    INDUSTRY = "industry"
    SEGMENT = "segment"
    SOURCE = "source"
    CAMPAIGN = "campaign"
    STAGE = "stage"
    OPEN_DEAL = "opendeal"  # any open deal, whatever its stage
    PROBABILITY = "prob"
    SILENT = "silent"  # no contact for N days or more (never contacted included)
    CONTACTED = "recent"  # a contact within the last N days
    NO_NEXT = "nonext"  # no next contact planned
    OVERDUE = "overdue"  # an invoice past due and not paid
    CREATED = "created"  # created in a period


# The criteria that pick one item from a list of choices, and the filter field they set.
PICKED: dict[Criterion, str] = {
    Criterion.MANAGER: "owner_id",
    Criterion.TEAM: "team_id",
    Criterion.REGION: "region_id",
    Criterion.INDUSTRY: "industry_id",
    Criterion.SEGMENT: "segment_id",
    Criterion.SOURCE: "source_id",
    Criterion.CAMPAIGN: "campaign_id",
    Criterion.STAGE: "stage_id",
}
CLASSIFIER_KINDS: dict[Criterion, str] = {
    Criterion.REGION: "region",
    Criterion.INDUSTRY: "industry",
    Criterion.SEGMENT: "segment",
    Criterion.SOURCE: "source",
    Criterion.CAMPAIGN: "campaign",
}
TOGGLED: dict[Criterion, str] = {
    Criterion.OPEN_DEAL: "open_deal",
    Criterion.NO_NEXT: "no_next_contact",
    Criterion.OVERDUE: "overdue_invoice",
}


@dataclass(frozen=True, slots=True)
class ClientFilter:
    """What a list asks for; every criterion set must hold (AND). Empty: every client the
    viewer sees. Dates are the viewer's local days."""

    owner_id: int | None = None
    team_id: int | None = None
    region_id: int | None = None
    industry_id: int | None = None
    segment_id: int | None = None
    source_id: int | None = None
    campaign_id: int | None = None
    stage_id: int | None = None  # an open deal at this stage
    open_deal: bool = False  # an open deal at any stage
    prob_min: int | None = None  # the client's purchase probability, %, both ends included
    prob_max: int | None = None
    silent_days: int | None = None
    contacted_days: int | None = None
    no_next_contact: bool = False
    overdue_invoice: bool = False
    created_from: date | None = None
    created_to: date | None = None

    def to_json(self) -> dict[str, Any]:
        """The criteria set, as JSON values (dates as ISO strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value is False:
                continue
            out[f.name] = value.isoformat() if isinstance(value, date) else value
        return out

    @classmethod
    def from_json(cls, data: Any) -> ClientFilter:
        """The filter of `to_json`; anything else (a forged or damaged value) is refused."""
        if not isinstance(data, dict):
            raise InvalidInput("list_filter")
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise InvalidInput("list_filter")
            if key in TOGGLED.values():
                if not isinstance(value, bool):
                    raise InvalidInput("list_filter")
            elif key in ("created_from", "created_to"):
                try:
                    value = date.fromisoformat(value)
                except (TypeError, ValueError):
                    raise InvalidInput("list_filter") from None
            elif not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput("list_filter")
            values[key] = value
        return cls(**values).checked()

    def checked(self) -> ClientFilter:
        """Itself, if every value is possible; InvalidInput otherwise."""
        for name in PICKED.values():
            value = getattr(self, name)
            if value is not None and not 0 < value <= 2**31 - 1:
                raise InvalidInput("list_filter")
        lo, hi = self.prob_min, self.prob_max
        if any(p is not None and not 0 <= p <= 100 for p in (lo, hi)):
            raise InvalidInput("prob_range")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInput("prob_order")
        for days in (self.silent_days, self.contacted_days):
            if days is not None and not 1 <= days <= MAX_N_DAYS:
                raise InvalidInput("list_days")
        a, b = self.created_from, self.created_to
        if (a is None) != (b is None) or (a is not None and b is not None and a > b):
            raise InvalidInput("list_filter")
        return self

    @property
    def is_empty(self) -> bool:
        return not self.to_json()

    def value_of(self, c: Criterion) -> Any:
        """The criterion's value (None / False when not set)."""
        if c in PICKED:
            return getattr(self, PICKED[c])
        if c in TOGGLED:
            return getattr(self, TOGGLED[c])
        if c is Criterion.PROBABILITY:
            return None if self.prob_min is None and self.prob_max is None else (
                self.prob_min, self.prob_max)
        if c is Criterion.SILENT:
            return self.silent_days
        if c is Criterion.CONTACTED:
            return self.contacted_days
        return None if self.created_from is None else (self.created_from, self.created_to)

    def without(self, c: Criterion) -> ClientFilter:
        if c in PICKED:
            return replace(self, **_kw(PICKED[c], None))
        if c in TOGGLED:
            return replace(self, **_kw(TOGGLED[c], False))
        if c is Criterion.PROBABILITY:
            return replace(self, prob_min=None, prob_max=None)
        if c is Criterion.SILENT:
            return replace(self, silent_days=None)
        if c is Criterion.CONTACTED:
            return replace(self, contacted_days=None)
        return replace(self, created_from=None, created_to=None)

    def toggled(self, c: Criterion) -> ClientFilter:
        name = TOGGLED[c]
        return replace(self, **_kw(name, not getattr(self, name)))


def _kw(name: str, value: Any) -> dict[str, Any]:
    return {name: value}


_RANGE = re.compile(r"^\s*(\d{1,3})\s*%?\s*(?:[-–—]|\.\.)\s*(\d{1,3})\s*%?\s*$")
_FROM = re.compile(r"^\s*(?:>=?|от|from)?\s*(\d{1,3})\s*%?\s*\+?\s*$", re.IGNORECASE)


def parse_probability_range(text: str) -> tuple[int, int]:
    """"30-70", "30–70 %", or one number "50" (from 50 % up)."""
    match = _RANGE.match(text)
    if match:
        lo, hi = int(match.group(1)), int(match.group(2))
    else:
        one = _FROM.match(text)
        if not one:
            raise InvalidInput("prob_format")
        lo, hi = int(one.group(1)), 100
    if not (0 <= lo <= 100 and 0 <= hi <= 100):
        raise InvalidInput("prob_range")
    if lo > hi:
        raise InvalidInput("prob_order")
    return lo, hi


def parse_days(text: str) -> int:
    """A whole number of days, 1 to ten years."""
    cleaned = text.strip()
    if not cleaned.isdigit():
        raise InvalidInput("list_days_format")
    days = int(cleaned)
    if not 1 <= days <= MAX_N_DAYS:
        raise InvalidInput("list_days")
    return days


def clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidInput("list_name")
    return cleaned


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[ClientRef]
    page: int
    pages: int
    total: int
    shows_owner: bool


@dataclass(frozen=True, slots=True)
class SavedInfo:
    id: int
    name: str
    shared: bool
    owner_name: str
    mine: bool  # the viewer's own: renamed and deleted by them only


@dataclass(frozen=True, slots=True)
class Saved:
    info: SavedInfo
    filter: ClientFilter


@dataclass(frozen=True, slots=True)
class DealCell:
    title: str
    stage: Label
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class ClientRow:
    """A client as every clients spreadsheet has it (a list's XLSX, the export of issue 10)."""

    id: int
    name: str
    phones: list[str]
    emails: list[str]
    address: str | None
    tax_number: str | None
    classifiers: dict[str, Label]  # region, industry, segment, source, campaign
    probability: int | None
    manager: str | None
    open_deals: list[DealCell]
    last_contact: datetime | None  # aware, UTC
    next_contact: datetime | None
    created_at: datetime

    @property
    def open_amount(self) -> Decimal:
        return sum((d.amount for d in self.open_deals), Decimal(0))


ROW_CHUNK = 500  # ids per IN (…) when building rows


async def client_rows(s: AsyncSession, client_ids: Sequence[int]) -> list[ClientRow]:
    """The export rows of these clients (already checked visible), in their order."""
    rows: list[ClientRow] = []
    stages = {st.id: st for st in await cls_repo.stages(s, active_only=False)}
    for at in range(0, len(client_ids), ROW_CHUNK):
        chunk = list(client_ids[at:at + ROW_CHUNK])
        clients = await repo.clients_of(s, chunk)
        item_ids = {getattr(c, f"{k}_id") for c, _ in clients
                    for k in CLASSIFIER_KINDS.values()} - {None}
        items = await cls_repo.items_by_ids(s, item_ids)
        deals: dict[int, list[DealCell]] = {}
        for d in await repo.open_deals_of(s, chunk):
            st = stages[d.stage_id]
            deals.setdefault(d.client_id, []).append(DealCell(
                d.title, Label(st.id, st.code, st.name_ru, st.name_en), d.amount, d.currency))
        last = await repo.last_contacts(s, chunk)
        nxt = await repo.next_contacts(s, chunk)
        for c, manager in clients:
            rows.append(ClientRow(
                id=c.id, name=c.name,
                phones=[format_phone(p) for p in split_list(c.phones)],
                emails=split_list(c.emails), address=c.address, tax_number=c.tax_number,
                classifiers={kind: label(items[item_id]) for kind in CLASSIFIER_KINDS.values()
                             if (item_id := getattr(c, f"{kind}_id")) in items},
                probability=c.probability, manager=manager,
                open_deals=deals.get(c.id, []), last_contact=last.get(c.id),
                next_contact=nxt.get(c.id), created_at=c.created_at,
            ))
    return rows


class ClientLists:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    # --- the builder ------------------------------------------------------------------------

    def criteria(self, actor: Actor) -> list[Criterion]:
        """What the actor's builder offers: a manager has no one else's clients to pick, a
        head no other team."""
        require(can_use_lists(actor))
        skip: set[Criterion] = set()
        if actor.role is Role.MANAGER:
            skip = {Criterion.MANAGER, Criterion.TEAM}
        elif actor.role is Role.HEAD:
            skip = {Criterion.TEAM}
        return [c for c in Criterion if c not in skip]

    async def choices(self, actor: Actor, c: Criterion) -> list[Label]:
        """The values a picked criterion offers the actor (people's names are not
        translated: the same text in both languages)."""
        if c not in self.criteria(actor) or c not in PICKED:
            raise NotAvailable()
        async with self.db.transaction() as s:
            return await self._choices(s, actor, c)

    async def _choices(self, s: AsyncSession, actor: Actor, c: Criterion) -> list[Label]:
        if c is Criterion.MANAGER:
            scope = client_scope(actor)
            people = await people_repo.list_users(s, active_only=True)
            if not scope.everything:
                people = [u for u in people if u.id == actor.id or (
                    scope.team_id is not None and u.team_id == scope.team_id)]
            return [Label(u.id, "", u.name, u.name)
                    for u in sorted(people, key=lambda u: (u.name, u.id))
                    if u.role in (Role.MANAGER, Role.HEAD)]
        if c is Criterion.TEAM:
            return [Label(t.id, "", t.name, t.name) for t in await people_repo.list_teams(s)]
        if c is Criterion.STAGE:
            return [Label(st.id, st.code, st.name_ru, st.name_en)
                    for st in await cls_repo.stages(s)]
        return [label(i) for i in await cls_repo.items(s, CLASSIFIER_KINDS[c])]

    async def pick(self, actor: Actor, flt: ClientFilter, c: Criterion,
                   value: int | None) -> ClientFilter:
        """The filter with the criterion set to one of its choices (None: any). A value
        that is not among the actor's choices (a forged button) is not available."""
        if c not in self.criteria(actor) or c not in PICKED:
            raise NotAvailable()
        if value is None:
            return flt.without(c)
        if value not in {x.id for x in await self.choices(actor, c)}:
            raise NotAvailable()
        return replace(flt, **_kw(PICKED[c], value))

    async def labels(self, actor: Actor, flt: ClientFilter) -> dict[Criterion, Label]:
        """Names of the picked values, to show the filter. A value the viewer cannot pick
        (a colleague's shared list naming a manager of another team) shows by its name
        when it still exists; results stay within the viewer's scope regardless."""
        require(can_use_lists(actor))
        found: dict[Criterion, Label] = {}
        async with self.db.transaction() as s:
            if flt.owner_id is not None:
                person = await people_repo.user_by_id(s, flt.owner_id)
                if person is not None:
                    found[Criterion.MANAGER] = Label(person.id, "", person.name, person.name)
            if flt.team_id is not None:
                team = await people_repo.team_by_id(s, flt.team_id)
                if team is not None:
                    found[Criterion.TEAM] = Label(team.id, "", team.name, team.name)
            if flt.stage_id is not None:
                st = await cls_repo.stage(s, flt.stage_id)
                if st is not None:
                    found[Criterion.STAGE] = Label(st.id, st.code, st.name_ru, st.name_en)
            ids = {getattr(flt, PICKED[c]) for c in CLASSIFIER_KINDS} - {None}
            items = await cls_repo.items_by_ids(s, ids)
            for c, kind in CLASSIFIER_KINDS.items():
                item = items.get(getattr(flt, PICKED[c]))
                if item is not None and item.kind == kind:
                    found[c] = label(item)
        return found

    # --- running a filter -------------------------------------------------------------------

    def _criteria(self, actor: Actor, flt: ClientFilter) -> repo.Criteria:
        flt.checked()
        now = self.clock.now()
        tz = ZoneInfo(actor.timezone)
        today = now.astimezone(tz).date()
        return repo.Criteria(
            owner_id=flt.owner_id,
            team_id=flt.team_id,
            classifiers=tuple((PICKED[c], getattr(flt, PICKED[c])) for c in CLASSIFIER_KINDS
                              if getattr(flt, PICKED[c]) is not None),
            stage_id=flt.stage_id,
            open_deal=flt.open_deal,
            prob_min=flt.prob_min,
            prob_max=flt.prob_max,
            silent_since=now - timedelta(days=flt.silent_days) if flt.silent_days else None,
            contacted_since=(now - timedelta(days=flt.contacted_days)
                             if flt.contacted_days else None),
            no_next_contact=flt.no_next_contact,
            overdue_before=today if flt.overdue_invoice else None,
            created_from=utc_midnight(flt.created_from, tz) if flt.created_from else None,
            created_to=(utc_midnight(flt.created_to + timedelta(days=1), tz)
                        if flt.created_to else None),
        )

    async def count(self, actor: Actor, flt: ClientFilter) -> int:
        require(can_use_lists(actor))
        async with self.db.transaction() as s:
            return await repo.count(s, visibility(actor), self._criteria(actor, flt))

    async def page(self, actor: Actor, flt: ClientFilter, page: int = 0) -> ListPage:
        """A page of PAGE clients by name and the count; a page past the end (the list
        shrank since the button was drawn) shows the last one."""
        require(can_use_lists(actor))
        scope = client_scope(actor)
        shows_owner = scope.everything or scope.team_id is not None
        crit = self._criteria(actor, flt)
        vis = visibility(actor)
        async with self.db.transaction() as s:
            total = await repo.count(s, vis, crit)
            pages = max(1, -(-total // PAGE))
            page = min(max(page, 0), pages - 1)
            rows = await repo.page(s, vis, crit, PAGE, page * PAGE) if total else []
        items = [ClientRef(r.id, r.name, (r.owner_name or "") if shows_owner
                           else _phone_hint(r.phones)) for r in rows]
        return ListPage(items, page, pages, total, shows_owner)

    async def client_ids(self, actor: Actor, flt: ClientFilter) -> list[int]:
        """Every client of the list the actor sees, by name: an audience (issue 9)."""
        require(can_use_lists(actor))
        async with self.db.transaction() as s:
            return await repo.ids(s, visibility(actor), self._criteria(actor, flt))

    async def rows(self, actor: Actor, flt: ClientFilter) -> list[ClientRow]:
        """The spreadsheet rows of the list (issue 10's export of a list)."""
        require(can_use_lists(actor))
        async with self.db.transaction() as s:
            found = await repo.ids(s, visibility(actor), self._criteria(actor, flt))
            return await client_rows(s, found)

    # --- saved lists ------------------------------------------------------------------------

    async def saved(self, actor: Actor) -> list[SavedInfo]:
        """The actor's own lists, then those shared with them."""
        require(can_use_lists(actor))
        async with self.db.transaction() as s:
            rows = await repo.saved_for(s, actor.id, actor.team_id,
                                        every_shared=actor.role is Role.ADMIN)
        return [_info(actor, row, owner) for row, owner in rows
                if can_open_list(actor, row.owner_id, row.team_id, row.shared)]

    async def _load(self, s: AsyncSession, actor: Actor, list_id: int) -> tuple[SavedList, str]:
        found = await repo.saved_by_id(s, valid_id(list_id))
        if found is None:
            raise NotAvailable()
        row, owner = found
        if not can_open_list(actor, row.owner_id, row.team_id, row.shared):
            raise NotAvailable()
        return row, owner

    async def open(self, actor: Actor, list_id: int) -> Saved:
        """A saved list the actor may open, with its filter; NotAvailable otherwise (a
        colleague's private list looks exactly like one that does not exist)."""
        async with self.db.transaction() as s:
            row, owner = await self._load(s, actor, list_id)
            return Saved(_info(actor, row, owner), ClientFilter.from_json(row.filter))

    async def open_page(self, actor: Actor, list_id: int, page: int = 0) -> tuple[Saved, ListPage]:
        saved = await self.open(actor, list_id)
        return saved, await self.page(actor, saved.filter, page)

    async def save(self, actor: Actor, name: str, flt: ClientFilter, shared: bool) -> SavedInfo:
        """A new list of the actor's; a name they already use is a Conflict
        ("list_name_taken") — which also keeps a repeated save from writing twice."""
        require(can_use_lists(actor))
        name = clean_name(name)
        flt.checked()
        now = self.clock.now()
        async with self.db.transaction() as s:
            if await repo.name_taken(s, actor.id, name):
                raise Conflict("list_name_taken")
            row = SavedList(owner_id=actor.id, team_id=actor.team_id, shared=shared,
                            name=name, filter=flt.to_json(), created_at=now)
            if not await repo.add_saved(s, row):
                raise Conflict("list_name_taken")
            people_repo.audit(s, actor.id, "list.saved", "saved_list", row.id,
                              {"name": name, "shared": shared}, now)
            return _info(actor, row, actor.name)

    async def _own(self, s: AsyncSession, actor: Actor, list_id: int) -> SavedList:
        row, _ = await self._load(s, actor, list_id)
        if row.owner_id != actor.id:
            raise NotAvailable()
        return row

    async def rename(self, actor: Actor, list_id: int, name: str) -> SavedInfo:
        name = clean_name(name)
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._own(s, actor, list_id)
            if await repo.name_taken(s, actor.id, name, except_id=row.id):
                raise Conflict("list_name_taken")
            old, row.name = row.name, name
            people_repo.audit(s, actor.id, "list.renamed", "saved_list", row.id,
                              {"from": old, "to": name}, now)
            return _info(actor, row, actor.name)

    async def delete(self, actor: Actor, list_id: int) -> None:
        """Delete one's own list; deleting one already gone is not available."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._own(s, actor, list_id)
            await repo.delete_saved(s, row.id)
            people_repo.audit(s, actor.id, "list.deleted", "saved_list", row.id,
                              {"name": row.name}, now)


def _info(actor: Actor, row: SavedList, owner: str) -> SavedInfo:
    return SavedInfo(row.id, row.name, row.shared, owner, row.owner_id == actor.id)


def _phone_hint(phones: str | None) -> str:
    found = split_list(phones)
    return format_phone(found[0]) if found else ""
