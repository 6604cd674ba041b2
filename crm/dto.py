"""Plain data handed from `crm/` to the bot and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from crm.roles import Role
from crm.when import WorkHours


@dataclass(frozen=True, slots=True)
class Actor:
    """The user acting now, as loaded at the start of an update."""

    id: int
    tg_id: int
    name: str
    role: Role
    team_id: int | None
    timezone: str
    locale: str | None
    # Working hours (minutes since local midnight) and ISO working weekdays, as in User.
    work_start_min: int = 9 * 60
    work_end_min: int = 18 * 60
    work_days: str = "12345"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def hours(self) -> WorkHours:
        return WorkHours(self.tz, self.work_start_min, self.work_end_min, self.work_days)


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    tg_id: int
    name: str
    username: str | None
    role: Role
    team_id: int | None
    team_name: str | None
    is_active: bool
    on_vacation: bool


@dataclass(frozen=True, slots=True)
class TeamInfo:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class InviteLink:
    token: str
    role: Role
    team_id: int | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StartResult:
    actor: Actor
    created: bool
    via_invite: bool
    ignored_invite: bool = False
