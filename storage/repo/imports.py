"""SQL for importing and exporting clients: what the duplicate check reads of the whole base,
bulk inserts of clients and their contact persons (Core ``INSERT … VALUES`` batches), and
what an export reads of the clients in a scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Activity,
    AuditLog,
    ClassifierItem,
    Client,
    ContactPerson,
    Deal,
    PlannedContact,
    Stage,
    User,
)
from storage.repo.clients import Visibility, _visible


@dataclass(frozen=True, slots=True)
class Existing:
    """What the duplicate check needs of a client in the base."""

    id: int
    name_norm: str
    phone_digits: str
    emails: str | None
    tax_number: str | None


async def dedup_rows(session: AsyncSession) -> list[Existing]:
    """Every client not deleted, with what the duplicate check compares (all of them, not
    only the importer's: a client of another team is a duplicate as well)."""
    rows = await session.execute(
        select(Client.id, Client.name_norm, Client.phone_digits, Client.emails, Client.tax_number)
        .where(Client.is_deleted.is_(False))
    )
    return [Existing(r[0], r[1], r[2] or "", r[3], r[4]) for r in rows]


async def classifier_items(
    session: AsyncSession, kinds: Sequence[str]
) -> list[tuple[int, str, str, str, str]]:
    """(id, kind, code, name_ru, name_en) of every item of these kinds, hidden ones too (a
    value naming a hidden item is that item)."""
    rows = await session.execute(
        select(ClassifierItem.id, ClassifierItem.kind, ClassifierItem.code,
               ClassifierItem.name_ru, ClassifierItem.name_en)
        .where(ClassifierItem.kind.in_(kinds))
        .order_by(ClassifierItem.is_active.desc(), ClassifierItem.id)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def item_id(session: AsyncSession, kind: str, code: str) -> int | None:
    return await session.scalar(
        select(ClassifierItem.id).where(ClassifierItem.kind == kind, ClassifierItem.code == code)
    )


async def ensure_items(
    session: AsyncSession, wanted: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str], int]:
    """Create the (kind, code, label) items not there yet, at the end of their kind's
    order, the label in both languages; returns the ones created."""
    made: dict[tuple[str, str], int] = {}
    last: dict[str, int] = {}
    for kind, code, label in wanted:
        if (kind, code) in made or await item_id(session, kind, code) is not None:
            continue
        if kind not in last:
            last[kind] = await session.scalar(
                select(func.coalesce(func.max(ClassifierItem.sort_order), 0))
                .where(ClassifierItem.kind == kind)
            ) or 0
        last[kind] += 10
        item = ClassifierItem(kind=kind, code=code, name_ru=label[:100], name_en=label[:100],
                              sort_order=last[kind], is_active=True)
        session.add(item)
        await session.flush()
        made[(kind, code)] = item.id
    return made


async def insert_clients(
    session: AsyncSession, rows: Sequence[tuple[dict[str, Any], list[str]]], now: datetime
) -> int:
    """Insert clients (column values) with their contact persons (names); returns how many.

    One multi-row INSERT per few hundred clients. The contact persons need their client's
    id: RETURNING gives (id, name_norm), matched back by name_norm, which differs between
    the new clients of one import (they were told apart by their names' duplicate key). A
    batch where two names share it anyway (a name cut at 300 characters) is inserted with
    the ids returned in order, which SQLAlchemy does a row at a time on SQLite.
    """
    if not rows:
        return 0
    table = cast(Table, Client.__table__)
    values = [v for v, _ in rows]
    if not any(names for _, names in rows):
        await session.execute(insert(table), values)
        return len(rows)
    norms = [v["name_norm"] for v in values]
    if len(set(norms)) != len(norms):
        result = await session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), values)
        ids = [r[0] for r in result]
    elif _dialect(session) == "sqlite":
        # SQLAlchemy runs an INSERT … RETURNING a row at a time on SQLite; the driver's own
        # executemany is one loop in C. The transaction holds SQLite's write lock (BEGIN
        # IMMEDIATE), so the rows past the largest id before are exactly these.
        before = await session.scalar(select(func.coalesce(func.max(Client.id), 0))) or 0
        await session.execute(insert(table), values)
        found = await session.execute(
            select(Client.id, Client.name_norm).where(Client.id > before))
        by_norm = {r[1]: r[0] for r in found}
        ids = [by_norm[n] for n in norms]
    else:
        result = await session.execute(insert(table).returning(table.c.id, table.c.name_norm),
                                       values)
        by_norm = {r[1]: r[0] for r in result}
        ids = [by_norm[n] for n in norms]
    contacts = [
        {"client_id": client_id, "name": name[:200], "position": None, "phone": None,
         "email": None, "created_at": now}
        for client_id, (_, names) in zip(ids, rows, strict=True)
        for name in names
    ]
    if contacts:
        await session.execute(insert(cast(Table, ContactPerson.__table__)), contacts)
    return len(rows)


def _dialect(session: AsyncSession) -> str:
    assert session.bind is not None
    return session.bind.dialect.name


async def import_done(session: AsyncSession, import_id: int) -> dict[str, Any] | None:
    """The counts of an import already recorded under this id, or None."""
    details = await session.scalar(
        select(AuditLog.details)
        .where(AuditLog.action == "clients.imported", AuditLog.entity == "import",
               AuditLog.entity_id == import_id)
        .limit(1)
    )
    return dict(details or {}) if details is not None else None


async def active_users(
    session: AsyncSession, roles: Sequence[str], team_id: int | None
) -> Sequence[User]:
    stmt = (
        select(User)
        .where(User.is_active.is_(True), User.role.in_(roles))
        .order_by(User.name, User.id)
    )
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    return (await session.scalars(stmt)).all()


# --------------------------------------------------------------------------- export


@dataclass(frozen=True, slots=True)
class ExportClient:
    id: int
    name: str
    phones: str | None
    emails: str | None
    tax_number: str | None
    address: str | None
    classifier_ids: dict[str, int | None]
    trigger_event: str | None
    probability: int | None
    owner_name: str | None


@dataclass(frozen=True, slots=True)
class ExportDeal:
    title: str
    stage_ru: str
    stage_en: str
    amount: Decimal
    currency: str


@dataclass(slots=True)
class ExportData:
    clients: list[ExportClient]
    contacts: dict[int, list[str]]
    deals: dict[int, list[ExportDeal]]
    last_contact: dict[int, datetime]
    next_contact: dict[int, datetime]


_KINDS = ("region", "industry", "segment", "source", "campaign")


async def export_data(
    session: AsyncSession, vis: Visibility, ids: Sequence[int] | None
) -> ExportData:
    """The visible clients (only these ids, when given), by name, with what the export
    shows of each; five statements whatever their number."""
    scope = _visible(select(Client.id), vis)
    if ids is not None:
        scope = scope.where(Client.id.in_(list(ids)))
    sub = scope.scalar_subquery()
    rows = await session.execute(
        select(Client.id, Client.name, Client.phones, Client.emails, Client.tax_number,
               Client.address, Client.region_id, Client.industry_id, Client.segment_id,
               Client.source_id, Client.campaign_id, Client.trigger_event,
               Client.probability, User.name)
        .outerjoin(User, User.id == Client.owner_id)
        .where(Client.id.in_(sub))
        .order_by(Client.name_norm, Client.id)
    )
    clients = []
    for r in rows:
        kinds = cast("list[int | None]", list(r[6:11]))
        clients.append(ExportClient(r[0], r[1], r[2], r[3], r[4], r[5],
                                    dict(zip(_KINDS, kinds, strict=True)),
                                    r[11], r[12], r[13]))
    contacts: dict[int, list[str]] = {}
    for client_id, name in await session.execute(
        select(ContactPerson.client_id, ContactPerson.name)
        .where(ContactPerson.client_id.in_(sub)).order_by(ContactPerson.id)
    ):
        contacts.setdefault(client_id, []).append(name)
    deals: dict[int, list[ExportDeal]] = {}
    for client_id, title, ru, en, amount, currency in await session.execute(
        select(Deal.client_id, Deal.title, Stage.name_ru, Stage.name_en, Deal.amount,
               Deal.currency)
        .join(Stage, Stage.id == Deal.stage_id)
        .where(Deal.client_id.in_(sub), Deal.status == "open").order_by(Deal.opened_at)
    ):
        deals.setdefault(client_id, []).append(ExportDeal(title, ru, en, amount, currency))
    last = {
        r[0]: r[1] for r in await session.execute(
            select(Activity.client_id, func.max(Activity.occurred_at))
            .where(Activity.client_id.in_(sub), Activity.type_id.is_not(None))
            .group_by(Activity.client_id)
        )
    }
    nxt = {
        r[0]: r[1] for r in await session.execute(
            select(PlannedContact.client_id, func.min(PlannedContact.due_at))
            .where(PlannedContact.client_id.in_(sub), PlannedContact.status == "planned")
            .group_by(PlannedContact.client_id)
        )
    }
    return ExportData(clients, contacts, deals, last, nxt)
