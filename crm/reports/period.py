"""The period of a report: local dates, both ends included, in the user's time zone.

Each bound is converted to UTC on its own (local midnight → UTC), so a period across a DST
change is 23 or 25 hours longer or shorter, never off by an hour at either end.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

# A typed period longer than this is a typo, not a report anyone needs in a chat.
MAX_DAYS = 731
# The days a picked period may have (the bounds of a report button's day numbers too).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


class PeriodKind(StrEnum):
    TODAY = "d"
    WEEK = "w"
    MONTH = "m"
    LAST_MONTH = "lm"
    QUARTER = "q"
    YEAR = "y"
    CUSTOM = "c"


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    start: date
    end: date  # included

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of the first day to local midnight after the
        last."""
        return utc_midnight(self.start, tz), utc_midnight(self.end + timedelta(days=1), tz)


def utc_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _add_months(day: date, months: int, *, keep_month_end: bool = False) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = monthrange(year, month + 1)[1]
    is_end = day.day == monthrange(day.year, day.month)[1]
    return date(year, month + 1, last if keep_month_end and is_end else min(day.day, last))


def period_of(kind: PeriodKind, today: date) -> Period:
    """A named period as of `today` (local). "This …" ends today: the rest has no figures."""
    if kind is PeriodKind.TODAY:
        return Period(kind, today, today)
    if kind is PeriodKind.WEEK:
        return Period(kind, today - timedelta(days=today.weekday()), today)
    if kind is PeriodKind.MONTH:
        return Period(kind, today.replace(day=1), today)
    if kind is PeriodKind.LAST_MONTH:
        end = today.replace(day=1) - timedelta(days=1)
        return Period(kind, end.replace(day=1), end)
    if kind is PeriodKind.QUARTER:
        return Period(kind, date(today.year, (today.month - 1) // 3 * 3 + 1, 1), today)
    if kind is PeriodKind.YEAR:
        return Period(kind, date(today.year, 1, 1), today)
    raise ValueError("a custom period has typed dates")


_MONTHS = {PeriodKind.MONTH: 1, PeriodKind.LAST_MONTH: 1, PeriodKind.QUARTER: 3,
           PeriodKind.YEAR: 12}


def previous(period: Period) -> Period:
    """The period to compare with, of the same length: the days just before for a day, a
    week and typed dates; the same span of the previous month, quarter or year for those
    (1–2 Dec → 1–2 Nov; all of November → all of October)."""
    months = _MONTHS.get(period.kind)
    if months is None:
        end = period.start - timedelta(days=1)
        return Period(period.kind, end - timedelta(days=period.days - 1), end)
    whole = period.kind is PeriodKind.LAST_MONTH
    return Period(period.kind, _add_months(period.start, -months),
                  _add_months(period.end, -months, keep_month_end=whole))


_DAY = r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?"
_RANGE = re.compile(rf"^\s*{_DAY}\s*(?:[-–—]|\.\.)\s*{_DAY}\s*$")
_ONE = re.compile(rf"^\s*{_DAY}\s*$")


class PeriodError(ValueError):
    """code: "format" (not dates), "date" (no such day), "order", "long"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    year = int(raw) + 2000 if len(raw) == 2 else int(raw)
    if not 2000 <= year <= 2100:
        raise PeriodError("date")
    return year


def _day(d: str, m: str, y: int) -> date:
    try:
        return date(y, int(m), int(d))
    except ValueError:
        raise PeriodError("date") from None


def parse_period(text: str, today: date) -> Period:
    """Typed dates: «01.11–30.11», "1.11-30.11", "1.11.25 - 15.1.26", or one day "15.11".

    A date without a year is in the current year, unless that is still ahead: then the
    previous one ("01.12–31.12" typed in January is the December just past)."""
    match = _RANGE.match(text)
    if match:
        d1, m1, y1, d2, m2, y2 = match.groups()
    else:
        one = _ONE.match(text)
        if not one:
            raise PeriodError("format")
        d1, m1, y1 = one.groups()
        d2, m2, y2 = d1, m1, y1
    for d, m in ((d1, m1), (d2, m2)):
        _day(d, m, 2000)  # a day that exists in some year (2000 is a leap one)
    year1, year2 = _year(y1), _year(y2)
    if year1 is None:
        if year2 is not None:
            year1 = year2 if _safe(d1, m1, year2) <= _safe(d2, m2, year2) else year2 - 1
        else:
            year1 = today.year if _safe(d1, m1, today.year) <= today else today.year - 1
    start = _day(d1, m1, year1)
    if year2 is None:
        year2 = start.year if _safe(d2, m2, start.year) >= start else start.year + 1
    end = _day(d2, m2, year2)
    if end < start:
        raise PeriodError("order")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError("long")
    return Period(PeriodKind.CUSTOM, start, end)


def _safe(d: str, m: str, y: int) -> date:
    """The day, or for 29 Feb of a common year the 28th: only to compare with today."""
    return date(y, int(m), min(int(d), monthrange(y, int(m))[1]))


_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def picked_period(start: str, end: str) -> Period:
    """Dates picked in a date picker (the Mini App's), as YYYY-MM-DD — nothing else of what
    date.fromisoformat would take; the same codes as parse_period: "format" (missing or not
    such a date), "date" (no such day, or outside 2000–2100), "order", "long"."""
    days = []
    for raw in (start, end):
        if not _ISO.fullmatch(raw or ""):
            raise PeriodError("format")
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise PeriodError("date") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            raise PeriodError("date")
        days.append(day)
    first, last = days
    if last < first:
        raise PeriodError("order")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError("long")
    return Period(PeriodKind.CUSTOM, first, last)
