"""Parsing of free-form user input typed on a phone (Russian and English).

All functions here are pure (no I/O, no clock access): the caller passes "now"
explicitly, which keeps them deterministic and easy to test.

Public API
----------
* :func:`parse_when` -- "завтра в 15", "пт 11", "через 2 часа", "tomorrow 3pm", "03.12 14:30"...
  (:func:`interpret_when` also says what kind of expression it was)
* :func:`parse_amount` -- "150 000,50", "1,5к", "2 млн", "$300"...
  (:func:`parse_signed_amount` keeps the sign and any size, for telling the user what is wrong)
* :func:`normalize_phone`, :func:`international_phone`, :func:`phone_digits_for_search`,
  :func:`format_phone`
* :func:`parse_probability` -- "70", "70%", "70 %"
"""

from __future__ import annotations

import calendar
import decimal
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

import phonenumbers

__all__ = [
    "ROLL_OVER_DAYS",
    "WhenParse",
    "format_phone",
    "international_phone",
    "interpret_when",
    "normalize_phone",
    "parse_amount",
    "parse_probability",
    "parse_signed_amount",
    "parse_when",
    "phone_digits_for_search",
]

# Every kind of space a phone keyboard or a copy-paste may produce.
_SPACES = "\u00a0\u2007\u2009\u200a\u202f\u2002\u2003\u2004\u2005\u2006\u2008\u205f\u3000"
_SPACE_TABLE = str.maketrans(dict.fromkeys(_SPACES, " "))
# Zero-width characters that only get in the way.
_ZERO_WIDTH_TABLE = str.maketrans(dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff", None))


def _clean(text: str) -> str:
    """Lower-case, ё→е, unify spaces, collapse whitespace."""
    s = text.translate(_ZERO_WIDTH_TABLE).translate(_SPACE_TABLE)
    s = s.lower().replace("ё", "е")
    return " ".join(s.split())


# ---------------------------------------------------------------------------
# parse_when
# ---------------------------------------------------------------------------

# Words that may precede a date/time and carry no meaning of their own.
_FILLERS = frozenset({"в", "во", "at", "on", "на", "к", "by", "@"})

_WEEKDAYS: dict[str, int] = {}
for _idx, _names in enumerate(
    (
        ("понедельник", "пн", "пон", "monday", "mon"),
        ("вторник", "вт", "tuesday", "tue", "tues"),
        ("среда", "среду", "ср", "wednesday", "wed"),
        ("четверг", "чт", "thursday", "thu", "thur", "thurs"),
        ("пятница", "пятницу", "пт", "пят", "friday", "fri"),
        ("суббота", "субботу", "сб", "суб", "saturday", "sat"),
        ("воскресенье", "вс", "вск", "sunday", "sun"),
    )
):
    for _name in _names:
        _WEEKDAYS[_name] = _idx

_MONTHS: dict[str, int] = {}
for _idx, _names in enumerate(
    (
        ("января", "январь", "янв", "january", "jan"),
        ("февраля", "февраль", "фев", "february", "feb"),
        ("марта", "март", "мар", "march", "mar"),
        ("апреля", "апрель", "апр", "april", "apr"),
        ("мая", "май", "may"),
        ("июня", "июнь", "июн", "june", "jun"),
        ("июля", "июль", "июл", "july", "jul"),
        ("августа", "август", "авг", "august", "aug"),
        ("сентября", "сентябрь", "сен", "сент", "september", "sep", "sept"),
        ("октября", "октябрь", "окт", "october", "oct"),
        ("ноября", "ноябрь", "ноя", "нояб", "november", "nov"),
        ("декабря", "декабрь", "дек", "december", "dec"),
    ),
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _idx


def _alt(words: Iterable[str]) -> str:
    """Regex alternation, longest first so that "пятницу" wins over "пят"."""
    return "|".join(sorted((re.escape(str(w)) for w in words), key=len, reverse=True))


_END = r"(?=\s|$)"
_NUM = r"[0-9]+(?:[.,][0-9]+)?"
_ONE_WORDS = r"a|an|one|один|одну|одна"

_RU_UNITS: dict[str, str] = {
    # unit stem -> canonical unit
    "минуту": "min", "минуты": "min", "минут": "min", "мин": "min", "м": "min",
    "час": "hour", "часа": "hour", "часов": "hour", "ч": "hour",
    "день": "day", "дня": "day", "дней": "day", "сутки": "day", "суток": "day", "д": "day",
    "неделю": "week", "недели": "week", "недель": "week", "нед": "week",
    "месяц": "month", "месяца": "month", "месяцев": "month", "мес": "month",
}  # fmt: skip
_EN_UNITS: dict[str, str] = {
    "minute": "min", "minutes": "min", "min": "min", "mins": "min", "m": "min",
    "hour": "hour", "hours": "hour", "hr": "hour", "hrs": "hour", "h": "hour",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week", "wk": "week", "wks": "week", "w": "week",
    "month": "month", "months": "month", "mo": "month",
}  # fmt: skip
_UNITS = {**_RU_UNITS, **_EN_UNITS}

_RE_RELATIVE = re.compile(
    r"(?:(?:через|in)\s+|\+\s*)"
    r"(?:(?P<half>полчаса|пол\s*часа|half\s+an\s+hour)"
    r"|(?:(?P<num>" + _NUM + r")\s*|(?P<one>" + _ONE_WORDS + r")\s+"
    r"|(?P<couple>пару|пара|a\s+couple\s+of|a\s+couple|couple\s+of)\s+)?"
    r"(?P<unit>" + _alt(_UNITS) + r"))" + _END
)
_RE_DAY_WORD = re.compile(
    r"(?P<word>послезавтра|после\s+завтра|day\s+after\s+tomorrow|"
    r"завтра|tomorrow|tmrw|tmr|сегодня|today|"
    r"позавчера|day\s+before\s+yesterday|вчера|yesterday)" + _END
)
_DAY_WORD_OFFSETS = {
    "послезавтра": 2, "после завтра": 2, "day after tomorrow": 2,
    "завтра": 1, "tomorrow": 1, "tmrw": 1, "tmr": 1,
    "сегодня": 0, "today": 0,
    "вчера": -1, "yesterday": -1, "позавчера": -2, "day before yesterday": -2,
}  # fmt: skip
# "3 дня назад", "a week ago": only ever in the past (a payment date, not a plan).
_RE_AGO = re.compile(
    r"(?:(?P<num>[0-9]+)\s*|(?P<one>" + _ONE_WORDS + r")\s+)?"
    r"(?P<unit>" + _alt(_UNITS) + r")\s+(?:назад|ago)" + _END
)
_RE_NEXT_WEEK = re.compile(
    r"(?:(?:(?:на|в)\s+)?(?:следующей|следующая|следующую|след)\s+(?:неделе|неделя|неделю)"
    r"|next\s+week)" + _END
)
_RE_WEEKDAY = re.compile(
    r"(?:(?:в|во|on)\s+)?"
    r"(?:(?:следующий|следующую|следующее|след|next|this|this\s+coming)\s+)?"
    r"(?P<wd>" + _alt(_WEEKDAYS) + r")" + _END
)
_RE_ISO_DATE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})" + _END)
_RE_DOT_DATE = re.compile(
    r"(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})(?:\.(?P<y>[0-9]{4}|[0-9]{2}))?" + _END
)
_RE_DAY_MONTH = re.compile(
    r"(?P<d>[0-9]{1,2})(?:st|nd|rd|th|-?го|-?е)?\s*(?P<mon>" + _alt(_MONTHS) + r")"
    r"(?:\s+(?P<y>[0-9]{4}))?" + _END
)
_RE_MONTH_DAY = re.compile(
    r"(?P<mon>" + _alt(_MONTHS) + r")\s+(?P<d>[0-9]{1,2})(?:st|nd|rd|th)?"
    r"(?:\s+(?P<y>[0-9]{4}))?" + _END
)
_TIME_PREFIX = r"(?:(?P<prefix>в|во|at|к|by|@)\s*)?"
_RE_TIME_HM = re.compile(
    _TIME_PREFIX + r"(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?:\s*(?P<ampm>am|pm))?" + _END
)
# "в 15.30" / "at 9.30": with an explicit "в"/"at" a dotted pair is a time, not a date.
_RE_TIME_DOT = re.compile(
    r"(?P<prefix>в|во|at|к|by|@)\s*(?P<h>[0-9]{1,2})\.(?P<mi>[0-9]{2})" + _END
)
_RE_TIME_AMPM = re.compile(_TIME_PREFIX + r"(?P<h>[0-9]{1,2})\s*(?P<ampm>am|pm)" + _END)
_RE_TIME_RU_PART = re.compile(
    _TIME_PREFIX + r"(?P<h>[0-9]{1,2})(?::(?P<mi>[0-9]{2}))?\s*(?:ч(?:ас|аса|асов)?\s+)?"
    r"(?P<part>утра|дня|вечера|ночи)" + _END
)
_RE_TIME_HOURS_WORD = re.compile(
    _TIME_PREFIX + r"(?P<h>[0-9]{1,2})\s*(?:ч|час|часа|часов|h|o'clock|oclock)" + _END
)
_RE_TIME_NOON = re.compile(_TIME_PREFIX + r"(?P<word>полдень|noon|полночь|midnight)" + _END)
_RE_TIME_BARE = re.compile(_TIME_PREFIX + r"(?P<h>[0-9]{1,2})" + _END)


@dataclass
class _When:
    """Accumulated pieces of a parsed date/time expression."""

    day_offset: int | None = None  # today + N days
    weekday: int | None = None  # next such weekday strictly after today
    next_week: bool = False
    explicit: tuple[int | None, int, int] | None = None  # (year or None, month, day)
    relative: tuple[str, Decimal] | None = None  # (unit, amount)
    hm: tuple[int, int] | None = None
    bare_hour: bool = False  # time given as a bare number without "в"/"at"

    def has_date(self) -> bool:
        return (
            self.day_offset is not None
            or self.weekday is not None
            or self.next_week
            or self.explicit is not None
        )


class _Reject(Exception):
    """Internal: the input is not a valid date/time expression."""


def _set_date(w: _When, **kwargs: object) -> None:
    if w.has_date() or w.relative is not None:
        raise _Reject
    for key, value in kwargs.items():
        setattr(w, key, value)


def _set_time(w: _When, h: int, mi: int, *, bare: bool = False) -> None:
    if w.hm is not None:
        raise _Reject
    if not (0 <= h <= 23 and 0 <= mi <= 59):
        raise _Reject
    w.hm = (h, mi)
    w.bare_hour = bare


def _apply_ampm(h: int, ampm: str) -> int:
    if not 1 <= h <= 12:
        raise _Reject
    if ampm == "am":
        return 0 if h == 12 else h
    return 12 if h == 12 else h + 12


def _h_relative(m: re.Match[str], w: _When) -> None:
    if w.relative is not None or w.has_date():
        raise _Reject
    if m.group("half"):
        w.relative = ("min", Decimal(30))
        return
    unit = _UNITS[m.group("unit")]
    if m.group("num"):
        amount = Decimal(m.group("num").replace(",", "."))
    elif m.group("couple"):
        amount = Decimal(2)
    else:
        # "через неделю", "in a week", "через час"; a bare single-letter unit needs a number
        if len(m.group("unit")) == 1 and not m.group("one"):
            raise _Reject
        amount = Decimal(1)
    if amount <= 0:
        raise _Reject
    if unit == "month" and amount != amount.to_integral_value():
        raise _Reject
    w.relative = (unit, amount)


def _h_ago(m: re.Match[str], w: _When) -> None:
    if w.relative is not None or w.has_date():
        raise _Reject
    unit = _UNITS[m.group("unit")]
    if unit in ("min", "hour"):
        raise _Reject  # nothing here is planned or paid "two hours ago"
    if m.group("num"):
        amount = Decimal(int(m.group("num")))
    elif len(m.group("unit")) == 1 and not m.group("one"):
        raise _Reject
    else:
        amount = Decimal(1)
    if amount <= 0:
        raise _Reject
    w.relative = (unit, -amount)


def _h_day_word(m: re.Match[str], w: _When) -> None:
    word = " ".join(m.group("word").split())
    _set_date(w, day_offset=_DAY_WORD_OFFSETS[word])


def _h_next_week(m: re.Match[str], w: _When) -> None:
    _set_date(w, next_week=True)


def _h_weekday(m: re.Match[str], w: _When) -> None:
    _set_date(w, weekday=_WEEKDAYS[m.group("wd")])


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    y = int(raw)
    return 2000 + y if len(raw) == 2 else y


def _h_numeric_date(m: re.Match[str], w: _When) -> None:
    if m.group(0).count(".") == 1 and (w.has_date() or w.relative is not None):
        # "завтра 15.30": after a date a dotted pair can only be a time.
        _set_time(w, int(m.group("d")), int(m.group("m")))
        return
    _set_date(w, explicit=(_year(m.group("y")), int(m.group("m")), int(m.group("d"))))


def _h_month_name_date(m: re.Match[str], w: _When) -> None:
    _set_date(w, explicit=(_year(m.group("y")), _MONTHS[m.group("mon")], int(m.group("d"))))


def _h_time_hm(m: re.Match[str], w: _When) -> None:
    h, mi = int(m.group("h")), int(m.group("mi"))
    if m.group("ampm"):
        h = _apply_ampm(h, m.group("ampm"))
    _set_time(w, h, mi)


def _h_time_dot(m: re.Match[str], w: _When) -> None:
    _set_time(w, int(m.group("h")), int(m.group("mi")))


def _h_time_ampm(m: re.Match[str], w: _When) -> None:
    _set_time(w, _apply_ampm(int(m.group("h")), m.group("ampm")), 0)


# Hours allowed with a Russian part-of-day word, mapped to 24h ("в 7 вечера" → 19).
_RU_PART_HOURS: dict[str, dict[int, int]] = {
    "утра": {h: h for h in range(12)},
    "дня": {12: 12, **{h: h + 12 for h in range(1, 6)}, **{h: h for h in range(13, 18)}},
    "вечера": {**{h: h + 12 for h in range(4, 12)}, **{h: h for h in range(16, 24)}},
    "ночи": {12: 0, **{h: h for h in range(6)}, **{h: h + 12 for h in range(9, 12)},
             **{h: h for h in range(21, 24)}},
}  # fmt: skip


def _h_time_ru_part(m: re.Match[str], w: _When) -> None:
    part = m.group("part")
    if part == "дня" and not m.group("prefix") and m.group("mi") is None:
        # "3 дня" alone reads as "3 days"; only "в 3 дня" / "3:30 дня" mean 15:00.
        raise _Reject
    h = _RU_PART_HOURS[part].get(int(m.group("h")))
    if h is None:
        raise _Reject
    _set_time(w, h, int(m.group("mi") or 0))


def _h_time_hours_word(m: re.Match[str], w: _When) -> None:
    _set_time(w, int(m.group("h")), 0)


def _h_time_noon(m: re.Match[str], w: _When) -> None:
    _set_time(w, 12 if m.group("word") in ("полдень", "noon") else 0, 0)


def _h_time_bare(m: re.Match[str], w: _When) -> None:
    _set_time(w, int(m.group("h")), 0, bare=not m.group("prefix"))


_Handler = Callable[[re.Match[str], _When], None]

# Order matters: more specific patterns first.
_RULES: tuple[tuple[re.Pattern[str], _Handler], ...] = (
    (_RE_AGO, _h_ago),
    (_RE_RELATIVE, _h_relative),
    (_RE_DAY_WORD, _h_day_word),
    (_RE_NEXT_WEEK, _h_next_week),
    (_RE_WEEKDAY, _h_weekday),
    (_RE_TIME_DOT, _h_time_dot),
    (_RE_ISO_DATE, _h_numeric_date),
    (_RE_DOT_DATE, _h_numeric_date),
    (_RE_DAY_MONTH, _h_month_name_date),
    (_RE_MONTH_DAY, _h_month_name_date),
    (_RE_TIME_HM, _h_time_hm),
    (_RE_TIME_AMPM, _h_time_ampm),
    (_RE_TIME_RU_PART, _h_time_ru_part),
    (_RE_TIME_HOURS_WORD, _h_time_hours_word),
    (_RE_TIME_NOON, _h_time_noon),
    (_RE_TIME_BARE, _h_time_bare),
)


def _prepare_when(text: str) -> str:
    s = _clean(text)
    s = re.sub(r"(?<![^\W\d_])([ap])\.\s?m\b\.?", r"\1m", s)  # "10 a.m." -> "10 am"
    s = re.sub(r"([0-9])t([0-9])", r"\1 \2", s)  # ISO "2026-12-03t14:30"
    s = re.sub(r",(?![0-9])", " ", s)  # commas that are not decimal commas
    s = re.sub(r"(?<=[^\W\d_])\.(?=\s|$)", " ", s)  # "пт." / "след." -> "пт" / "след"
    s = re.sub(r"[!?;]+", " ", s)
    s = re.sub(r"(?<=[0-9])[.:](?=\s|$)", " ", s)  # trailing dot after a number
    return " ".join(s.split())


def _scan(s: str) -> _When:
    w = _When()
    pos = 0
    n = len(s)
    while pos < n:
        if s[pos] == " ":
            pos += 1
            continue
        for pattern, handler in _RULES:
            m = pattern.match(s, pos)
            if m is not None:
                handler(m, w)
                pos = m.end()
                break
        else:
            # A lone filler word ("на завтра", "on friday"); anything else is garbage.
            end = s.find(" ", pos)
            end = n if end == -1 else end
            if s[pos:end] in _FILLERS and end < n:
                pos = end
                continue
            raise _Reject
    return w


def _add_months(d: datetime, months: int) -> datetime:
    total = d.month - 1 + months
    year, month = d.year + total // 12, total % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return d.replace(year=year, month=month, day=day)


def _resolve_relative(now: datetime, unit: str, amount: Decimal, w: _When) -> datetime:
    if unit in ("min", "hour"):
        if w.hm is not None:
            raise _Reject  # "через 2 часа в 15:00" is contradictory
        seconds = amount * (60 if unit == "min" else 3600)
        # Elapsed time: do the arithmetic in UTC so DST transitions are respected.
        moment = now.astimezone(UTC) + timedelta(seconds=float(seconds))
        return moment.astimezone(now.tzinfo)
    if unit == "month":
        result = _add_months(now, int(amount))
    else:
        days = amount * (7 if unit == "week" else 1)
        # Calendar days: wall-clock arithmetic keeps the time of day across DST.
        result = now + timedelta(days=float(days))
    if w.hm is not None:
        # "через 2 дня в 15:00": the day comes from the offset, the time is explicit.
        h, mi = w.hm
        result = result.replace(hour=h, minute=mi, second=0, microsecond=0)
    return result


# A date typed without a year is the first such date from this many days before today on:
# one a few days behind stays behind (a plan for it is refused as past), one further behind
# means next year ("05.01" typed on 20 December). Yesterday never silently becomes next year.
ROLL_OVER_DAYS = 60


def _resolve_explicit(
    now: datetime, year: int | None, month: int, day: int, hm: tuple[int, int] | None, dh: int,
    past: bool,
) -> datetime:
    h, mi = hm if hm is not None else (dh, 0)
    if year is not None:
        return datetime(year, month, day, h, mi, tzinfo=now.tzinfo)
    if not 1 <= month <= 12:
        raise _Reject
    date(2000, month, day)  # a day that exists in some year (29.02 in a leap one)
    # The first such date from ROLL_OVER_DAYS before today on (the last one up to
    # ROLL_OVER_DAYS after today, for a day in the past), so that across New Year too
    # a recent date stays recent: "31.12" typed on 1 January is yesterday.
    if past:
        anchor = now.date() + timedelta(days=ROLL_OVER_DAYS)
        years = range(anchor.year, anchor.year - 10, -1)
    else:
        anchor = now.date() - timedelta(days=ROLL_OVER_DAYS)
        years = range(anchor.year, anchor.year + 10)
    for y in years:  # 29.02 may need up to 8 years
        try:
            candidate = datetime(y, month, day, h, mi, tzinfo=now.tzinfo)
        except ValueError:
            continue
        if (candidate.date() <= anchor) if past else (candidate.date() >= anchor):
            return candidate
    raise _Reject


WhenKind = Literal["exact", "hours", "days"]


@dataclass(frozen=True, slots=True)
class WhenParse:
    """What a date/time expression means, and how it was said.

    ``kind`` is "hours" for an offset in minutes or hours ("через 2 часа"), "days" for a day
    named without a time by an offset or a day word ("через 3 дня", "завтра", "next week"),
    and "exact" for everything the user pinned down (a date, a weekday, a time of day).
    """

    at: datetime
    kind: WhenKind


def parse_when(text: str, now: datetime, *, default_hour: int = 10) -> datetime | None:
    """Parse a human date/time in Russian or English relative to ``now``.

    ``now`` must be an aware datetime in the user's time zone; the result is an aware datetime
    with the same ``tzinfo``, or ``None`` if the text is not understood (or describes an
    impossible date/time such as "32.13" or "25:00"). The result may lie in the past ("вчера",
    "сегодня 8:00" at noon, "01.12" on 2 December): telling the user so is the caller's job
    (see crm.when.read_when).

    Understood pieces (case-insensitive, ё = е, optional "в"/"во"/"at"/"на"/"on" fillers):

    * relative offsets: "через 2 часа", "через 30 минут", "через 3 дня", "через неделю",
      "через 2 недели", "через месяц", "через полчаса", "in 2 hours", "in a week",
      "in 3 days", "+2h". Fractions are allowed for minutes/hours/days/weeks ("через 1,5 часа").
      Relative results keep the exact minutes/seconds of ``now``. Minutes/hours are elapsed
      time (computed in UTC, DST-safe); days/weeks/months are calendar steps that keep the
      wall-clock time ("через 3 дня" at 12:00 is 12:00 three days later). A day/week/month
      offset may be combined with a time: "через 2 дня в 15:00". Backwards: "3 дня назад",
      "неделю назад", "a month ago" (days, weeks, months).
    * day words: "сегодня"/"today", "завтра"/"tomorrow", "послезавтра"/"day after tomorrow",
      "вчера"/"yesterday", "позавчера"/"day before yesterday".
    * weekdays, ru and en, full and short: "пн", "в пятницу", "fri", "next friday". A weekday
      always means the next occurrence **strictly after today** (on a Friday "пт" is the
      Friday a week later), regardless of any time given.
    * "next week" / "на следующей неделе" / "след неделе": next Monday (strictly after today).
    * dates: "03.12", "3.12.2026", "3.12.26", "2026-12-03", "3 декабря", "dec 3". Dates use
      dots (DD.MM) only; slashes are rejected because DD/MM vs MM/DD is ambiguous. A date
      without a year is the first such date from ``ROLL_OVER_DAYS`` (60) days before today on:
      a recent past date stays in the past ("01.12" typed on 2 December is 1 December of this
      year, never of the next one; "31.12" typed on 1 January is yesterday), while a date
      further behind means its next occurrence ("05.01" typed on 20 December is next
      January). 29.02 goes to the next year that has it. An explicit year
      is taken as is. Exception: a dotted pair right after "в"/"at" ("в 15.30") or after
      another date ("завтра 15.30") is a time.
    * times: "15:00", "9:30", "в 15", "at 10", "3pm", "10:30am", "15ч", "в 7 вечера",
      "в 3 дня", "полдень"/"noon". A bare number ("11") is an hour only next to a date ("пт 11")
      or after "в"/"at" ("в 15"); on its own ("15") it is rejected as ambiguous.
      A time alone means today if strictly later than ``now``, else tomorrow.

    Absolute results have seconds and microseconds set to zero; a date without a time gets
    ``default_hour``:00, also "сегодня"/"today" (even if that moment has passed).

    Wall-clock times that fall into a DST gap are returned as constructed (``fold=0``).

    Raises ``ValueError`` only for programming errors: a naive ``now`` or a ``default_hour``
    outside 0..23. Never raises for any ``text``.
    """
    found = interpret_when(text, now, default_hour=default_hour)
    return found.at if found is not None else None


def interpret_when(
    text: str, now: datetime, *, default_hour: int = 10, past: bool = False
) -> WhenParse | None:
    """:func:`parse_when` with the kind of expression (see :class:`WhenParse`).

    With ``past=True`` the text names a day that has been (a payment date), and the roll-over
    rule runs backwards: a date without a year is the last such date up to ``ROLL_OVER_DAYS``
    after today ("15.10" typed on 20 December is this October, "20.12" typed on 2 December
    is still this December, for the caller to refuse as future, "20.12" typed on 5 January
    is last December). A weekday is the latest such day
    not after today ("пт" on a Friday is today). Everything else reads as without it.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if not 0 <= default_hour <= 23:
        raise ValueError("default_hour must be within 0..23")
    s = _prepare_when(text)
    if not s:
        return None
    try:
        w = _scan(s)
        at = _resolve(w, now, default_hour, past)
    except (_Reject, ValueError, OverflowError, InvalidOperation):
        return None
    if at is None:
        return None
    return WhenParse(at, _kind(w))


def _kind(w: _When) -> WhenKind:
    if w.relative is not None and w.relative[0] in ("min", "hour"):
        return "hours"
    if w.hm is None and (w.relative is not None or w.day_offset is not None or w.next_week):
        return "days"
    return "exact"


def _resolve(w: _When, now: datetime, default_hour: int, past: bool) -> datetime | None:
    if w.relative is not None:
        return _resolve_relative(now, *w.relative, w)
    if w.bare_hour and not w.has_date():
        return None  # "15" on its own: hour? day of month? refuse to guess
    if w.explicit is not None:
        return _resolve_explicit(now, *w.explicit, w.hm, default_hour, past)

    today = now.date()
    day: date | None = None
    if w.day_offset is not None:
        day = today + timedelta(days=w.day_offset)
    elif w.weekday is not None and past:
        day = today - timedelta(days=(today.weekday() - w.weekday) % 7)
    elif w.weekday is not None:
        day = today + timedelta(days=(w.weekday - today.weekday() - 1) % 7 + 1)
    elif w.next_week:
        day = today + timedelta(days=7 - today.weekday())

    if day is None:
        if w.hm is None:
            return None
        h, mi = w.hm
        candidate = datetime.combine(today, time(h, mi), tzinfo=now.tzinfo)
        if candidate <= now:
            candidate = datetime.combine(today + timedelta(days=1), time(h, mi), tzinfo=now.tzinfo)
        return candidate

    h, mi = w.hm if w.hm is not None else (default_hour, 0)
    return datetime.combine(day, time(h, mi), tzinfo=now.tzinfo)


# ---------------------------------------------------------------------------
# parse_amount
# ---------------------------------------------------------------------------

_CURRENCY_SYMBOLS = re.compile(r"[₽$€£¥]")
_CURRENCY_WORDS = re.compile(
    r"(?<![^\W\d_])"
    r"(?:руб(?:лей|ля|ль|\.)?|р\.?|rub|rur|usd|eur|евро|долл(?:аров|ара|ар|\.)?|"
    r"dollars?|euros?|rubles?|roubles?)"
    r"(?![^\W\d_])"
)
_MULTIPLIERS: dict[str, int] = {
    "k": 10**3, "к": 10**3, "тыс": 10**3, "тысяч": 10**3, "тысячи": 10**3, "тысяча": 10**3,
    "thousand": 10**3, "thousands": 10**3, "т": 10**3,
    "m": 10**6, "м": 10**6, "mm": 10**6, "mln": 10**6, "mio": 10**6, "млн": 10**6,
    "kk": 10**6, "кк": 10**6, "million": 10**6, "millions": 10**6,
    "миллион": 10**6, "миллиона": 10**6, "миллионов": 10**6,
    "b": 10**9, "bn": 10**9, "млрд": 10**9, "billion": 10**9, "миллиард": 10**9,
    "миллиарда": 10**9, "миллиардов": 10**9,
}  # fmt: skip
_RE_AMOUNT = re.compile(
    r"(?P<num>[0-9][0-9 .,']*)\s*(?:(?P<mult>" + _alt(_MULTIPLIERS) + r")\.?)?"
)
_CENTS = Decimal("0.01")


def _group_ok(groups: list[str]) -> bool:
    """First group 1..3 digits, all further groups exactly 3 digits."""
    if any(not g.isdigit() for g in groups):
        return False
    if len(groups) == 1:
        return True
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def _parse_number(raw: str, *, has_multiplier: bool) -> Decimal | None:
    raw = raw.strip().rstrip(".,").strip()
    if not raw or not raw[-1].isdigit():
        return None
    marks = [c for c in raw if c in ".,'"]
    dec_sep: str | None = None
    if "," in marks and "." in marks:
        dec_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        if marks.count(dec_sep) != 1:
            return None
    elif marks.count(",") == 1 or marks.count(".") == 1:
        sep = "," if "," in marks else "."
        frac = raw.rsplit(sep, 1)[1]
        int_part = raw.rsplit(sep, 1)[0].replace(" ", "").replace("'", "")
        # Exactly three digits after a single separator is a thousands group ("1,500",
        # "1.500") -- unless a multiplier follows ("1,500k" is 1.5k) or the integer part is 0.
        thousands = len(frac) == 3 and not has_multiplier and int_part not in ("", "0")
        dec_sep = None if thousands else sep
    if dec_sep is not None:
        int_raw, frac = raw.rsplit(dec_sep, 1)
        if not frac.isdigit():
            return None
    else:
        int_raw, frac = raw, ""
    int_raw = int_raw.strip()
    if not int_raw:
        return None
    # Normalise every remaining thousands separator to a space and check grouping.
    groups = re.split(r"[ .,']", int_raw)
    if any(g == "" for g in groups):
        return None
    if not _group_ok(groups):
        return None
    return Decimal("".join(groups) + ("." + frac if frac else ""))


def parse_amount(text: str) -> Decimal | None:
    """Parse a money amount typed by a human; return a positive Decimal with 2 places.

    Accepted: "150000", "150 000", "150 000,50", "150,000.50", "150.000,50", "1.5k", "1,5к",
    "2 млн", "2m", "1.5кк", "10 тыс", "10 тыс.", "₽ 1 200", "1200 руб", "1200р", "1200 rub",
    "$300", "300 usd". Regular, non-breaking, thin and narrow spaces are all thousands
    separators. Currency symbols/words are ignored (no conversion).

    Ambiguity rules:

    * Spaces (of any kind) and apostrophes are only ever thousands separators; groups after
      the first must have exactly 3 digits ("12 34" → None).
    * If both "," and "." occur, the last one is the decimal separator and the other one the
      thousands separator ("150,000.50" and "150.000,50" → 150000.50).
    * A single "," or "." followed by exactly 3 digits is a thousands separator ("1,500" →
      1500, "1.500" → 1500), except when a multiplier follows ("1,500k" → 1500) or the integer
      part is 0 ("0,125" → 0.13). Otherwise a single separator is decimal ("1,50" → 1.50,
      "1.5" → 1.50, "1,2345" → 1.23).
    * The same separator repeated is always thousands ("1,000,000" → 1000000).
    * Multipliers: k/к/т/тыс/тысяч/thousand = 10³; m/м/млн/mln/kk/кк/million = 10⁶;
      b/bn/млрд/billion = 10⁹.
    * The result is rounded half-up to 2 decimal places.

    Returns None for negative numbers, zero (also after rounding), garbage, or numbers too big
    to represent with cent precision.
    """
    value = parse_signed_amount(text)
    if value is None or value <= 0:
        return None  # negative amounts (or ranges like "100-200") are not accepted
    try:
        result = value.quantize(_CENTS, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    if result <= 0:
        return None
    return result


# Enough digits for anything that fits into a Telegram message (4096 characters) times a
# multiplier: the value is exact, however absurd, so that "too large" can be told apart.
_WIDE = decimal.Context(prec=5000, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def parse_signed_amount(text: str) -> Decimal | None:
    """The number in an amount typed by a human, exactly, with its sign and of any size.

    The same forms as :func:`parse_amount`, plus one leading minus ("-5000", "−5 000",
    "- 1,5к"): "-5000" → -5000, "10^15" typed out → 10^15. No rounding, no check that the
    amount is positive or storable: that is what lets the caller say *what* is wrong
    ("must be positive", "too large") instead of "not understood". Ranges ("100-200"),
    garbage and numbers in scientific notation give None.
    """
    s = _clean(text)
    s = _CURRENCY_SYMBOLS.sub(" ", s)
    s = _CURRENCY_WORDS.sub(" ", s)
    s = " ".join(s.split())
    sign = 1
    if s[:1] in ("-", "−", "–"):
        sign, s = -1, s[1:].lstrip()
    elif s[:1] == "+":
        s = s[1:].lstrip()
    if not s or any(c in s for c in "-−–+"):
        return None
    m = _RE_AMOUNT.fullmatch(s)
    if m is None:
        return None
    mult = m.group("mult")
    with decimal.localcontext(_WIDE):
        try:
            value = _parse_number(m.group("num"), has_multiplier=mult is not None)
            if value is None:
                return None
            if mult is not None:
                value *= _MULTIPLIERS[mult]
            return value * sign
        except InvalidOperation:
            return None


# ---------------------------------------------------------------------------
# Phones
# ---------------------------------------------------------------------------

_RE_PHONE_LABEL = re.compile(r"^(?:тел|телефон|моб|mob|tel|phone|т)\.?\s*:?\s*")
_RE_PHONE_EXT = re.compile(r"(?:доб|ext|extension|x|#)\.?\s*[0-9]{1,6}$")
_RE_PHONE_CHARS = re.compile(r"\+?[0-9 ()\-./]+")


def normalize_phone(text: str, default_region: str = "RU") -> str | None:
    """Canonical phone for storage and search: E.164 digits without the '+'.

    "+7 (916) 123-45-67", "8 916 123 45 67", "89161234567", "79161234567" and "9161234567"
    (with ``default_region="RU"``) all become "79161234567". Numbers written with "+" (or the
    "00"/"810" international prefixes) keep their own country code: "+44 20 7946 0958" →
    "442079460958". An optional "тел:"/"tel:" label and extension ("доб. 12", "ext 12") are
    dropped. Letters elsewhere, or a number that is not a *possible* full number for its
    country (length check by ``phonenumbers``; local-only numbers without an area code are
    rejected), give None.
    """
    s = _clean(text)
    s = _RE_PHONE_LABEL.sub("", s)
    s = _RE_PHONE_EXT.sub("", s).strip()
    if not s or _RE_PHONE_CHARS.fullmatch(s) is None:
        return None
    if s.startswith("00"):
        s = "+" + s[2:]
    try:
        number = phonenumbers.parse(s, default_region)
    except phonenumbers.NumberParseException:
        return None
    # IS_POSSIBLE_LOCAL_ONLY ("123-45-67" without an area code) is not good enough to store.
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def international_phone(text: str) -> str | None:
    """A number known to be international, with or without its "+": a Telegram contact's
    phone ("442079460958") or a stored one. Returns "+" and the E.164 digits
    ("+442079460958"), which :func:`normalize_phone` reads back unchanged, or None.

    Stored digits must not be given to :func:`normalize_phone` as they are: without the "+"
    they read as a number of ``default_region`` ("4930123456" would become a Russian one).
    """
    digits = _clean(text).lstrip("+")
    canonical = normalize_phone("+" + digits) if digits.isdigit() else None
    return "+" + canonical if canonical is not None else None


def phone_digits_for_search(text: str) -> str:
    """Digits of what the user typed, for partial (substring) matching of stored phones.

    Everything but ASCII digits is dropped; an 11-digit number with a leading 8 (Russian
    trunk prefix) gets 7 instead: "8 916 123-45-67" → "79161234567", "123-45-67" → "1234567".
    """
    digits = "".join(c for c in text if "0" <= c <= "9")
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return digits


def format_phone(e164_digits: str) -> str:
    """Human form of a stored phone: "79161234567" → "+7 916 123-45-67".

    Uses the phonenumbers INTERNATIONAL format. If the digits cannot be parsed, returns
    "+" followed by the digits (or the input unchanged when it contains no digits).
    """
    digits = "".join(c for c in e164_digits if "0" <= c <= "9")
    if not digits:
        return e164_digits
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return "+" + digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# ---------------------------------------------------------------------------
# Probability
# ---------------------------------------------------------------------------

_RE_PROBABILITY = re.compile(r"([0-9]{1,3})\s*%?")


def parse_probability(text: str) -> int | None:
    """Deal probability in percent: "70", "70%", "70 %" → 70; outside 0..100 or junk → None."""
    m = _RE_PROBABILITY.fullmatch(_clean(text))
    if m is None:
        return None
    value = int(m.group(1))
    return value if 0 <= value <= 100 else None
