"""A user's own settings: time zone, working hours and days, the daily digest.

Typed values are parsed and validated here; the bot only shows and asks. Changing the time
zone or the working hours moves the reminders already waiting for working hours, so that
what the user just set is what they get.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.errors import InvalidInput, NotAvailable
from crm.notifications import REMINDER
from crm.when import WorkHours, effective_fire_time
from storage.db import Database
from storage.models import User
from storage.repo import notify as notify_repo
from storage.repo import outbox as outbox_repo
from storage.repo import people as repo

# The Russian time zones, west to east: (IANA name, UTC offset in hours).
RUSSIAN_ZONES: tuple[tuple[str, int], ...] = (
    ("Europe/Kaliningrad", 2),
    ("Europe/Moscow", 3),
    ("Europe/Samara", 4),
    ("Asia/Yekaterinburg", 5),
    ("Asia/Omsk", 6),
    ("Asia/Krasnoyarsk", 7),
    ("Asia/Irkutsk", 8),
    ("Asia/Yakutsk", 9),
    ("Asia/Vladivostok", 10),
    ("Asia/Magadan", 11),
    ("Asia/Kamchatka", 12),
)
DAY = 24 * 60
ALL_DAYS = "1234567"

_CLOCK = r"([0-9]{1,2})(?:[:.]([0-9]{2}))?"
_RE_HOURS = re.compile(
    rf"^(?:с|from)?\s*{_CLOCK}\s*(?:-|–|—|до|to)\s*{_CLOCK}$", re.IGNORECASE
)
_RE_TIME = re.compile(rf"^{_CLOCK}$")


@cache
def _zones_by_lower() -> dict[str, str]:
    return {z.lower(): z for z in available_timezones()}


def parse_timezone(text: str) -> str:
    """An IANA time zone name, in any letter case; anything else is `InvalidInput("timezone")`."""
    name = _zones_by_lower().get(text.strip().lower())
    if name is None:
        raise InvalidInput("timezone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise InvalidInput("timezone") from err
    return name


def _minute(h: str, m: str | None, *, end: bool = False) -> int | None:
    hour, minute = int(h), int(m or 0)
    if minute > 59:
        return None
    value = hour * 60 + minute
    # 24:00 closes a day; it opens none.
    return value if value < DAY or (end and value == DAY) else None


def parse_work_hours(text: str) -> tuple[int, int]:
    """"9-18", "09:00–18:30", "с 9 до 18" → (start, end) in minutes since local midnight."""
    found = _RE_HOURS.match(text.strip())
    if found is None:
        raise InvalidInput("work_hours")
    start = _minute(found[1], found[2])
    end = _minute(found[3], found[4], end=True)
    if start is None or end is None or start >= end:
        raise InvalidInput("work_hours")
    return start, end


def parse_time_of_day(text: str) -> int:
    """"9:30", "09:30", "9.30", "9" → minutes since midnight."""
    found = _RE_TIME.match(text.strip())
    value = _minute(found[1], found[2]) if found else None
    if value is None:
        raise InvalidInput("time_of_day")
    return value


def with_day(days: str, day: int, on: bool) -> str:
    """Working days with ISO weekday `day` set on or off; at least one day stays.

    Setting rather than toggling: a double tap of the same button changes nothing more."""
    if not 1 <= day <= 7:
        raise InvalidInput("work_days")
    mark = str(day)
    result = "".join(d for d in ALL_DAYS if (d == mark and on) or (d != mark and d in days))
    if not result:
        raise InvalidInput("work_days_empty")
    return result


@dataclass(frozen=True, slots=True)
class UserSettings:
    locale: str
    timezone: str
    work_start_min: int
    work_end_min: int
    work_days: str
    digest_enabled: bool
    digest_time_min: int  # in effect: the user's own or the deployment's
    utc_offset_min: int  # of the time zone, now


def _offset_min(zone: str, now: datetime) -> int:
    offset = now.astimezone(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds()) // 60 if offset is not None else 0


class SettingsService:
    def __init__(self, db: Database, clock: Clock, config: CRMConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config

    def _view(self, user: User) -> UserSettings:
        return UserSettings(
            locale=user.locale or self.config.default_locale,
            timezone=user.timezone,
            work_start_min=user.work_start_min,
            work_end_min=user.work_end_min,
            work_days=user.work_days,
            digest_enabled=user.digest_enabled,
            digest_time_min=user.digest_time_min
            if user.digest_time_min is not None else self.config.notify.digest_time_min,
            utc_offset_min=_offset_min(user.timezone, self.clock.now()),
        )

    async def _user(self, s: AsyncSession, actor: Actor) -> User:
        user = await repo.user_by_id(s, actor.id)
        if user is None or not user.is_active:
            raise NotAvailable()
        return user

    async def get(self, actor: Actor) -> UserSettings:
        async with self.db.transaction() as s:
            return self._view(await self._user(s, actor))

    async def set_timezone(self, actor: Actor, name: str) -> UserSettings:
        zone = parse_timezone(name)
        async with self.db.transaction() as s:
            user = await self._user(s, actor)
            user.timezone = zone
            await self._after_hours_change(s, user, {"timezone": zone})
            return self._view(user)

    async def set_work_hours(self, actor: Actor, text: str) -> UserSettings:
        start, end = parse_work_hours(text)
        async with self.db.transaction() as s:
            user = await self._user(s, actor)
            user.work_start_min, user.work_end_min = start, end
            await self._after_hours_change(s, user, {"start": start, "end": end})
            return self._view(user)

    async def set_work_day(self, actor: Actor, day: int, on: bool) -> UserSettings:
        async with self.db.transaction() as s:
            user = await self._user(s, actor)
            user.work_days = with_day(user.work_days, day, on)
            await self._after_hours_change(s, user, {"days": user.work_days})
            return self._view(user)

    async def set_digest_enabled(self, actor: Actor, enabled: bool) -> UserSettings:
        async with self.db.transaction() as s:
            user = await self._user(s, actor)
            user.digest_enabled = enabled
            self._audit(s, user, {"digest": enabled})
            return self._view(user)

    async def set_digest_time(self, actor: Actor, text: str) -> UserSettings:
        minute = parse_time_of_day(text)
        async with self.db.transaction() as s:
            user = await self._user(s, actor)
            user.digest_time_min = minute
            user.digest_enabled = True  # setting a time means wanting the digest
            self._audit(s, user, {"digest_time_min": minute})
            return self._view(user)

    def _audit(self, s: AsyncSession, user: User, details: dict[str, object]) -> None:
        repo.audit(s, user.id, "user.settings", "user", user.id, details, self.clock.now())

    async def _after_hours_change(
        self, s: AsyncSession, user: User, details: dict[str, object]
    ) -> None:
        """Reminders waiting for working hours fire by the new ones."""
        self._audit(s, user, details)
        now = self.clock.now()
        waiting = await outbox_repo.pending_future_of_user(s, REMINDER, user.id, now)
        if not waiting:
            return
        hours = WorkHours.of(user)
        states = await notify_repo.planned_states(
            s, {int(row.payload["planned_id"]) for row in waiting}
        )
        for row in waiting:
            state = states.get(int(row.payload["planned_id"]))
            if state is None:
                continue  # the reconciliation of the next tick cancels it
            fire_at: datetime = max(effective_fire_time(state[1], hours), now)
            row.due_at = fire_at
            row.payload = {**row.payload, "fire_at": fire_at.isoformat()}
