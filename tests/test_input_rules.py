"""The rules behind typed dates, quick times, amounts, payment dates and outcomes (pure crm
functions, no I/O): what the user is told instead of a wrong guess."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crm.billing import read_paid_on, read_payment
from crm.classifiers import Label, offered
from crm.deals import MAX_AMOUNT, needs_confirmation, read_amount
from crm.errors import InvalidInput
from crm.parsing import ROLL_OVER_DAYS, international_phone, normalize_phone
from crm.when import (
    MAX_AHEAD,
    QUICK_CODES,
    WorkHours,
    quick_when,
    read_date,
    read_when,
)

MSK = ZoneInfo("Europe/Moscow")
OFFICE = WorkHours(MSK, 9 * 60, 18 * 60, "12345")
# Wednesday 2 December 2026, 12:00 in Moscow.
WED = datetime(2026, 12, 2, 12, 0, tzinfo=MSK)
FRI_EVENING = datetime(2026, 12, 4, 19, 0, tzinfo=MSK)


def msk(m: int, d: int, h: int = 10, mi: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=MSK)


def code_of(fn: object, *args: object) -> str:
    with pytest.raises(InvalidInput) as err:
        fn(*args)  # type: ignore[operator]
    return err.value.code


# --- typed times: never a wrong guess --------------------------------------------------------


@pytest.mark.parametrize("text", ["01.12 10:00", "01.12", "вчера", "вчера 15:00", "yesterday",
                                  "сегодня 8:00", "сегодня", "today 11:59", "3 дня назад",
                                  "2026-11-30", "1 декабря"])
def test_a_past_time_is_refused_not_moved_to_next_year(text: str) -> None:
    assert code_of(read_when, text, WED, OFFICE) == "when_past"


@pytest.mark.parametrize("text", ["абракадабра", "15", "32.13", "", "через -2 часа"])
def test_not_understood_is_told_apart_from_past(text: str) -> None:
    assert code_of(read_when, text, WED, OFFICE) == "when"


def test_too_far_ahead() -> None:
    assert code_of(read_when, "01.01.2035", WED, OFFICE) == "when_far"
    assert code_of(read_date, "01.01.2035", WED, MSK) == "when_far"


def test_a_date_far_behind_means_next_year() -> None:
    dec20 = msk(12, 20, 12)
    assert read_when("05.01", dec20, OFFICE).due == msk(1, 5, y=2027)  # a Tuesday
    assert read_date("05.01", dec20, MSK) == date(2027, 1, 5)


def test_typed_times_as_given() -> None:
    assert read_when("сегодня 15:00", WED, OFFICE).due == msk(12, 2, 15)
    assert read_when("03.12 14:30", WED, OFFICE).due == msk(12, 3, 14, 30)
    # A time the user pinned down stays, even on a day off or after hours.
    saturday = read_when("05.12 20:00", WED, OFFICE)
    assert saturday.due == msk(12, 5, 20) and not saturday.moved


def test_typed_offsets_equal_the_buttons() -> None:
    for now in (WED, FRI_EVENING, msk(12, 5, 23, 30), msk(12, 6, 3, 15)):
        assert read_when("через 3 дня", now, OFFICE) == quick_when("3d", now, OFFICE)
        assert read_when("in 3 days", now, OFFICE) == quick_when("3d", now, OFFICE)
        assert read_when("через 2 часа", now, OFFICE) == quick_when("2h", now, OFFICE)
        assert read_when("завтра", now, OFFICE) == quick_when("tom10", now, OFFICE)
        assert read_when("на следующей неделе", now, OFFICE) == quick_when("nextw", now, OFFICE)


def test_read_date_for_deals_and_invoices() -> None:
    assert read_date("сегодня", WED, MSK) == date(2026, 12, 2)
    assert read_date("20.12", WED, MSK) == date(2026, 12, 20)
    assert read_date("через месяц", WED, MSK) == date(2027, 1, 2)
    for past in ("01.12", "вчера", "30 ноября"):
        assert code_of(read_date, past, WED, MSK) == "when_past"
    assert code_of(read_date, "someday", WED, MSK) == "when"


# --- the quick times ------------------------------------------------------------------------


def test_quick_times_on_a_working_wednesday() -> None:
    assert quick_when("2h", WED, OFFICE).due == msk(12, 2, 14)
    assert quick_when("tom10", WED, OFFICE).due == msk(12, 3)
    assert quick_when("3d", WED, OFFICE).due == msk(12, 7)  # Saturday → Monday
    assert quick_when("3d", WED, OFFICE).moved_from_day_off
    assert quick_when("nextw", WED, OFFICE).due == msk(12, 7)
    assert not quick_when("nextw", WED, OFFICE).moved


def test_quick_times_on_friday_evening_move_to_monday() -> None:
    two_hours = quick_when("2h", FRI_EVENING, OFFICE)
    assert two_hours.due == msk(12, 7, 9) and two_hours.moved_out_of_hours
    tomorrow = quick_when("tom10", FRI_EVENING, OFFICE)
    assert tomorrow.due == msk(12, 7) and tomorrow.moved_from_day_off


def test_quick_ten_outside_working_hours_is_their_start() -> None:
    late = WorkHours(MSK, 12 * 60, 20 * 60, "12345")
    result = quick_when("tom10", WED, late)
    assert result.due == msk(12, 3, 12) and result.moved_out_of_hours


def test_quick_with_no_working_days_moves_nothing() -> None:
    never = WorkHours(MSK, 9 * 60, 18 * 60, "")
    assert quick_when("tom10", FRI_EVENING, never).due == msk(12, 5)
    assert quick_when("2h", FRI_EVENING, never).due == msk(12, 4, 21)


def test_unknown_quick_code_is_refused() -> None:
    assert code_of(quick_when, "1y", WED, OFFICE) == "when"


# --- properties -----------------------------------------------------------------------------

_ZONES = [MSK, ZoneInfo("America/New_York"), ZoneInfo("Australia/Lord_Howe"),
          ZoneInfo("Asia/Kathmandu"), ZoneInfo("UTC")]
nows = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 12, 31),
                    timezones=st.sampled_from(_ZONES))


def _zone(now: datetime) -> ZoneInfo:
    assert isinstance(now.tzinfo, ZoneInfo)
    return now.tzinfo


@st.composite
def work_hours(draw: st.DrawFn) -> WorkHours:
    start = draw(st.integers(min_value=0, max_value=23 * 60))
    end = draw(st.integers(min_value=start + 1, max_value=24 * 60))
    days = draw(st.sets(st.sampled_from("1234567"), min_size=1))
    return WorkHours(draw(st.sampled_from(_ZONES)), start, end, "".join(sorted(days)))


def _inside(moment: datetime, hours: WorkHours) -> bool:
    local = moment.astimezone(hours.tz)
    start, end = hours.bounds
    return hours.works_on(local.date()) and start <= local.hour * 60 + local.minute < end


@settings(max_examples=300, deadline=None)
@given(now=nows, hours=work_hours(), code=st.sampled_from(QUICK_CODES))
def test_prop_quick_times_land_in_working_hours_in_the_future(
    now: datetime, hours: WorkHours, code: str
) -> None:
    result = quick_when(code, now, hours)
    local = result.due.astimezone(hours.tz)
    # A wall-clock time in a DST gap does not exist; nothing to check there.
    assume(local.astimezone(UTC).astimezone(hours.tz).replace(tzinfo=None)
           == local.replace(tzinfo=None))
    assert _inside(result.due, hours)
    assert result.due > now
    if code != "2h":
        assert local.date() > now.astimezone(hours.tz).date()


@settings(max_examples=300, deadline=None)
@given(now=nows, text=st.sampled_from(["01.12", "вчера", "сегодня 8:00", "завтра", "через 3 дня",
                                       "через 2 часа", "пт 11", "15:00", "25.12 18:00",
                                       "на следующей неделе", "3 дня назад", "01.01"]))
def test_prop_read_when_never_returns_the_past(now: datetime, text: str) -> None:
    try:
        result = read_when(text, now, WorkHours(_zone(now), 9 * 60, 18 * 60, "12345"))
    except InvalidInput as err:
        assert err.code in ("when_past", "when_far")
        return
    assert now <= result.due <= now + MAX_AHEAD


@settings(max_examples=300, deadline=None)
@given(now=nows, back=st.integers(min_value=1, max_value=ROLL_OVER_DAYS),
       hour=st.integers(min_value=0, max_value=23))
def test_prop_a_recent_past_date_is_refused_never_next_year(
    now: datetime, back: int, hour: int
) -> None:
    day = now.date() - timedelta(days=back)
    typed = f"{day.day:02d}.{day.month:02d}"
    assume((day.month, day.day) != (2, 29))
    hours = WorkHours(_zone(now), 9 * 60, 18 * 60, "12345")
    assert code_of(read_when, f"{typed} {hour}:00", now, hours) == "when_past"
    assert code_of(read_date, typed, now, _zone(now)) == "when_past"


@settings(max_examples=200, deadline=None)
@given(now=nows, ahead=st.integers(min_value=0, max_value=300))
def test_prop_a_date_ahead_is_this_one(now: datetime, ahead: int) -> None:
    day = now.date() + timedelta(days=ahead)
    assume((day.month, day.day) != (2, 29))
    assert read_date(f"{day.day}.{day.month}", now, _zone(now)) == day


# --- amounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "code"), [
    ("-5000", "amount"), ("−5 000", "amount"), ("0", "amount"), ("0,001", "amount"),
    ("1" + "0" * 15, "amount_too_large"), ("1 000 000 000 000 000", "amount_too_large"),
    ("9" * 60, "amount_too_large"), ("5000 млрд", "amount_too_large"),
    ("lots", "amount_format"), ("", "amount_format"), ("100-200", "amount_format"),
])
def test_read_amount_says_what_is_wrong(text: str, code: str) -> None:
    assert code_of(read_amount, text) == code


def test_read_amount_accepts() -> None:
    assert read_amount("150 000,50") == Decimal("150000.50")
    assert read_amount("1,5 млн") == Decimal("1500000.00")
    assert read_amount(str(MAX_AMOUNT)) == MAX_AMOUNT


@settings(max_examples=300, deadline=None)
@given(value=st.decimals(min_value=Decimal("-1e30"), max_value=Decimal("1e30"), places=2,
                         allow_nan=False, allow_infinity=False))
def test_prop_amount_is_stored_or_refused_with_a_reason(value: Decimal) -> None:
    text = f"{value:f}".replace(".", ",")
    try:
        stored = read_amount(text)
    except InvalidInput as err:
        expected = "amount" if value <= 0 else "amount_too_large"
        assert err.code == expected
        assert value <= 0 or value > MAX_AMOUNT
        return
    assert stored == value and 0 < stored <= MAX_AMOUNT


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789 .,-−+kкмлн$₽", max_size=30))
def test_prop_read_amount_never_crashes(text: str) -> None:
    try:
        value = read_amount(text)
    except InvalidInput as err:
        assert err.code in ("amount", "amount_format", "amount_too_large")
        return
    assert 0 < value <= MAX_AMOUNT and value.as_tuple().exponent == -2


def test_needs_confirmation() -> None:
    limit = Decimal(10_000_000)
    assert not needs_confirmation(Decimal(10_000_000), limit)
    assert needs_confirmation(Decimal("10000000.01"), limit)
    assert not needs_confirmation(Decimal(10**11), None)
    assert not needs_confirmation(Decimal(10**11), Decimal(0))


# --- payment dates --------------------------------------------------------------------------


def test_payment_date_defaults_to_today_and_may_be_past() -> None:
    assert read_payment("600", WED, MSK) == (Decimal("600.00"), date(2026, 12, 2))
    assert read_payment("600 вчера", WED, MSK) == (Decimal("600.00"), date(2026, 12, 1))
    assert read_payment("150 000 15.11", WED, MSK) == (Decimal("150000.00"), date(2026, 11, 15))
    assert read_payment("1,5к позавчера", WED, MSK) == (Decimal("1500.00"), date(2026, 11, 30))
    assert read_payment("600 пн", WED, MSK)[1] == date(2026, 11, 30)  # the last Monday
    assert read_paid_on("", WED, MSK) == date(2026, 12, 2)
    assert read_paid_on("15.10", msk(12, 20), MSK) == date(2026, 10, 15)
    assert read_paid_on("20.12", msk(1, 5, y=2027), MSK) == date(2026, 12, 20)


@pytest.mark.parametrize(("text", "code"), [
    ("600 завтра", "paid_on"), ("600 20.12", "paid_on"), ("600 через 3 дня", "paid_on"),
    ("600 когда-то", "when"), ("-600 вчера", "amount"), ("1" + "0" * 16, "amount_too_large"),
    ("много", "amount_format"), ("600 15", "amount_format"),
])
def test_payment_refusals(text: str, code: str) -> None:
    assert code_of(read_payment, text, WED, MSK) == code


@settings(max_examples=200, deadline=None)
@given(now=nows, back=st.integers(min_value=0, max_value=300))
def test_prop_payment_date_is_never_in_the_future(now: datetime, back: int) -> None:
    today = now.date()
    day = today - timedelta(days=back)
    assume((day.month, day.day) != (2, 29))
    amount, paid_on = read_payment(f"600 {day.day}.{day.month}", now, _zone(now))
    assert amount == Decimal("600.00")
    if back <= 365 - ROLL_OVER_DAYS:
        assert paid_on == day
    assert paid_on <= today


# --- outcomes per contact type --------------------------------------------------------------

_OUTCOMES = [Label(i, code, code, code) for i, code in enumerate(
    ("reached", "no_answer", "call_back", "interested", "agreed", "not_interested", "sent"), 1)]


def test_outcomes_offered_after_a_kind() -> None:
    # The linked outcomes, in the classifier's order; everything when none of them is shown.
    assert [o.code for o in offered(_OUTCOMES, frozenset({7}))] == ["sent"]
    assert [o.code for o in offered(_OUTCOMES, frozenset({6, 4, 5}))] == [
        "interested", "agreed", "not_interested"]
    assert offered(_OUTCOMES, None) == _OUTCOMES
    assert offered(_OUTCOMES, frozenset()) == _OUTCOMES
    assert offered(_OUTCOMES[:2], frozenset({7})) == _OUTCOMES[:2]


# --- phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "stored"), [
    ("+44 20 7946 0958", "442079460958"), ("+49 30 12345678", "493012345678"),
    ("+375 29 123-45-67", "375291234567"), ("0044 20 7946 0958", "442079460958"),
])
def test_foreign_phones_keep_their_country(text: str, stored: str) -> None:
    assert normalize_phone(text) == stored


@settings(max_examples=200, deadline=None)
@given(
    country=st.sampled_from([("44", 10), ("49", 10), ("375", 9), ("33", 9), ("1", 10)]),
    data=st.data(),
)
def test_prop_valid_foreign_numbers_are_accepted(
    country: tuple[str, int], data: st.DataObject
) -> None:
    import phonenumbers

    code, length = country
    region = phonenumbers.region_code_for_country_code(int(code))
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    national = str(example.national_number)
    assume(len(national) == length)
    # Vary the subscriber digits after the first three (the operator's or area code).
    tail = data.draw(st.text(alphabet="0123456789", min_size=length - 3, max_size=length - 3))
    number = phonenumbers.parse(f"+{code}{national[:3]}{tail}", None)
    assume(phonenumbers.is_valid_number(number))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalize_phone(spaced) == e164[1:]
    assert normalize_phone(e164) == e164[1:]
    assert normalize_phone("00" + e164[1:]) == e164[1:]
    # Stored digits (or a Telegram contact's) read back as the same number, never as a
    # Russian one.
    assert international_phone(e164[1:]) == e164
    assert normalize_phone(international_phone(e164[1:]) or "") == e164[1:]


def test_international_phone() -> None:
    assert international_phone("4930123456") == "+4930123456"
    assert international_phone("+79161234567") == "+79161234567"
    assert international_phone("79161234567") == "+79161234567"
    assert international_phone("abc") is None
    assert international_phone("") is None


def test_local_time_helpers_are_consistent() -> None:
    # 10:00 is the hour of the quick days, the same as a typed date without a time.
    assert quick_when("tom10", WED, OFFICE).due.timetz() == time(10, 0, tzinfo=MSK)
