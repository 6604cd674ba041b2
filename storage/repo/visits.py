"""SQL for check-ins and «Nearby»: clients in a latitude/longitude box, and a day's visits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Activity, Client, Deal, PlannedContact, User
from storage.repo.clients import Visibility, _visible


async def in_box(
    session: AsyncSession, vis: Visibility, lat_min: float, lat_max: float, lon_min: float,
    lon_max: float,
) -> list[tuple[int, float, float]]:
    """(id, lat, lon) of the visible clients inside the box (ix_clients_lat_lon)."""
    stmt = _visible(select(Client.id), vis).add_columns(Client.lat, Client.lon).where(
        Client.lat.between(lat_min, lat_max), Client.lon.between(lon_min, lon_max),
    )
    return [(r[0], r[1], r[2]) for r in await session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class NearRow:
    id: int
    name: str
    owner_name: str | None
    next_due: datetime | None
    open_deals: int


async def near_rows(session: AsyncSession, ids: list[int]) -> dict[int, NearRow]:
    """Name, manager, next planned contact and open deals of a page of clients: three
    queries whatever the page holds."""
    if not ids:
        return {}
    names = await session.execute(
        select(Client.id, Client.name, User.name)
        .outerjoin(User, User.id == Client.owner_id)
        .where(Client.id.in_(ids))
    )
    due: dict[int, datetime] = {r[0]: r[1] for r in await session.execute(
        select(PlannedContact.client_id, func.min(PlannedContact.due_at))
        .where(PlannedContact.client_id.in_(ids), PlannedContact.status == "planned")
        .group_by(PlannedContact.client_id)
    )}
    deals: dict[int, int] = {r[0]: r[1] for r in await session.execute(
        select(Deal.client_id, func.count())
        .where(Deal.client_id.in_(ids), Deal.status == "open")
        .group_by(Deal.client_id)
    )}
    return {
        cid: NearRow(cid, name, owner, due.get(cid), int(deals.get(cid, 0)))
        for cid, name, owner in names
    }


async def visits_of(
    session: AsyncSession, author_id: int, type_id: int, start: datetime, end: datetime
) -> Sequence[tuple[Activity, str]]:
    """A person's check-ins in [start, end), in order, with the client's name."""
    rows = await session.execute(
        select(Activity, Client.name)
        .join(Client, Client.id == Activity.client_id)
        .where(Activity.author_id == author_id, Activity.type_id == type_id,
               Activity.occurred_at >= start, Activity.occurred_at < end)
        .order_by(Activity.occurred_at, Activity.id)
    )
    return [(r[0], r[1]) for r in rows]
