"""When things happen: a user's working hours, the quick times, and typed times checked
against now.

The quick times have one meaning wherever they are offered (the card's next-step buttons, the
reminder's "no answer · in 2 h", typed «через 3 дня»):

* "2h" — two real hours from now (elapsed time, also across a clock change); if that is
  outside the user's working hours, the start of the next working period, which is when its
  reminder would fire anyway;
* "tom10" — tomorrow at 10:00; "3d" — in three days at 10:00; "nextw" — next Monday at 10:00.
  A day that is a day off for the user becomes the next working day, and 10:00 outside the
  user's working hours becomes the start of them.

Typed times are refused rather than guessed: "not understood" (``when``), "in the past"
(``when_past``) and "too far ahead" (``when_far``) are three different errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from crm.errors import InvalidInput
from crm.parsing import interpret_when

if TYPE_CHECKING:
    from storage.models import User

QUICK_HOUR = 10  # "tomorrow 10:00"; also the hour of "in 3 days" and "next week"
QUICK_CODES = ("2h", "tom10", "3d", "nextw")
# Plans further ahead than this are typos ("2062" for "2026"), not plans.
MAX_AHEAD = timedelta(days=366 * 2)


@dataclass(frozen=True, slots=True)
class WorkHours:
    tz: ZoneInfo
    start_min: int
    end_min: int
    days: str  # ISO weekdays, "12345"

    @classmethod
    def of(cls, user: User) -> WorkHours:
        return cls(ZoneInfo(user.timezone), user.work_start_min, user.work_end_min,
                   user.work_days)

    @property
    def bounds(self) -> tuple[int, int]:
        start, end = self.start_min, self.end_min
        if not 0 <= start < end <= 24 * 60:
            return 0, 24 * 60  # nonsense hours: treat the whole day as working
        return start, end

    @property
    def any_day(self) -> bool:
        """False when no working day is configured: then nothing is ever held back."""
        return any(str(d) in self.days for d in range(1, 8))

    def works_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.days


def at_local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as an aware UTC datetime."""
    minute = max(0, min(minute, 24 * 60 - 1))
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def effective_fire_time(due_at: datetime, hours: WorkHours) -> datetime:
    """`due_at` if it is inside working hours, else the start of the next working period."""
    if not hours.any_day:
        return due_at
    start, end = hours.bounds
    local = due_at.astimezone(hours.tz)
    minute = local.hour * 60 + local.minute
    today = local.date()
    if hours.works_on(today):
        if start <= minute < end:
            return due_at
        if minute < start:
            return at_local(today, start, hours.tz)
    return next_work_start(due_at, hours)


def next_work_start(now: datetime, hours: WorkHours) -> datetime:
    """The start of working hours on the first working day after the local today."""
    start, _ = hours.bounds
    today = now.astimezone(hours.tz).date()
    for i in range(1, 8):
        day = today + timedelta(days=i)
        if hours.works_on(day):
            return at_local(day, start, hours.tz)
    return at_local(today + timedelta(days=1), start, hours.tz)


@dataclass(frozen=True, slots=True)
class When:
    """A time to plan for, and whether it had to move to fit the user's working week
    (so that the confirmation can say so: "Saturday is a day off: planned for Monday")."""

    due: datetime  # aware, in the user's zone
    moved_from_day_off: bool = False  # the day asked for is a day off: the next working one
    moved_out_of_hours: bool = False  # the time asked for is outside working hours

    @property
    def moved(self) -> bool:
        return self.moved_from_day_off or self.moved_out_of_hours


def working_day_at(day: date, hours: WorkHours, minute: int = QUICK_HOUR * 60) -> When:
    """`minute` past midnight on `day`, or on the first working day after it if `day` is a
    day off; a `minute` outside working hours becomes the start of them."""
    if not hours.any_day:
        return When(at_local(day, minute, hours.tz).astimezone(hours.tz))
    work_day = day
    while not hours.works_on(work_day):
        work_day += timedelta(days=1)
    start, end = hours.bounds
    outside = not start <= minute < end
    due = at_local(work_day, start if outside else minute, hours.tz).astimezone(hours.tz)
    return When(due, moved_from_day_off=work_day != day, moved_out_of_hours=outside)


def within_hours(moment: datetime, hours: WorkHours) -> When:
    """`moment`, or the start of the next working period if it falls outside working hours."""
    due = effective_fire_time(moment, hours)
    if due == moment:
        return When(moment.astimezone(hours.tz))
    day_off = not hours.works_on(moment.astimezone(hours.tz).date())
    return When(due.astimezone(hours.tz), moved_from_day_off=day_off,
                moved_out_of_hours=not day_off)


def quick_when(code: str, now: datetime, hours: WorkHours) -> When:
    """The time a quick button means (see the module docstring); InvalidInput("when") for
    an unknown code (callback data can be forged)."""
    if code == "2h":
        later = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(hours=2)
        return within_hours(later, hours)
    today = now.astimezone(hours.tz).date()
    offsets = {"tom10": 1, "3d": 3, "nextw": 7 - today.weekday()}
    if code not in offsets:
        raise InvalidInput("when")
    return working_day_at(today + timedelta(days=offsets[code]), hours)


def check_future(due: datetime, now: datetime) -> datetime:
    """InvalidInput("when_past") before now, InvalidInput("when_far") beyond MAX_AHEAD."""
    if due < now:
        raise InvalidInput("when_past")
    if due > now + MAX_AHEAD:
        raise InvalidInput("when_far")
    return due


def read_when(text: str, now: datetime, hours: WorkHours) -> When:
    """The next contact's time as typed (see crm.parsing.parse_when for what is understood).

    Raises InvalidInput with code ``when`` (not understood), ``when_past`` ("вчера",
    "сегодня 8:00" after 8:00, "01.12 10:00" typed on 2 December — never moved to next year)
    or ``when_far`` (more than two years ahead).

    An offset in hours or minutes ("через 2 часа") follows the "2h" button: outside working
    hours it moves to the start of the next working period. A day named without a time by an
    offset or a day word ("через 3 дня", "завтра", "на следующей неделе") is that day at
    10:00, moved off a day off like the "3d", "tom10" and "nextw" buttons. Anything the user
    pinned down (a date, a weekday, a time of day) is taken as typed.
    """
    local = now.astimezone(hours.tz)
    found = interpret_when(text, local, default_hour=QUICK_HOUR)
    if found is None:
        raise InvalidInput("when")
    # Checked before any moving: yesterday must not turn into the next working morning.
    check_future(found.at, now)
    if found.kind == "hours":
        result = within_hours(found.at, hours)
    elif found.kind == "days":
        result = working_day_at(found.at.date(), hours)
    else:
        result = When(found.at)
    check_future(result.due, now)
    return result


def read_date(text: str, now: datetime, tz: ZoneInfo) -> date:
    """A day ahead as typed: a deal's expected close, an invoice's due date.

    Today is fine; an earlier day is InvalidInput("when_past") (a date without a year a few
    days behind is *not* next year's, see crm.parsing.ROLL_OVER_DAYS), more than two years
    ahead InvalidInput("when_far"), not understood InvalidInput("when").
    """
    local = now.astimezone(tz)
    found = interpret_when(text, local, default_hour=QUICK_HOUR)
    if found is None:
        raise InvalidInput("when")
    day = found.at.date()
    if day < local.date():
        raise InvalidInput("when_past")
    if found.at > now + MAX_AHEAD:
        raise InvalidInput("when_far")
    return day
