"""The report period: named periods, the previous one, typed dates, UTC bounds across time
zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.reports.period import (
    MAX_DAYS,
    Period,
    PeriodError,
    PeriodKind,
    parse_period,
    period_of,
    picked_period,
    previous,
)

K = PeriodKind
WED = date(2026, 11, 25)


@pytest.mark.parametrize(("kind", "start", "end"), [
    (K.TODAY, date(2026, 11, 25), date(2026, 11, 25)),
    (K.WEEK, date(2026, 11, 23), date(2026, 11, 25)),
    (K.MONTH, date(2026, 11, 1), date(2026, 11, 25)),
    (K.LAST_MONTH, date(2026, 10, 1), date(2026, 10, 31)),
    (K.QUARTER, date(2026, 10, 1), date(2026, 11, 25)),
    (K.YEAR, date(2026, 1, 1), date(2026, 11, 25)),
])
def test_named_periods(kind: PeriodKind, start: date, end: date) -> None:
    assert period_of(kind, WED) == Period(kind, start, end)


@pytest.mark.parametrize(("period", "start", "end"), [
    (period_of(K.TODAY, WED), date(2026, 11, 24), date(2026, 11, 24)),
    (period_of(K.WEEK, WED), date(2026, 11, 20), date(2026, 11, 22)),
    (period_of(K.MONTH, WED), date(2026, 10, 1), date(2026, 10, 25)),
    (period_of(K.LAST_MONTH, WED), date(2026, 9, 1), date(2026, 9, 30)),
    (period_of(K.LAST_MONTH, date(2026, 3, 5)), date(2026, 1, 1), date(2026, 1, 31)),
    (period_of(K.MONTH, date(2026, 3, 31)), date(2026, 2, 1), date(2026, 2, 28)),
    (period_of(K.QUARTER, WED), date(2026, 7, 1), date(2026, 8, 25)),
    (period_of(K.YEAR, WED), date(2025, 1, 1), date(2025, 11, 25)),
    (Period(K.CUSTOM, date(2026, 11, 1), date(2026, 11, 30)), date(2026, 10, 2),
     date(2026, 10, 31)),
])
def test_previous_period(period: Period, start: date, end: date) -> None:
    assert previous(period) == Period(period.kind, start, end)


@given(st.dates(date(2001, 1, 1), date(2099, 12, 31)), st.sampled_from(list(K)))
def test_previous_is_as_long_and_before(today: date, kind: PeriodKind) -> None:
    p = period_of(kind, today) if kind is not K.CUSTOM else Period(kind, today, today)
    prev = previous(p)
    assert prev.end < p.start and prev.start <= prev.end
    if kind in (K.TODAY, K.WEEK, K.CUSTOM):
        assert prev.days == p.days and prev.end == p.start - timedelta(days=1)
    else:  # the same span of the previous month, quarter or year: months differ a little
        assert abs(p.days - prev.days) <= 3


@pytest.mark.parametrize("text", ["01.11–30.11", "1.11-30.11", " 1.11 — 30.11 ", "1.11..30.11",
                                  "01.11.2026-30.11.2026", "1/11/26 - 30/11/26"])
def test_typed_dates(text: str) -> None:
    assert parse_period(text, WED) == Period(K.CUSTOM, date(2026, 11, 1), date(2026, 11, 30))


def test_typed_dates_without_a_year_are_the_latest_past_ones() -> None:
    jan = date(2027, 1, 10)
    assert parse_period("01.12–31.12", jan) == Period(K.CUSTOM, date(2026, 12, 1),
                                                      date(2026, 12, 31))
    assert parse_period("15.12–5.01", jan) == Period(K.CUSTOM, date(2026, 12, 15),
                                                     date(2027, 1, 5))
    assert parse_period("15.11", WED) == Period(K.CUSTOM, date(2026, 11, 15),
                                                date(2026, 11, 15))
    # The only 29 Feb that can be meant is of a leap year: 2026 has none.
    with pytest.raises(PeriodError):
        parse_period("29.02", date(2026, 3, 1))
    assert parse_period("29.02", date(2028, 3, 1)).start == date(2028, 2, 29)


@pytest.mark.parametrize(("text", "code"), [
    ("november", "format"), ("", "format"), ("1.11-", "format"), ("32.11-1.12", "date"),
    ("1.13", "date"), ("30.11.2026-1.11.2026", "order"), ("1.1.2020-1.1.2026", "long"),
    ("1.1.1999", "date"), ("29.02.2026", "date"),
])
def test_bad_typed_dates(text: str, code: str) -> None:
    with pytest.raises(PeriodError) as err:
        parse_period(text, WED)
    assert err.value.code == code


@given(st.dates(date(2000, 1, 1), date(2100, 12, 31)),
       st.integers(0, MAX_DAYS - 1), st.sampled_from(["{a}–{b}", "{a} - {b}", "{a}..{b}"]),
       st.sampled_from(["%d.%m.%Y", "%-d.%-m.%Y", "%d/%m/%Y"]))
def test_typed_dates_with_years_round_trip(start: date, length: int, sep: str,
                                           fmt: str) -> None:
    end = start + timedelta(days=length)
    if end.year > 2100:
        return
    text = sep.format(a=start.strftime(fmt), b=end.strftime(fmt))
    assert parse_period(text, WED) == Period(K.CUSTOM, start, end)


@given(st.text(max_size=40))
def test_any_text_is_a_period_or_a_clear_error(text: str) -> None:
    try:
        p = parse_period(text, WED)
    except PeriodError as err:
        assert err.code in ("format", "date", "order", "long")
    else:
        assert p.start <= p.end and p.days <= MAX_DAYS


def test_bounds_in_the_users_time_zone() -> None:
    day = Period(K.TODAY, date(2026, 11, 25), date(2026, 11, 25))
    assert day.bounds(ZoneInfo("Europe/Moscow")) == (
        datetime(2026, 11, 24, 21, tzinfo=UTC), datetime(2026, 11, 25, 21, tzinfo=UTC))
    assert day.bounds(ZoneInfo("Asia/Vladivostok")) == (
        datetime(2026, 11, 24, 14, tzinfo=UTC), datetime(2026, 11, 25, 14, tzinfo=UTC))
    assert day.bounds(ZoneInfo("America/New_York")) == (
        datetime(2026, 11, 25, 5, tzinfo=UTC), datetime(2026, 11, 26, 5, tzinfo=UTC))


def test_bounds_across_dst_changes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # Summer time ends on Sunday 25 Oct 2026: that day has 25 hours.
    autumn = Period(K.TODAY, date(2026, 10, 25), date(2026, 10, 25)).bounds(berlin)
    assert autumn == (datetime(2026, 10, 24, 22, tzinfo=UTC),
                      datetime(2026, 10, 25, 23, tzinfo=UTC))
    # … and starts on Sunday 29 Mar 2026: 23 hours.
    spring = Period(K.TODAY, date(2026, 3, 29), date(2026, 3, 29)).bounds(berlin)
    assert spring[1] - spring[0] == timedelta(hours=23)
    month = Period(K.MONTH, date(2026, 10, 1), date(2026, 10, 31)).bounds(berlin)
    assert month == (datetime(2026, 9, 30, 22, tzinfo=UTC),
                     datetime(2026, 10, 31, 23, tzinfo=UTC))


@pytest.mark.parametrize(("start", "end", "code"), [
    ("", "2026-11-30", "format"), ("2026-11-01", "", "format"),
    ("01.11.2026", "30.11.2026", "format"), ("20261101", "20261130", "format"),
    ("2026-W45-1", "2026-11-30", "format"), ("2026-11-01T00:00", "2026-11-30", "format"),
    ("２０２６-11-01", "2026-11-30", "format"), ("2026-11-01' OR 1=1", "2026-11-30", "format"),
    ("2026-02-30", "2026-03-01", "date"), ("2026-13-01", "2026-12-31", "date"),
    ("0001-01-01", "0001-01-02", "date"), ("1999-12-31", "2000-01-05", "date"),
    ("2100-12-31", "9999-12-31", "date"),
    ("2026-11-30", "2026-11-01", "order"),
    ("2024-01-01", "2026-01-01", "long"),
])
def test_picked_dates_refused(start: str, end: str, code: str) -> None:
    with pytest.raises(PeriodError) as err:
        picked_period(start, end)
    assert err.value.code == code


def test_picked_dates() -> None:
    assert picked_period("2026-11-18", "2026-11-24") == Period(
        K.CUSTOM, date(2026, 11, 18), date(2026, 11, 24))
    assert picked_period("2026-11-25", "2026-11-25").days == 1
    longest = picked_period("2024-01-01", "2025-12-31")
    assert longest.days == MAX_DAYS
