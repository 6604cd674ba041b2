"""Tests for crm.parsing and crm.search_norm (pure functions, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crm.parsing import (
    ROLL_OVER_DAYS,
    format_phone,
    normalize_phone,
    parse_amount,
    parse_probability,
    parse_when,
    phone_digits_for_search,
)
from crm.search_norm import (
    fuzzy_matches,
    normalize_name_for_dedup,
    normalize_text,
    within_one_typo,
)

MSK = ZoneInfo("Europe/Moscow")
# Wednesday, 25 November 2026, 12:00 Moscow time.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=MSK)


def at(y: int, mo: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MSK)


def test_now_is_wednesday() -> None:
    assert NOW.weekday() == 2


# ---------------------------------------------------------------------------
# parse_when: examples
# ---------------------------------------------------------------------------

WHEN_CASES: list[tuple[str, datetime]] = [
    # day words
    ("сегодня 15:00", at(2026, 11, 25, 15)),
    ("Сегодня в 15:00", at(2026, 11, 25, 15)),
    ("завтра", at(2026, 11, 26)),
    ("ЗАВТРА", at(2026, 11, 26)),
    ("завтра 15:00", at(2026, 11, 26, 15)),
    ("завтра в 15", at(2026, 11, 26, 15)),
    ("завтра в 15:00", at(2026, 11, 26, 15)),
    ("на завтра", at(2026, 11, 26)),
    ("послезавтра 9:30", at(2026, 11, 27, 9, 30)),
    ("послезавтра", at(2026, 11, 27)),
    ("tomorrow 3pm", at(2026, 11, 26, 15)),
    ("tomorrow at 10:30am", at(2026, 11, 26, 10, 30)),
    ("Tomorrow at 10:30 AM", at(2026, 11, 26, 10, 30)),
    ("today 18:00", at(2026, 11, 25, 18)),
    ("day after tomorrow", at(2026, 11, 27)),
    # relative
    ("через 2 часа", at(2026, 11, 25, 14)),
    ("через час", at(2026, 11, 25, 13)),
    ("через 30 минут", at(2026, 11, 25, 12, 30)),
    ("через полчаса", at(2026, 11, 25, 12, 30)),
    ("через 1,5 часа", at(2026, 11, 25, 13, 30)),
    ("через 3 дня", at(2026, 11, 28, 12)),
    ("через неделю", at(2026, 12, 2, 12)),
    ("через 2 недели", at(2026, 12, 9, 12)),
    ("через месяц", at(2026, 12, 25, 12)),
    ("через 2 дня в 15:00", at(2026, 11, 27, 15)),
    ("in 2 hours", at(2026, 11, 25, 14)),
    ("in 3 days", at(2026, 11, 28, 12)),
    ("in a week", at(2026, 12, 2, 12)),
    ("in an hour", at(2026, 11, 25, 13)),
    ("in 45 min", at(2026, 11, 25, 12, 45)),
    # weekdays: always strictly after today (today is Wednesday)
    ("пт 11", at(2026, 11, 27, 11)),
    ("в пятницу", at(2026, 11, 27)),
    ("пятница 14:00", at(2026, 11, 27, 14)),
    ("в пятницу в 14:00", at(2026, 11, 27, 14)),
    ("пн", at(2026, 11, 30)),
    ("fri 10am", at(2026, 11, 27, 10)),
    ("ср", at(2026, 12, 2)),  # today is Wednesday -> next week's Wednesday
    ("в среду", at(2026, 12, 2)),
    ("wed 18:00", at(2026, 12, 2, 18)),
    ("во вторник", at(2026, 12, 1)),
    ("в пт. в 11", at(2026, 11, 27, 11)),
    ("пт, 11:00", at(2026, 11, 27, 11)),
    # next week -> next Monday
    ("next week", at(2026, 11, 30)),
    ("следующей неделе", at(2026, 11, 30)),
    ("на следующей неделе", at(2026, 11, 30)),
    ("на следующей неделе в 15:00", at(2026, 11, 30, 15)),
    # dates
    ("03.12 14:30", at(2026, 12, 3, 14, 30)),
    ("03.12", at(2026, 12, 3)),
    ("3.12.2026", at(2026, 12, 3)),
    ("3.12.26", at(2026, 12, 3)),
    ("2026-12-03 14:30", at(2026, 12, 3, 14, 30)),
    ("2026-12-03T14:30", at(2026, 12, 3, 14, 30)),
    ("2026-12-03", at(2026, 12, 3)),
    ("3 декабря", at(2026, 12, 3)),
    ("3 декабря в 14:30", at(2026, 12, 3, 14, 30)),
    ("dec 3", at(2026, 12, 3)),
    ("20.11", at(2026, 11, 20)),  # a few days behind: this year (the caller says "past")
    ("25.11", at(2026, 11, 25)),  # today's date without time stays today
    ("25.11 11:00", at(2026, 11, 25, 11)),  # earlier today: still today, never next year
    ("25.11 13:00", at(2026, 11, 25, 13)),
    ("26.09", at(2026, 9, 26)),  # 60 days behind: still this year
    ("25.09", at(2027, 9, 25)),  # 61 days behind: next year
    ("01.01", at(2027, 1, 1)),
    ("29.02", at(2028, 2, 29)),  # next existing 29 Feb
    ("вчера", at(2026, 11, 24)),
    ("вчера 15:00", at(2026, 11, 24, 15)),
    ("yesterday", at(2026, 11, 24)),
    ("позавчера", at(2026, 11, 23)),
    ("3 дня назад", at(2026, 11, 22, 12)),
    ("неделю назад", at(2026, 11, 18, 12)),
    ("a month ago", at(2026, 10, 25, 12)),
    # bare times: today if still ahead, else tomorrow
    ("15:00", at(2026, 11, 25, 15)),
    ("11:00", at(2026, 11, 26, 11)),
    ("12:00", at(2026, 11, 26, 12)),  # equal to now is not in the future
    ("в 15", at(2026, 11, 25, 15)),
    ("at 9", at(2026, 11, 26, 9)),
    ("3pm", at(2026, 11, 25, 15)),
    ("10 a.m.", at(2026, 11, 26, 10)),
    ("12am", at(2026, 11, 26, 0)),
    ("в 7 вечера", at(2026, 11, 25, 19)),
    ("завтра в 9 утра", at(2026, 11, 26, 9)),
    ("в 3 дня", at(2026, 11, 25, 15)),
    ("в 11 ночи", at(2026, 11, 25, 23)),
    ("завтра в полдень", at(2026, 11, 26, 12)),
    ("завтра 15ч", at(2026, 11, 26, 15)),
    ("  завтра   в   15  ", at(2026, 11, 26, 15)),
    ("в 15.30", at(2026, 11, 25, 15, 30)),  # dotted time after "в"
    ("завтра 15.30", at(2026, 11, 26, 15, 30)),  # dotted pair after a date is a time
    ("15:00 завтра", at(2026, 11, 26, 15)),  # order does not matter
]


@pytest.mark.parametrize(("text", "expected"), WHEN_CASES)
def test_parse_when_examples(text: str, expected: datetime) -> None:
    result = parse_when(text, NOW)
    assert result == expected
    assert result is not None
    assert result.tzinfo is MSK


@pytest.mark.parametrize(
    "day",
    [
        ("понедельник", "пн", "monday", "mon", "Понедельник"),
        ("вторник", "вт", "tuesday", "tue"),
        ("среда", "среду", "ср", "wednesday", "wed"),
        ("четверг", "чт", "thursday", "thu"),
        ("пятница", "пятницу", "пт", "friday", "fri"),
        ("суббота", "субботу", "сб", "saturday", "sat"),
        ("воскресенье", "вс", "sunday", "sun"),
    ],
)
def test_parse_when_weekday_names(day: tuple[str, ...]) -> None:
    results = {parse_when(name, NOW) for name in day}
    results |= {parse_when("в " + name, NOW) for name in day}
    assert len(results) == 1
    (result,) = results
    assert result is not None
    assert NOW.date() < result.date() <= NOW.date() + timedelta(days=7)
    assert (result.hour, result.minute) == (10, 0)


@pytest.mark.parametrize(
    "text",
    [
        "32.13",
        "31.02",
        "25:00",
        "24:00",
        "12:60",
        "13pm",
        "абракадабра",
        "",
        "   ",
        "15",  # a bare number alone is ambiguous
        "3 дня",  # "3 days" without "через" is not a time
        "завтра послезавтра",
        "завтра 10:00 11:00",
        "через 2 часа в 15:00",
        "через",
        "через -2 часа",
        "через 0 минут",
        "через 99999999999 дней",
        "03/12",
        "hello tomorrow",
        "30.02.2026",
        "в 25.30",
        "завтра в",
        "в",
    ],
)
def test_parse_when_rejects(text: str) -> None:
    assert parse_when(text, NOW) is None


def test_parse_when_default_hour() -> None:
    assert parse_when("завтра", NOW, default_hour=9) == at(2026, 11, 26, 9)
    assert parse_when("next week", NOW, default_hour=14) == at(2026, 11, 30, 14)


def test_parse_when_weekday_on_same_day_means_next_week() -> None:
    friday = datetime(2026, 11, 27, 8, 0, tzinfo=MSK)
    assert parse_when("пт", friday) == at(2026, 12, 4)
    assert parse_when("пт 11", friday) == at(2026, 12, 4, 11)
    assert parse_when("суббота", friday) == at(2026, 11, 28)


def test_parse_when_next_week_from_monday_and_sunday() -> None:
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=MSK)
    sunday = datetime(2026, 11, 29, 9, 0, tzinfo=MSK)
    assert parse_when("next week", monday) == at(2026, 12, 7)
    assert parse_when("на следующей неделе", sunday) == at(2026, 11, 30)


def test_parse_when_relative_keeps_minutes_absolute_zeroes_seconds() -> None:
    now = datetime(2026, 11, 25, 12, 17, 42, 123456, tzinfo=MSK)
    assert parse_when("через 2 часа", now) == now + timedelta(hours=2)
    assert parse_when("через 3 дня", now) == now + timedelta(days=3)
    absolute = parse_when("завтра 15:00", now)
    assert absolute == at(2026, 11, 26, 15)
    assert absolute is not None
    assert (absolute.second, absolute.microsecond) == (0, 0)


def test_parse_when_hours_are_elapsed_time_across_dst() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 3, 29, 1, 30, tzinfo=berlin)  # clocks jump 02:00 -> 03:00
    result = parse_when("через 1 час", now)
    assert result is not None
    assert result.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=1)
    assert (result.hour, result.minute) == (3, 30)
    # Days are calendar days: same wall-clock time.
    day_later = parse_when("через 1 день", now)
    assert day_later is not None
    assert (day_later.day, day_later.hour, day_later.minute) == (30, 1, 30)


def test_parse_when_requires_aware_now() -> None:
    with pytest.raises(ValueError):
        parse_when("завтра", datetime(2026, 11, 25, 12, 0))
    with pytest.raises(ValueError):
        parse_when("завтра", NOW, default_hour=24)


# ---------------------------------------------------------------------------
# parse_when: properties
# ---------------------------------------------------------------------------

# A representative set of zones (st.timezones() is ~1 s slower per test): DST in both
# hemispheres, a 30-minute DST shift, half/quarter-hour offsets, fixed offsets and UTC.
_ZONES = [
    MSK,
    ZoneInfo("Europe/Berlin"),
    ZoneInfo("America/New_York"),
    ZoneInfo("America/Sao_Paulo"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("Pacific/Chatham"),
    timezone(timedelta(hours=-9, minutes=-30)),
    UTC,
]
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2090, 12, 31),
    timezones=st.sampled_from(_ZONES),
)


@settings(max_examples=200, deadline=None)
@given(now=aware_datetimes, n=st.integers(min_value=1, max_value=365))
def test_prop_relative_days(now: datetime, n: int) -> None:
    expected = now + timedelta(days=n)
    assert parse_when(f"через {n} дней", now) == expected
    assert parse_when(f"in {n} days", now) == expected


@settings(max_examples=200, deadline=None)
@given(now=aware_datetimes, n=st.integers(min_value=1, max_value=1000))
def test_prop_relative_hours_are_elapsed(now: datetime, n: int) -> None:
    result = parse_when(f"через {n} часов", now)
    assert result is not None
    assert result.astimezone(UTC) == now.astimezone(UTC) + timedelta(hours=n)
    assert parse_when(f"in {n} hours", now) == result


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31)),
    tz=st.sampled_from(_ZONES),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2000, 12, 31)),  # leap year
    hour=st.integers(min_value=0, max_value=23),
    minute=st.integers(min_value=0, max_value=59),
)
def test_prop_dd_mm_hh_mm_roundtrip_recent_past_stays_this_year(
    now: datetime, tz: tzinfo, day: date, hour: int, minute: int
) -> None:
    now = now.replace(tzinfo=tz)
    result = parse_when(f"{day.day:02d}.{day.month:02d} {hour:02d}:{minute:02d}", now)
    assert result is not None
    assert (result.day, result.month, result.hour, result.minute) == (
        day.day,
        day.month,
        hour,
        minute,
    )
    assert (result.second, result.microsecond) == (0, 0)
    assert result.tzinfo is tz
    if (day.month, day.day) == (2, 29):
        assert now.year <= result.year <= now.year + 8
        return
    # The first such date from ROLL_OVER_DAYS before today on: a recent past date is never
    # moved a year on (also across New Year); only one far behind means its next occurrence.
    anchor = now.date() - timedelta(days=ROLL_OVER_DAYS)
    assert anchor <= result.date() < anchor + timedelta(days=366)


_WHEN_TOKENS = [
    "через", "in", "a", "в", "во", "at", "на", "завтра", "сегодня", "послезавтра", "tomorrow",
    "today", "пт", "пятницу", "fri", "mon", "next", "week", "следующей", "неделе", "часа",
    "дня", "дней", "минут", "hours", "days", "вечера", "утра", "ночи", "pm", "am", "3pm",
    "15:00", "25:00", "9:30", "03.12", "32.13", "29.02", "3.12.2026", "2026-12-03", "0", "1",
    "12", "15", "99999999999999", "1,5", "полчаса", "декабря", "dec", "+", ",", ".", "-",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(text=st.text(), now=aware_datetimes)
def test_prop_parse_when_never_raises_on_arbitrary_text(text: str, now: datetime) -> None:
    result = parse_when(text, now)
    assert result is None or (result.tzinfo is not None and result.utcoffset() is not None)


@settings(max_examples=200, deadline=None)
@given(
    tokens=st.lists(st.sampled_from(_WHEN_TOKENS), max_size=5),
    seps=st.sampled_from([" ", "  ", "\u00a0", ""]),
    now=aware_datetimes,
)
def test_prop_parse_when_never_raises_on_token_soup(
    tokens: list[str], seps: str, now: datetime
) -> None:
    result = parse_when(seps.join(tokens), now)
    assert result is None or (result.tzinfo is now.tzinfo and result.utcoffset() is not None)


# ---------------------------------------------------------------------------
# parse_amount
# ---------------------------------------------------------------------------

AMOUNT_CASES: list[tuple[str, str]] = [
    ("150000", "150000.00"),
    ("150 000", "150000.00"),
    ("150 000,50", "150000.50"),
    ("150,000.50", "150000.50"),
    ("150.000,50", "150000.50"),
    ("1.5k", "1500.00"),
    ("1,5к", "1500.00"),
    ("1,5 К", "1500.00"),
    ("2 млн", "2000000.00"),
    ("2m", "2000000.00"),
    ("2M", "2000000.00"),
    ("1.5кк", "1500000.00"),
    ("10 тыс", "10000.00"),
    ("10 тыс.", "10000.00"),
    ("5 млрд", "5000000000.00"),
    ("₽ 1 200", "1200.00"),
    ("1200 руб", "1200.00"),
    ("1200 руб.", "1200.00"),
    ("1200р", "1200.00"),
    ("1200 rub", "1200.00"),
    ("$300", "300.00"),
    ("300 USD", "300.00"),
    ("€ 99,90", "99.90"),
    ("150\u00a0000", "150000.00"),
    ("150\u202f000,50", "150000.50"),
    ("1\u2009234\u2009567,89", "1234567.89"),
    ("1,500", "1500.00"),  # single comma + exactly 3 digits = thousands
    ("1.500", "1500.00"),  # same for a dot
    ("1,50", "1.50"),  # otherwise decimal
    ("1,5", "1.50"),
    ("1.5", "1.50"),
    ("0,125", "0.13"),  # integer part 0 -> decimal, rounded half up
    ("1,2345", "1.23"),
    ("1,000,000", "1000000.00"),
    ("1'000", "1000.00"),
    ("+100", "100.00"),
    ("0.01", "0.01"),
]


@pytest.mark.parametrize(("text", "expected"), AMOUNT_CASES)
def test_parse_amount_examples(text: str, expected: str) -> None:
    result = parse_amount(text)
    assert result == Decimal(expected)
    assert result is not None
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0",
        "0,00",
        "0.004",
        "-5",
        "-1 200",
        "−300",
        "abc",
        "сто рублей",
        "12 34",
        "1.2.3",
        "1,000.000,5",
        "1e5",
        "NaN",
        "Infinity",
        "100-200",
        "руб",
        "$",
        "k",
        "9" * 40,
    ],
)
def test_parse_amount_rejects(text: str) -> None:
    assert parse_amount(text) is None


_THOUSANDS_SEPS = st.sampled_from([" ", "\u00a0", "\u2009", "\u202f"])


def _format_amount(value: Decimal, sep: str, dec: str) -> str:
    int_part, frac = f"{value:.2f}".split(".")
    groups: list[str] = []
    while len(int_part) > 3:
        groups.insert(0, int_part[-3:])
        int_part = int_part[:-3]
    groups.insert(0, int_part)
    return sep.join(groups) + dec + frac


@settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(
        min_value=Decimal("0.01"),
        max_value=Decimal("999999999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    sep=_THOUSANDS_SEPS,
    suffix=st.sampled_from(["", " руб", " ₽", "р"]),
)
def test_prop_parse_amount_roundtrip(value: Decimal, sep: str, suffix: str) -> None:
    assert parse_amount(_format_amount(value, sep, ",") + suffix) == value
    assert parse_amount(_format_amount(value, ",", ".")) == value


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_prop_parse_amount_never_raises(text: str) -> None:
    result = parse_amount(text)
    assert result is None or (result > 0 and result.as_tuple().exponent == -2)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="0123456789 .,'kкмm-+$₽", max_size=20))
def test_prop_parse_amount_never_raises_on_numberish_text(text: str) -> None:
    result = parse_amount(text)
    assert result is None or result > 0


# ---------------------------------------------------------------------------
# phones
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+7 (916) 123-45-67",
        "8 916 123 45 67",
        "89161234567",
        "9161234567",
        "79161234567",
        "+79161234567",
        "8(916)123-45-67",
        "тел: 8 916 123-45-67",
        "+7 916 123 45 67 доб. 12",
        "+7\u00a0916\u00a0123\u201145\u201167".replace("\u2011", "-"),
    ],
)
def test_normalize_phone_ru(text: str) -> None:
    assert normalize_phone(text) == "79161234567"


def test_normalize_phone_foreign_keeps_country_code() -> None:
    assert normalize_phone("+44 20 7946 0958") == "442079460958"
    assert normalize_phone("0044 20 7946 0958") == "442079460958"
    assert normalize_phone("+1 650 253 0000") == "16502530000"
    assert normalize_phone("(650) 253-0000", default_region="US") == "16502530000"


@pytest.mark.parametrize(
    "text", ["", "abc", "12345", "123-45-67", "+7 916", "позвони 89161234567", "+++", "0"]
)
def test_normalize_phone_rejects(text: str) -> None:
    assert normalize_phone(text) is None


def test_phone_digits_for_search() -> None:
    assert phone_digits_for_search("123-45-67") == "1234567"
    assert phone_digits_for_search("8 916 123-45-67") == "79161234567"
    assert phone_digits_for_search("+7 (916) 123-45-67") == "79161234567"
    assert phone_digits_for_search("916") == "916"
    assert phone_digits_for_search("8916") == "8916"  # only 11-digit numbers are remapped
    assert phone_digits_for_search("abc") == ""


def test_format_phone() -> None:
    assert format_phone("79161234567") == "+7 916 123-45-67"
    assert format_phone("442079460958") == "+44 20 7946 0958"
    assert format_phone(normalize_phone("8 916 123 45 67") or "") == "+7 916 123-45-67"


@settings(max_examples=200, deadline=None)
@given(rest=st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_prop_phone_formats_agree(rest: str) -> None:
    d = "9" + rest
    variants = [
        f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"8{d}",
        f"8 {d[:3]} {d[3:6]} {d[6:8]} {d[8:]}",
        d,
    ]
    assert {normalize_phone(v) for v in variants} == {"7" + d}
    assert phone_digits_for_search(variants[1]) == "7" + d


# ---------------------------------------------------------------------------
# parse_probability
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70", 70),
        ("70%", 70),
        ("70 %", 70),
        (" 5 % ", 5),
        ("0", 0),
        ("100", 100),
        ("100%", 100),
        ("101", None),
        ("-1", None),
        ("1000", None),
        ("", None),
        ("abc", None),
        ("7 0", None),
        ("70.5", None),
    ],
)
def test_parse_probability(text: str, expected: int | None) -> None:
    assert parse_probability(text) == expected


# ---------------------------------------------------------------------------
# search_norm
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ООО «Ёлка-Плюс»", "ооо елка плюс"),
        ('  "Рога  и Копыта"  ', "рога и копыта"),
        ("ЁЖИК ёжик", "ежик ежик"),
        ("O'Neil & Co.", "o neil co"),
        ("Company\u00a0Name,\tLtd.", "company name ltd"),
        ("Дом №5, кв. 12", "дом no5 кв 12"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('ООО "Иванов"', "иванов"),
        ("иванов ооо", "иванов"),
        ("ИП Иванов И.И.", "иванов и и"),
        ("Acme Inc.", "acme"),
        ("ACME, LLC", "acme"),
        ("Siemens GmbH", "siemens"),
        ("Общество с ограниченной ответственностью «Ромашка»", "ромашка"),
        ("ПАО «Ёлка»", "елка"),
        ("ООО", "ооо"),  # nothing left -> keep the plain normalised text
    ],
)
def test_normalize_name_for_dedup(text: str, expected: str) -> None:
    assert normalize_name_for_dedup(text) == expected


def test_within_one_typo() -> None:
    assert within_one_typo("иванов", "иванов")
    assert within_one_typo("ивонов", "иванов")  # substitution
    assert within_one_typo("иванв", "иванов")  # deletion
    assert within_one_typo("иваннов", "иванов")  # insertion
    assert within_one_typo("ивнаов", "иванов")  # transposition
    assert within_one_typo("Ёлка", "елка")
    assert not within_one_typo("ивонав", "иванов")
    # short queries: exact prefix only
    assert within_one_typo("ив", "иванов")
    assert not within_one_typo("ио", "иванов")
    assert not within_one_typo("", "иванов")


def test_fuzzy_matches() -> None:
    assert fuzzy_matches("ивонов", "Иванова Мария")
    assert fuzzy_matches("иван", "Иванова Мария")
    assert fuzzy_matches("мар ива", "Иванова Мария")
    assert fuzzy_matches("мария ивонов", "Иванова Мария")
    assert fuzzy_matches("елка", "ООО «Ёлка-Плюс»")
    assert fuzzy_matches("", "что угодно")
    assert not fuzzy_matches("петров", "Иванова Мария")
    assert not fuzzy_matches("ива петров", "Иванова Мария")
    assert not fuzzy_matches("ио", "Иванова")  # short query: no typo tolerance


CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя"


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_prop_normalize_text_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@settings(max_examples=200, deadline=None)
@given(
    word=st.text(alphabet=CYRILLIC, min_size=5, max_size=15),
    other=st.text(alphabet=CYRILLIC, min_size=1, max_size=10),
    data=st.data(),
)
def test_prop_fuzzy_one_deletion(word: str, other: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(word) - 1))
    query = word[:i] + word[i + 1 :]  # still >= 4 letters
    assert fuzzy_matches(query, word)
    assert fuzzy_matches(query, f"{other} {word}")
    assert within_one_typo(query, word)


@settings(max_examples=200, deadline=None)
@given(
    word=st.text(alphabet=CYRILLIC, min_size=4, max_size=15),
    other=st.text(alphabet=CYRILLIC, min_size=1, max_size=10),
    data=st.data(),
)
def test_prop_fuzzy_one_substitution(word: str, other: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(min_value=0, max_value=len(word) - 1))
    ch = data.draw(st.sampled_from(CYRILLIC))
    assume(ch != word[i])
    query = word[:i] + ch + word[i + 1 :]
    assert fuzzy_matches(query, word)
    assert fuzzy_matches(query, f"{word} {other}")
    assert within_one_typo(query, word)


@settings(max_examples=200, deadline=None)
@given(word=st.text(alphabet=CYRILLIC, min_size=1, max_size=15), data=st.data())
def test_prop_fuzzy_prefix_always_matches(word: str, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=1, max_value=len(word)))
    assert fuzzy_matches(word[:k].upper(), word)
