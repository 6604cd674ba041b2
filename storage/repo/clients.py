"""SQL for clients, their contact persons, and what the client card shows."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    column,
    exists,
    func,
    or_,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import Executable

from storage.db import Reader
from storage.models import (
    Client,
    ClientChannel,
    ContactPerson,
    Deal,
    EmailConsent,
    Invoice,
    Payment,
    PlannedContact,
    User,
)


@dataclass(frozen=True, slots=True)
class Visibility:
    everything: bool
    owner_id: int | None = None
    team_id: int | None = None


def _visible(stmt: Select[Any], vis: Visibility) -> Select[Any]:
    stmt = stmt.where(Client.is_deleted.is_(False))
    if vis.everything:
        return stmt
    conds = [Client.owner_id == vis.owner_id]
    if vis.team_id is not None:
        conds.append(Client.owner_id.in_(select(User.id).where(User.team_id == vis.team_id)))
    return stmt.where(or_(*conds))


# The card's lookups are built once: building a statement costs more than running it.
# A lead (no owner) belongs to the team whose queue it waits in.
_CLIENT_WITH_OWNER = (
    select(Client, func.coalesce(User.team_id, Client.lead_team_id), User.name)
    .outerjoin(User, User.id == Client.owner_id)
    .where(Client.id == bindparam("client_id"))
)
_LIVE_CLIENT_WITH_OWNER = _CLIENT_WITH_OWNER.where(Client.is_deleted.is_(False))


# --- the card, through Database.read: plain columns, each statement built once ---------------

_C = Client.__table__
_SURVIVOR = _C.alias("survivor")
_CARD_CLIENT = (
    select(_C.c.id, _C.c.name, _C.c.address, _C.c.phones, _C.c.emails, _C.c.tax_number,
           _C.c.region_id, _C.c.industry_id, _C.c.segment_id, _C.c.source_id,
           _C.c.campaign_id, _C.c.trigger_event, _C.c.probability, _C.c.owner_id,
           _C.c.created_at, _C.c.is_deleted, _C.c.merged_into_id,
           func.coalesce(User.team_id, _C.c.lead_team_id), User.name,
           select(_SURVIVOR.c.name).where(_SURVIVOR.c.id == _C.c.merged_into_id)
           .scalar_subquery())
    .select_from(_C)
    .outerjoin(User, User.id == _C.c.owner_id)
    .where(_C.c.id == bindparam("client_id"))
)
_CARD_CONTACTS = (
    select(ContactPerson.id, ContactPerson.name, ContactPerson.position, ContactPerson.phone,
           ContactPerson.email, EmailConsent.email, EmailConsent.state)
    .outerjoin(EmailConsent, EmailConsent.contact_id == ContactPerson.id)
    .where(ContactPerson.client_id == bindparam("client_id"))
    .order_by(ContactPerson.id)
)
_CARD_DEALS = (
    select(Deal.id, Deal.title, Deal.stage_id, Deal.amount, Deal.currency)
    .where(Deal.client_id == bindparam("client_id"), Deal.status == "open")
    .order_by(Deal.opened_at)
)
_CARD_PLANNED = (
    select(PlannedContact.id, PlannedContact.due_at, PlannedContact.note)
    .where(PlannedContact.client_id == bindparam("client_id"),
           PlannedContact.status == "planned")
    .order_by(PlannedContact.due_at)
    .limit(1)
)
_CARD_CHANNELS = (
    select(ClientChannel.id, ClientChannel.contact_id, ClientChannel.tg_name,
           ClientChannel.consent, ClientChannel.consent_at)
    .where(ClientChannel.client_id == bindparam("client_id"))
    .order_by(ClientChannel.id)
)
# Each invoice once per payment (or once with NULL): summed in Python, as paid_by_invoice does.
_CARD_INVOICES = (
    select(Invoice.id, Invoice.amount, Invoice.due_on, Payment.amount)
    .join(Deal, Deal.id == Invoice.deal_id)
    .outerjoin(Payment, Payment.invoice_id == Invoice.id)
    .where(Deal.client_id == bindparam("client_id"), Invoice.status != "cancelled")
)


@dataclass(frozen=True, slots=True)
class CardRows:
    """What a card shows, as rows. `client`: the columns of _CARD_CLIENT (the client's, then
    its team, its manager's name and, when merged, the survivor's name)."""

    client: tuple[Any, ...]
    contacts: list[tuple[Any, ...]]  # id, name, position, phone, email, consent e-mail, state
    deals: list[tuple[Any, ...]]  # id, title, stage_id, amount, currency
    planned: tuple[Any, ...] | None  # id, due_at, note
    channels: list[tuple[Any, ...]]  # id, contact_id, tg_name, consent, consent_at
    money: MoneyTotals


async def card_client(r: Reader, client_id: int) -> tuple[Any, ...] | None:
    """The client's row of the card (see CardRows), archived ones too; None if absent."""
    return await r.first(_CARD_CLIENT, client_id=client_id)


async def card_rows(r: Reader, client_id: int, today: date) -> CardRows | None:
    """Everything the card shows, in one `gather` (on PostgreSQL one round trip's wait);
    None if the client is absent. The client's row is read with the rest, so whether the
    actor may see it is decided on what was read (see CardRows.client)."""
    p = {"client_id": client_id}
    client, invoice_rows, contacts, deals, planned, channels = await r.gather(
        (_CARD_CLIENT, p), (_CARD_INVOICES, p), (_CARD_CONTACTS, p), (_CARD_DEALS, p),
        (_CARD_PLANNED, p), (_CARD_CHANNELS, p))
    if not client:
        return None
    invoices: dict[int, list[Any]] = {}
    for invoice_id, amount, due_on, paid in invoice_rows:
        got = invoices.setdefault(invoice_id, [amount, due_on, Decimal("0.00")])
        if paid is not None:
            got[2] += paid
    invoiced = paid_total = overdue = Decimal(0)
    for amount, due_on, got in invoices.values():
        invoiced += amount
        paid_total += got
        if due_on < today and got < amount:
            overdue += amount - got
    return CardRows(client[0], contacts, deals, planned[0] if planned else None, channels,
                    MoneyTotals(invoiced, paid_total, overdue))


async def client_with_team(
    session: AsyncSession, client_id: int, *, archived: bool = False
) -> tuple[Client, int | None]:
    """The client and the team of its owner; raises LookupError if absent or deleted
    (archived ones too, with `archived`)."""
    client, team_id, _ = await client_with_owner(session, client_id, archived=archived)
    return client, team_id


async def client_with_owner(
    session: AsyncSession, client_id: int, *, archived: bool = False
) -> tuple[Client, int | None, str | None]:
    """The client, the team and the name of its owner; LookupError if absent or deleted
    (archived ones too, with `archived`)."""
    stmt = _CLIENT_WITH_OWNER if archived else _LIVE_CLIENT_WITH_OWNER
    row = (await session.execute(stmt, {"client_id": client_id})).first()
    if row is None:
        raise LookupError(client_id)
    return row[0], row[1], row[2]


# The trigram index of clients.search_text and phone_digits on SQLite (migration 0005);
# PostgreSQL's pg_trgm indexes sit on the columns themselves.
_FTS = table("clients_fts", column("rowid"), column("search_text"), column("phone_digits"))


@dataclass(frozen=True, slots=True)
class Found:
    """A client a search found: what its line in the results shows."""

    id: int
    name: str
    phones: str | None


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a search statement looks like, apart from its values: the statements are built
    (and on SQLite compiled) once per shape, and run through `Database.read`."""

    dialect: str
    scope: str  # all | own | own_null (an actor with no id) | team | team_null
    column: str  # search_text | phone_digits
    # Per group of anchors (strings one of which every match contains, found through the
    # trigram index): whether it holds one string only (PostgreSQL: a LIKE, not a regex).
    anchors: tuple[bool, ...]
    # Per word checked row by row (in `column`): how many LIKE patterns, one of which every
    # match holds.
    likes: tuple[int, ...]
    escaped: bool  # the LIKE patterns escape their wildcards with "/"
    what: str  # page | count | candidates


def _scope(vis: Visibility) -> tuple[str, dict[str, Any]]:
    if vis.everything:
        return "all", {}
    scope = "own" if vis.team_id is None else "team"
    params: dict[str, Any] = {} if vis.team_id is None else {"team_id": vis.team_id}
    if vis.owner_id is None:
        return scope + "_null", params
    return scope, {**params, "owner_id": vis.owner_id}


@functools.lru_cache(maxsize=512)
def _search_stmt(shape: _Shape) -> Executable:
    """The visible clients (as `_visible`) matching the shape's patterns. Parameters:
    owner_id, team_id (by scope); on SQLite `fts` (one FTS5 query over every anchor group),
    on PostgreSQL a0, a1… (one per group); l0_0, l0_1… (word 0's LIKE patterns); `offset`
    for a page."""
    conds: list[ColumnElement[bool]] = [Client.is_deleted.is_(False)]
    if shape.scope != "all":
        mine = (Client.owner_id.is_(None) if shape.scope.endswith("_null")
                else Client.owner_id == bindparam("owner_id", type_=Integer))
        if shape.scope.startswith("team"):
            conds.append(or_(mine, Client.owner_id.in_(
                select(User.id).where(User.team_id == bindparam("team_id", type_=Integer)))))
        else:
            conds.append(mine)
    col = getattr(Client, shape.column)
    if shape.anchors:
        if shape.dialect == "sqlite":
            # One FTS5 query answers every group from the index alone (a trigram phrase is
            # a substring); `LIKE` on the FTS table would re-read every candidate's text.
            conds.append(Client.id.in_(select(_FTS.c.rowid).where(
                _FTS.c[shape.column].op("MATCH")(bindparam("fts", type_=String)))))
        else:
            # A group of several strings is one regular expression, not an OR of LIKEs:
            # pg_trgm answers every group in one index scan (an OR of LIKEs is a BitmapOr
            # per group, and the planner tends to scan one group's and filter the rest row
            # by row: 2× slower for the typo pass at 100k clients).
            conds += [col.like(bindparam(f"a{i}", type_=String)) if single
                      else col.op("~")(bindparam(f"a{i}", type_=String))
                      for i, single in enumerate(shape.anchors)]
    escape = "/" if shape.escaped else None
    for w, count in enumerate(shape.likes):
        conds.append(or_(*(col.like(bindparam(f"l{w}_{j}", type_=String), escape=escape)
                           for j in range(count))))
    if shape.what == "count":
        return select(func.count()).select_from(Client).where(*conds)
    if shape.what == "candidates":
        return (select(Client.id, Client.search_text, Client.name, Client.phones)
                .where(*conds).order_by(Client.name_norm, Client.id))
    return (select(Client.id, Client.name, Client.phones, func.count().over())
            .where(*conds).order_by(Client.name_norm, Client.id)
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer)))


def _anchor_params(dialect: str, groups: list[list[str]]) -> dict[str, Any]:
    """Every group: one of its strings (each of three letters or more: a trigram index
    finds nothing shorter) is in the column."""
    if not groups:
        return {}
    if dialect == "sqlite":
        return {"fts": " AND ".join(
            "(" + " OR ".join('"' + t.replace('"', '""') + '"' for t in group) + ")"
            for group in groups)}
    # Normalised words hold letters and digits only: nothing to escape in the patterns.
    return {f"a{i}": f"%{group[0]}%" if len(group) == 1
            else "(" + "|".join(re.escape(t) for t in group) + ")"
            for i, group in enumerate(groups)}


def _like_escaped(word: str) -> str:
    """A LIKE pattern for `word` anywhere, escaped with "/" (as `contains(autoescape=True)`)."""
    return "%" + word.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


async def _counted_page(
    r: Reader, dialect: str, vis: Visibility, column: str, groups: list[list[str]],
    likes: list[list[str]], limit: int, offset: int,
) -> tuple[list[Found], int]:
    """One page by name and the total of matches in one statement (a window count)."""
    scope, params = _scope(vis)
    params.update(_anchor_params(dialect, groups))
    for w, patterns in enumerate(likes):
        params.update({f"l{w}_{j}": p for j, p in enumerate(patterns)})
    shape = _Shape(dialect, scope, column, tuple(len(g) == 1 for g in groups),
                   tuple(len(p) for p in likes), True, "page")
    rows = await r.all(_search_stmt(shape), limit=limit, offset=offset, **params)
    if rows:
        return [Found(row[0], row[1], row[2]) for row in rows], int(rows[0][3])
    if offset == 0:
        return [], 0
    # Past the last page (a stale button): only the count is left to tell.
    count = _search_stmt(dataclasses.replace(shape, what="count"))
    return [], int(await r.scalar(count, **params) or 0)


async def search_words(
    r: Reader, dialect: str, vis: Visibility, words: list[str], limit: int, offset: int
) -> tuple[list[Found], int]:
    """Clients whose search text holds every word (normalised) as a substring, by name."""
    # Trigrams need three letters; shorter words are checked on the rows the others found.
    long = [[w] for w in words if len(w) >= 3]
    short = [[_like_escaped(w)] for w in words if len(w) < 3]
    return await _counted_page(r, dialect, vis, "search_text", long, short, limit, offset)


# How many of a phone's last digits the full-text index is asked for (see search_phone).
PHONE_TAIL = 5


async def search_phone(
    r: Reader, dialect: str, vis: Visibility, digits: str, limit: int, offset: int
) -> tuple[list[Found], int]:
    """Clients with a phone holding `digits`, by name."""
    if dialect == "sqlite" and len(digits) > PHONE_TAIL:
        # Phones share their first digits (the country's, the operator's): their trigrams
        # are in nearly every row, and an FTS5 phrase reads the rows of each of its
        # trigrams. The last digits' trigrams are rare: the index finds the rows holding
        # those, and LIKE keeps those holding all the digits — the same rows, 3–10× faster.
        return await _counted_page(r, dialect, vis, "phone_digits", [[digits[-PHONE_TAIL:]]],
                                   [[_like_escaped(digits)]], limit, offset)
    return await _counted_page(r, dialect, vis, "phone_digits", [[digits]], [], limit, offset)


@dataclass(frozen=True, slots=True)
class WordPatterns:
    """How one query word may appear in a search text: `anchors`, strings of three letters
    or more every match contains one of (None: there are none), found through the trigram
    index, and `exact`, LIKE patterns one of which every match holds (checked on the rows
    the anchors found)."""

    anchors: list[str] | None
    exact: list[str]


# On SQLite the LIKE patterns of a word come in lists of a multiple of this, padded with
# NULL (`LIKE NULL` is never true, and costs nothing to evaluate): fewer statement shapes
# to compile, the same matches. PostgreSQL plans every statement anyway: no padding there.
_LIKES_STEP = 8


async def search_candidates(
    r: Reader, dialect: str, vis: Visibility, words: list[WordPatterns]
) -> list[tuple[Found, str]]:
    """Visible clients matching every word's patterns, with their search text, by name.

    The patterns over-approximate the typo-tolerant match, which the caller finishes on
    these few rows; nothing is capped.
    """
    scope, params = _scope(vis)
    anchored = [word.anchors for word in words if word.anchors]
    params.update(_anchor_params(dialect, anchored))
    likes = []
    step = _LIKES_STEP if dialect == "sqlite" else 1
    for w, word in enumerate(words):
        # The patterns hold letters and the `_` wildcard only (words are normalised).
        padded: list[str | None] = [*word.exact, *[None] * (-len(word.exact) % step)]
        params.update({f"l{w}_{j}": p for j, p in enumerate(padded)})
        likes.append(len(padded))
    shape = _Shape(dialect, scope, "search_text", tuple(len(g) == 1 for g in anchored),
                   tuple(likes), False, "candidates")
    rows = await r.all(_search_stmt(shape), **params)
    return [(Found(row[0], row[2], row[3]), row[1]) for row in rows]


@dataclass(frozen=True, slots=True)
class ListRow:
    id: int
    name: str
    phones: str | None
    owner_name: str | None


async def list_clients(
    session: AsyncSession,
    vis: Visibility,
    *,
    stage_id: int | None = None,
    no_next_contact: bool = False,
    overdue_before: date | None = None,
    limit: int,
    offset: int,
) -> tuple[list[ListRow], int]:
    """A page of visible clients by name, with their manager's name, and how many there are.

    Two queries whatever the page holds. The stage and invoice filters are EXISTS over
    indexed columns (deals.client_id, invoices.deal_id).
    """
    stmt = _visible(select(Client.id), vis)
    if stage_id is not None:
        stmt = stmt.where(exists().where(
            Deal.client_id == Client.id, Deal.status == "open", Deal.stage_id == stage_id
        ))
    if no_next_contact:
        # planned_contacts has no index on client_id: NOT IN reads the planned ones once
        # (a hashed subplan, SQLite's list subquery) where NOT EXISTS would scan per client.
        stmt = stmt.where(Client.id.not_in(
            select(PlannedContact.client_id).where(PlannedContact.status == "planned")
        ))
    if overdue_before is not None:
        # A fully paid invoice is marked paid (crm.billing), so an open one past due is owed.
        stmt = stmt.where(exists().where(
            Deal.client_id == Client.id, Invoice.deal_id == Deal.id,
            Invoice.status == "open", Invoice.due_on < overdue_before,
        ))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = (
        stmt.add_columns(Client.name, Client.phones, User.name)
        .outerjoin(User, User.id == Client.owner_id)
        .order_by(Client.name_norm, Client.id)
        .limit(limit)
        .offset(offset)
    )
    rows = await session.execute(page)
    return [ListRow(r[0], r[1], r[2], r[3]) for r in rows], total


async def clients_by_ids(session: AsyncSession, ids: list[int]) -> Sequence[Client]:
    if not ids:
        return []
    rows = await session.scalars(select(Client).where(Client.id.in_(ids)))
    by_id = {c.id: c for c in rows}
    return [by_id[i] for i in ids if i in by_id]


async def possible_duplicates(
    session: AsyncSession, phones: list[str], emails: list[str], name_word: str | None
) -> Sequence[tuple[Client, int | None]]:
    conds = [Client.phone_digits.contains(p, autoescape=True) for p in phones]
    conds += [Client.search_text.contains(e, autoescape=True) for e in emails]
    if name_word:
        conds.append(Client.name_norm.contains(name_word, autoescape=True))
    if not conds:
        return []
    rows = await session.execute(
        select(Client, User.team_id)
        .outerjoin(User, User.id == Client.owner_id)
        .where(Client.is_deleted.is_(False), or_(*conds))
        .limit(50)
    )
    return [(r[0], r[1]) for r in rows]


_CONTACTS_OF = (
    select(ContactPerson)
    .where(ContactPerson.client_id == bindparam("client_id"))
    .order_by(ContactPerson.id)
)


async def contacts_of(session: AsyncSession, client_id: int) -> Sequence[ContactPerson]:
    return (await session.scalars(_CONTACTS_OF, {"client_id": client_id})).all()


async def contact_person(session: AsyncSession, person_id: int) -> ContactPerson | None:
    return await session.get(ContactPerson, person_id)


_OPEN_DEALS = (
    select(Deal)
    .where(Deal.client_id == bindparam("client_id"), Deal.status == "open")
    .order_by(Deal.opened_at)
)


async def open_deals(session: AsyncSession, client_id: int) -> Sequence[Deal]:
    return (await session.scalars(_OPEN_DEALS, {"client_id": client_id})).all()


@dataclass(frozen=True, slots=True)
class MoneyTotals:
    invoiced: Decimal
    paid: Decimal
    overdue: Decimal

    @property
    def due(self) -> Decimal:
        return self.invoiced - self.paid


async def user_names(session: AsyncSession, ids: set[int]) -> dict[int, tuple[str, str]]:
    """id → (name, role)."""
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.name, User.role).where(User.id.in_(ids)))
    return {r[0]: (r[1], r[2]) for r in rows}
