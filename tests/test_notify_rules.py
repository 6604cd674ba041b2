"""Pure rules: working hours, overdue-alert pace, the rate limiter (on a fake clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.notifications import overdue_steps, reminder_key
from crm.when import WorkHours, effective_fire_time, next_work_start
from scheduler.limiter import RateLimiter

MSK = ZoneInfo("Europe/Moscow")
NY = ZoneInfo("America/New_York")
OFFICE = WorkHours(MSK, 9 * 60, 18 * 60, "12345")


def msk(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MSK).astimezone(UTC)


def test_inside_working_hours_fires_on_time() -> None:
    due = msk(2026, 11, 25, 12, 30)  # Wednesday
    assert effective_fire_time(due, OFFICE) == due


def test_before_start_waits_for_the_morning() -> None:
    assert effective_fire_time(msk(2026, 11, 25, 7, 15), OFFICE) == msk(2026, 11, 25, 9)


def test_evening_moves_to_the_next_morning() -> None:
    assert effective_fire_time(msk(2026, 11, 25, 18, 0), OFFICE) == msk(2026, 11, 26, 9)


def test_friday_evening_and_weekend_move_to_monday() -> None:
    monday = msk(2026, 11, 30, 9)
    assert effective_fire_time(msk(2026, 11, 27, 20), OFFICE) == monday  # Friday
    assert effective_fire_time(msk(2026, 11, 28, 11), OFFICE) == monday  # Saturday
    assert effective_fire_time(msk(2026, 11, 29, 23, 59), OFFICE) == monday  # Sunday


def test_hours_are_the_users_own_in_their_zone() -> None:
    # 14:00 UTC is 17:00 in Moscow (working) but 09:00 in New York (start of the day).
    due = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert effective_fire_time(due, OFFICE) == due
    ny = WorkHours(NY, 10 * 60, 19 * 60, "12345")
    assert effective_fire_time(due, ny) == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    # A six-day week with late hours.
    shop = WorkHours(MSK, 12 * 60, 21 * 60, "123456")
    assert effective_fire_time(msk(2026, 11, 28, 20), shop) == msk(2026, 11, 28, 20)
    assert effective_fire_time(msk(2026, 11, 28, 22), shop) == msk(2026, 11, 30, 12)


def test_dst_change_keeps_local_start() -> None:
    # New York leaves DST on 1 Nov 2026: 09:00 local is 13:00 UTC before, 14:00 after.
    ny = WorkHours(NY, 9 * 60, 17 * 60, "1234567")
    sat_night = datetime(2026, 10, 31, 23, 0, tzinfo=NY)
    assert effective_fire_time(sat_night.astimezone(UTC), ny) == datetime(
        2026, 11, 1, 14, 0, tzinfo=UTC)


def test_odd_configurations_never_hold_back_forever() -> None:
    due = msk(2026, 11, 28, 3)
    assert effective_fire_time(due, WorkHours(MSK, 9 * 60, 18 * 60, "")) == due
    assert effective_fire_time(due, WorkHours(MSK, 20 * 60, 8 * 60, "1234567")) == due
    whole_day = WorkHours(MSK, 0, 24 * 60, "1234567")
    assert effective_fire_time(due, whole_day) == due


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1),
                 timezones=st.just(UTC)),
    st.integers(0, 23 * 60), st.integers(1, 10 * 60),
    st.sets(st.integers(1, 7), min_size=1).map(lambda s: "".join(map(str, sorted(s)))),
    st.sampled_from(["Europe/Moscow", "Asia/Vladivostok", "America/New_York", "UTC"]),
)
def test_fire_time_is_never_early_and_always_in_working_hours(
    due: datetime, start: int, length: int, days: str, tz: str
) -> None:
    hours = WorkHours(ZoneInfo(tz), start, min(start + length, 24 * 60), days)
    fire = effective_fire_time(due, hours)
    assert fire >= due
    assert fire - due <= timedelta(days=8)
    local = fire.astimezone(hours.tz)
    if fire != due:
        assert str(local.isoweekday()) in days
        # At the start of the working period (a DST gap may shift it by its width).
        assert abs(local.hour * 60 + local.minute - start) <= 60


def test_next_work_start_skips_the_weekend() -> None:
    assert next_work_start(msk(2026, 11, 25, 12), OFFICE) == msk(2026, 11, 26, 9)
    assert next_work_start(msk(2026, 11, 27, 12), OFFICE) == msk(2026, 11, 30, 9)


def test_reminder_key_changes_when_the_contact_moves() -> None:
    a = reminder_key(7, msk(2026, 11, 25, 12))
    assert a == reminder_key(7, msk(2026, 11, 25, 12).astimezone(MSK))
    assert a != reminder_key(7, msk(2026, 11, 25, 13))


def test_overdue_pace_and_escalation() -> None:
    due = date(2026, 11, 10)
    assert overdue_steps(due, date(2026, 11, 10), 3, 7) == (None, None)
    steps = {d: overdue_steps(due, due + timedelta(days=d), 3, 7) for d in range(1, 15)}
    manager_days = sorted({s[0].day for s in steps.values() if s[0]})
    assert [(d - due).days for d in manager_days] == [1, 4, 7, 10, 13]
    head_days = sorted({s[1].day for s in steps.values() if s[1]})
    assert [(d - due).days for d in head_days] == [7, 10, 13]
    assert steps[6][1] is None and steps[5][0] is not None and steps[5][0].bucket == 1


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_limiter_paces_globally_and_per_chat() -> None:
    t = FakeTime()
    lim = RateLimiter(10, 1, clock=t, sleep=t.sleep)
    stamps = []
    for chat in range(5):
        await lim.acquire(chat)
        stamps.append(t.now)
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    await lim.acquire(0)  # the same chat again: one second after its last message
    assert t.now == 1.0


async def test_limiter_settle_keeps_late_grants_out_of_a_bunch() -> None:
    """Grants used late are counted as of when they go: no more than the rate in any second,
    and without a fresh slot when there is room."""
    t = FakeTime()
    lim = RateLimiter(10, 1000, clock=t, sleep=t.sleep)
    grants = [await lim.acquire(chat) for chat in range(10)]  # 0.0 … 0.9
    t.now = 1.5  # all ten were held up; none went yet
    for g in grants[:5]:
        await lim.settle(g)
    assert t.now == 1.5  # room in the window: they go at once, no slot is taken
    await lim.acquire(99)  # the pace goes on from the slots already reserved
    assert t.now == pytest.approx(1.5)
    went = [1.5] * 6
    for g in grants[5:]:
        await lim.settle(g)
        went.append(t.now)
    # Never more than the rate within a second of when they really went.
    assert all(sum(1 for x in went if w - 1.0 < x <= w) <= 10 for w in went)
    assert went[-1] <= 2.5 + 1e-9


async def test_limiter_pauses_everyone_on_429() -> None:
    t = FakeTime()
    lim = RateLimiter(25, 1, clock=t, sleep=t.sleep)
    await lim.acquire(1)
    lim.pause(7)
    await lim.acquire(2)
    assert t.now >= 7.0
    assert lim.pauses == 1 and lim.paused_for == 0
