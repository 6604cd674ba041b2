"""Field visits: checking in at a client with a location, the clients near me, and a
manager's day's route for their head.

A visit is a history record of the «Visit» type whose `details` hold where it was made:
``{"lat", "lon", "distance_km" (to the client's known place, or null), "far"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import can_change
from crm.classifiers import VISIT
from crm.clients import load_changeable, load_visible, visibility
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import Forbidden, InvalidInput, NotAvailable, valid_id
from crm.geo import Point, box_around, haversine_km
from crm.history import log_contact
from crm.roles import Role, can_list_people
from storage.db import Database
from storage.repo import classifiers as cls_repo
from storage.repo import people as people_repo
from storage.repo import visits as repo

NEARBY_PAGE = 10
# «Nearby» starts with this radius and widens it until enough clients are inside.
START_RADIUS_KM = 1.0
WIDEN = 4.0
# Half the Earth's circumference: a circle this wide holds the whole globe.
HALF_EARTH_KM = 20_016.0


@dataclass(frozen=True, slots=True)
class CheckIn:
    activity_id: int
    client_id: int
    client_name: str
    deal_id: int | None
    distance_km: float | None  # to the client's known place; None: it has none yet
    far: bool
    # The client has no place yet and the actor may set it: ask them to confirm this one.
    may_set_place: bool


@dataclass(frozen=True, slots=True)
class NearbyClient:
    id: int
    name: str
    distance_km: float
    owner_name: str | None
    next_due: datetime | None
    open_deals: int


@dataclass(frozen=True, slots=True)
class NearbyPage:
    items: list[NearbyClient]
    page: int
    has_more: bool
    shows_owner: bool


@dataclass(frozen=True, slots=True)
class RouteStop:
    activity_id: int
    client_id: int
    client_name: str
    at: datetime
    distance_km: float | None  # from the client's known place at check-in
    far: bool
    since_previous: timedelta | None
    km_from_previous: float | None


@dataclass(frozen=True, slots=True)
class DayRoute:
    user_id: int
    name: str
    day: date
    tz: ZoneInfo
    stops: list[RouteStop]

    @property
    def total_km(self) -> float:
        return sum(s.km_from_previous or 0.0 for s in self.stops)


def _place(details: object) -> Point | None:
    if not isinstance(details, dict):
        return None
    lat, lon = details.get("lat"), details.get("lon")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        return Point(float(lat), float(lon))
    return None


def route_stops(visits: list[tuple[int, int, str, datetime, dict[str, object] | None]]
                ) -> list[RouteStop]:
    """(activity id, client id, client name, time, details) in order → the stops with the
    time and the straight-line distance from the previous one."""
    stops: list[RouteStop] = []
    prev_at: datetime | None = None
    prev_place: Point | None = None
    for activity_id, client_id, name, at, details in visits:
        place = _place(details)
        d = details or {}
        dist = d.get("distance_km")
        stops.append(RouteStop(
            activity_id, client_id, name, at,
            float(dist) if isinstance(dist, (int, float)) else None, bool(d.get("far")),
            at - prev_at if prev_at is not None else None,
            haversine_km(prev_place, place) if prev_place and place else None,
        ))
        prev_at, prev_place = at, place
    return stops


class VisitService:
    def __init__(self, db: Database, clock: Clock, far_km: float) -> None:
        self.db = db
        self.clock = clock
        self.far_km = far_km

    async def check_in(self, actor: Actor, client_id: int, where: Point) -> CheckIn:
        """A «Visit» record at the client, with where it was made and how far that is from
        the client's known place. Anyone who may see the card may check in."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            kind = await cls_repo.item_by_code(s, "activity_type", VISIT)
            if kind is None:
                raise InvalidInput("activity_type")
            known = Point(client.lat, client.lon) if client.lat is not None and \
                client.lon is not None else None
            distance = haversine_km(known, where) if known else None
            far = distance is not None and distance > self.far_km
            logged = await log_contact(
                s, actor, now, client.id, kind.id, None, None,
                details={"lat": where.lat, "lon": where.lon,
                         "distance_km": round(distance, 4) if distance is not None else None,
                         "far": far},
            )
            return CheckIn(logged.activity_id, client.id, client.name, logged.deal_id,
                           distance, far, known is None and can_change(actor, own))

    async def set_place(self, actor: Actor, client_id: int, where: Point) -> str:
        """The client's place (from a check-in there); returns the client's name."""
        async with self.db.transaction() as s:
            client = await load_changeable(s, actor, client_id)
            old = (client.lat, client.lon)
            client.lat, client.lon = where.lat, where.lon
            people_repo.audit(s, actor.id, "client.place", "client", client.id,
                              {"old": list(old), "new": [where.lat, where.lon]},
                              self.clock.now())
            return client.name

    async def _closest(self, s: AsyncSession, actor: Actor, center: Point,
                       need: int) -> list[tuple[float, int]]:
        """(km, id) of the `need` visible clients closest to `center`, closest first.

        The SQL narrows to a box around the centre; only what lies within the box's inscribed
        circle is surely closer than anything outside, so the box widens until that circle
        holds `need` clients (or the whole globe).
        """
        vis = visibility(actor)
        radius = START_RADIUS_KM
        while True:
            box = box_around(center, radius)
            rows = await repo.in_box(s, vis, box.lat_min, box.lat_max, box.lon_min, box.lon_max)
            found = sorted((haversine_km(center, Point(lat, lon)), cid) for cid, lat, lon in rows)
            if radius >= HALF_EARTH_KM:
                return found[:need]
            inside = [f for f in found if f[0] <= radius]
            if len(inside) >= need:
                return inside[:need]
            radius = min(radius * WIDEN, HALF_EARTH_KM)

    async def nearby(self, actor: Actor, where: Point, page: int = 0,
                     size: int = NEARBY_PAGE) -> NearbyPage:
        """The clients the actor sees (a manager's own, a head's team's, an admin's all) that
        have a place, closest first, a page of `size`."""
        page = max(page, 0)
        async with self.db.transaction() as s:
            closest = await self._closest(s, actor, where, (page + 1) * size + 1)
            chunk = closest[page * size:(page + 1) * size]
            rows = await repo.near_rows(s, [cid for _, cid in chunk])
        items = [
            NearbyClient(cid, rows[cid].name, km, rows[cid].owner_name, rows[cid].next_due,
                         rows[cid].open_deals)
            for km, cid in chunk if cid in rows
        ]
        vis = visibility(actor)
        return NearbyPage(items, page, len(closest) > (page + 1) * size,
                          vis.everything or vis.team_id is not None)

    async def route(self, actor: Actor, user_id: int, day: date | None = None) -> DayRoute:
        """A person's check-ins of one day (their own day, in their time zone), for a head of
        their team or an admin."""
        if not can_list_people(actor.role):
            raise Forbidden()
        async with self.db.transaction() as s:
            person = await people_repo.user_by_id(s, valid_id(user_id))
            if person is None:
                raise NotAvailable()
            if not (actor.role is Role.ADMIN or person.id == actor.id or (
                    actor.team_id is not None and person.team_id == actor.team_id)):
                raise NotAvailable()
            tz = ZoneInfo(person.timezone)
            day = day or self.clock.now().astimezone(tz).date()
            start = datetime.combine(day, time(0), tzinfo=tz)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
            kind = await cls_repo.item_by_code(s, "activity_type", VISIT)
            rows = await repo.visits_of(s, person.id, kind.id, start, end) if kind else []
            stops = route_stops([(a.id, a.client_id, name, a.occurred_at, a.details)
                                 for a, name in rows])
            return DayRoute(person.id, person.name, day, tz, stops)
