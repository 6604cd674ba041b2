"""/settings through the real dispatcher, its parsers, what the scheduler makes of the new
values, and the migration that added the digest settings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram.methods import SetMyCommands, SetMyDescription, SetMyShortDescription
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect, text

from bot.factory import create_dispatcher, set_bot_profile, set_default_commands
from bot.keyboards.settings import SetDayCD, SetZoneCD
from crm.clock import FrozenClock
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.roles import Role
from crm.service import CRM
from crm.settings import parse_time_of_day, parse_timezone, parse_work_hours, with_day
from storage.db import Database
from storage.migrate import downgrade, upgrade
from tests.conftest import ADMIN_TG
from tests.factories import person
from tests.harness import (
    BOT_USERNAME,
    Harness,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    make_bot,
    reply_keyboard,
    texts,
)
from tests.notify_data import add_client, add_planned, add_user, outbox
from tests.test_notify_enqueue import msk

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
OLGA = TgUser(2003, "Ольга", None, language_code="ru")


async def test_settings_screen_shows_values_and_buttons_change_them(
    harness: Harness, crm: CRM
) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    calls = await harness.send(MAX, "/settings")
    screen = last_text(calls)
    assert "Language: English" in screen
    assert "Time zone: Moscow (Europe/Moscow), UTC+3" in screen
    assert "Working hours: 09:00–18:00" in screen
    assert "Working days: Mon Tue Wed Thu Fri" in screen
    assert "Daily digest: on, at 09:00" in screen
    # Time zone: two taps.
    calls = await harness.press(MAX, button(calls, "Time zone"))
    zone_buttons = [t for t, _ in buttons(calls)]
    assert zone_buttons[:3] == ["Kaliningrad UTC+2", "Moscow UTC+3", "Samara UTC+4"]
    assert "Kamchatka UTC+12" in zone_buttons
    vladivostok = button(calls, "Vladivostok UTC+10")
    calls = await harness.press(MAX, vladivostok)
    assert "Time zone: Vladivostok (Asia/Vladivostok), UTC+10" in last_text(calls)
    # A double tap on the zone list changes nothing and says nothing.
    again = await harness.press(MAX, vladivostok)
    assert not alerts(again) and not [c for c in again if hasattr(c, "text") and c.text]
    # Working days: Saturday on; the same (double-tapped) button leaves it on.
    calls = await harness.press(MAX, button(calls, "Working days"))
    saturday = button(calls, "Sat")
    calls = await harness.press(MAX, saturday)
    assert any(t == "✅ Sat" for t, _ in buttons(calls))
    calls = await harness.press(MAX, saturday)
    assert any(t == "✅ Sat" for t, _ in buttons(calls))
    calls = await harness.press(MAX, button(calls, "Mon"))
    calls = await harness.press(MAX, button(calls, "Settings"))
    assert "Working days: Tue Wed Thu Fri Sat" in last_text(calls)
    # Digest off and on again.
    calls = await harness.press(MAX, button(calls, "Digest off"))
    assert "Daily digest: off" in last_text(calls)
    current = await crm.settings.get(actor)
    assert (current.timezone, current.work_days, current.digest_enabled) == (
        "Asia/Vladivostok", "23456", False)
    calls = await harness.press(MAX, button(calls, "Digest on"))
    assert "Daily digest: on, at 09:00" in last_text(calls)


async def test_settings_typed_values_and_bad_input(harness: Harness, crm: CRM) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    calls = await harness.send(MAX, "/settings")
    calls = await harness.press(MAX, button(calls, "Working hours"))
    assert "9-18" in last_text(calls)
    calls = await harness.send(MAX, "18-9")
    assert "start must be before the end" in last_text(calls)
    calls = await harness.send(MAX, "09:00–18:30")
    assert "Working hours: 09:00–18:30" in last_text(calls)
    # Any IANA zone typed; a wrong one is explained and the question stays open.
    calls = await harness.press(MAX, button(calls, "Time zone"))
    calls = await harness.send(MAX, "Mars/Olympus")
    assert "I do not know this time zone" in last_text(calls)
    calls = await harness.send(MAX, "asia/almaty")
    assert "Time zone: Asia/Almaty, UTC+5" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Digest time"))
    calls = await harness.send(MAX, "25:00")
    assert "I did not understand the time" in last_text(calls)
    calls = await harness.send(MAX, "8.30")
    assert "Daily digest: on, at 08:30" in last_text(calls)
    current = await crm.settings.get(actor)
    assert (current.work_start_min, current.work_end_min) == (9 * 60, 18 * 60 + 30)
    assert (current.timezone, current.digest_time_min) == ("Asia/Almaty", 8 * 60 + 30)
    # Typed text outside the form is a search again, not a setting.
    calls = await harness.send(MAX, "10-19")
    assert "Working hours" not in last_text(calls)


async def test_settings_last_working_day_stays_and_forged_buttons_are_stale(
    harness: Harness, crm: CRM
) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/settings")
    for day in (1, 2, 3, 4):
        await harness.press(MAX, SetDayCD(day=day, on=False).pack())
    calls = await harness.press(MAX, SetDayCD(day=5, on=False).pack())
    assert alerts(calls) == ["At least one working day must stay on."]
    calls = await harness.press(MAX, "setd:9:1")
    assert "out of date" in alerts(calls)[0]
    calls = await harness.press(MAX, SetZoneCD(zone=1, step=5).pack().replace(":1:", ":99:"))
    assert "out of date" in alerts(calls)[0]


async def test_settings_in_russian_from_the_menu_and_language_switch(
    harness: Harness, crm: CRM
) -> None:
    await person(crm, OLGA.id, "Ольга", locale="ru")
    calls = await harness.send(OLGA, "/start")
    assert "⚙️ Настройки" in reply_keyboard(calls)
    calls = await harness.send(OLGA, "⚙️ Настройки")
    screen = last_text(calls)
    assert "Часовой пояс: Москва (Europe/Moscow), UTC+3" in screen
    assert "Рабочие дни: пн вт ср чт пт" in screen
    calls = await harness.press(OLGA, button(calls, "Часовой пояс"))
    assert "Калининград UTC+2" in [t for t, _ in buttons(calls)]
    calls = await harness.press(OLGA, button(calls, "Настройки"))
    calls = await harness.press(OLGA, button(calls, "Язык"))
    calls = await harness.press(OLGA, button(calls, "English"))
    assert "Time zone: Moscow (Europe/Moscow), UTC+3" in texts(calls)[0]
    assert "⚙️ Settings" in reply_keyboard(calls)
    # /lang keeps working, and so does the old menu button.
    calls = await harness.send(OLGA, "/lang")
    assert "Choose the language" in last_text(calls)
    calls = await harness.send(OLGA, "🌐 Language")
    assert "Choose the language" in last_text(calls)


# --- parsers ---------------------------------------------------------------------------


@given(st.integers(0, 23 * 60 + 59), st.integers(1, 24 * 60))
def test_work_hours_round_trip(start: int, length: int) -> None:
    end = min(start + length, 24 * 60)
    typed = f"{start // 60}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"
    assert parse_work_hours(typed) == (start, end)


@given(st.integers(0, 23), st.integers(0, 23))
def test_work_hours_need_start_before_end(a: int, b: int) -> None:
    if a < b:
        assert parse_work_hours(f"{a}-{b}") == (a * 60, b * 60)
    else:
        with pytest.raises(InvalidInput):
            parse_work_hours(f"{a}-{b}")


@pytest.mark.parametrize("typed", ["", "9", "9-", "9-25", "9:60-18", "24:00-24:00", "abc",
                                   "9 18", "-1-5"])
def test_work_hours_refused(typed: str) -> None:
    with pytest.raises(InvalidInput):
        parse_work_hours(typed)


@pytest.mark.parametrize(("typed", "expected"), [("9-18", (540, 1080)),
                                                 ("с 9 до 18", (540, 1080)),
                                                 ("8.30 - 17.45", (510, 1065)),
                                                 ("10:00—24:00", (600, 1440))])
def test_work_hours_forms(typed: str, expected: tuple[int, int]) -> None:
    assert parse_work_hours(typed) == expected


@given(st.integers(0, 24 * 60 - 1))
def test_time_of_day_round_trip(minute: int) -> None:
    assert parse_time_of_day(f"{minute // 60:02d}:{minute % 60:02d}") == minute


@pytest.mark.parametrize("typed", ["24:00", "9:75", "", "nine", "9:5"])
def test_time_of_day_refused(typed: str) -> None:
    with pytest.raises(InvalidInput):
        parse_time_of_day(typed)


@given(st.text(max_size=30))
def test_timezone_is_a_known_zone_or_refused(typed: str) -> None:
    try:
        zone = parse_timezone(typed)
    except InvalidInput:
        return
    assert zone.lower() == typed.strip().lower()


@given(st.sets(st.integers(1, 7)), st.integers(1, 7), st.booleans())
def test_with_day_sets_exactly_one_day(days: set[int], day: int, on: bool) -> None:
    current = "".join(str(d) for d in sorted(days))
    try:
        result = with_day(current, day, on)
    except InvalidInput:
        assert not on and days <= {day}
        return
    assert (str(day) in result) == on
    assert {int(d) for d in result} - {day} == days - {day}
    assert list(result) == sorted(result)


# --- what the scheduler makes of them --------------------------------------------------


async def test_digest_follows_the_users_time_and_switch(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    early = await person(any_crm, 901, "Early Bird")
    quiet = await person(any_crm, 902, "Quiet One")
    await any_crm.settings.set_digest_time(early, "07:30")
    await any_crm.settings.set_digest_enabled(quiet, False)
    clock.set(msk(2026, 11, 25, 7, 29))
    await any_crm.notifications.enqueue_due()
    assert await outbox(db, "digest") == []
    clock.set(msk(2026, 11, 25, 7, 30))
    await any_crm.notifications.enqueue_due()
    rows = await outbox(db, "digest")
    assert [(r.chat_id, r.due_at) for r in rows] == [(901, msk(2026, 11, 25, 7, 30))]
    # At the deployment's 09:00 the admin (default settings) gets theirs, the quiet one not.
    clock.set(msk(2026, 11, 25, 9))
    await any_crm.notifications.enqueue_due()
    assert 902 not in {r.chat_id for r in await outbox(db, "digest")}
    # Switched off after it was queued: the sender skips it.
    await any_crm.settings.set_digest_time(quiet, "10:00")
    clock.set(msk(2026, 11, 25, 10))
    await any_crm.notifications.enqueue_due()
    await any_crm.settings.set_digest_enabled(quiet, False)
    items = [i for i in await any_crm.outbox.claim() if i.chat_id == 902]
    assert len(items) == 1
    skip = await any_crm.reminders.digest_recipient(items[0])
    assert getattr(skip, "reason", None) == "digest off"


async def test_changed_working_hours_move_a_waiting_reminder(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    actor = await person(any_crm, 903, "Ivan")
    cid = await add_client(db, actor.id, "Acme")
    evening = msk(2026, 11, 25, 19)
    await add_planned(db, cid, actor.id, evening)
    clock.set(evening + timedelta(minutes=1))
    await any_crm.notifications.enqueue_due()
    [row] = await outbox(db, "reminder")
    assert row.due_at == msk(2026, 11, 26, 9)
    # Working till 20:00 from now on: the reminder fires now, not tomorrow morning.
    await any_crm.settings.set_work_hours(actor, "9-20")
    [row] = await outbox(db, "reminder")
    assert row.due_at == evening + timedelta(minutes=1)
    claimed = [i.user_id for i in await any_crm.outbox.claim() if i.kind == "reminder"]
    assert claimed == [actor.id]
    # A new contact after the new hours waits for the next morning in the new time zone.
    await add_planned(db, cid, actor.id, msk(2026, 11, 25, 21))
    await any_crm.settings.set_timezone(actor, "Asia/Vladivostok")
    clock.set(msk(2026, 11, 25, 21, 1))
    await any_crm.notifications.enqueue_due()
    waiting = [r for r in await outbox(db, "reminder") if r.status == "pending"]
    assert [r.due_at for r in waiting] == [msk(2026, 11, 26, 2)]  # 09:00 in Vladivostok


# --- the migration ----------------------------------------------------------------------


def _user_columns(conn: object) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns("users")}


async def test_migration_0004_up_and_down_keeps_data(any_db: Database) -> None:
    uid = await add_user(any_db, 990, "Ivan")
    cid = await add_client(any_db, uid, "Acme")
    async with any_db.transaction() as s:
        await s.execute(text("UPDATE users SET digest_enabled = false, digest_time_min = 480 "
                             "WHERE id = :id"), {"id": uid})
    await downgrade(any_db, "0003")
    async with any_db.engine.connect() as conn:
        assert not {"digest_enabled", "digest_time_min"} & await conn.run_sync(_user_columns)
        names = (await conn.execute(text("SELECT name FROM users"))).scalars().all()
        owners = (await conn.execute(text("SELECT owner_id FROM clients WHERE id = :id"),
                                     {"id": cid})).scalars().all()
    assert list(names) == ["Ivan"] and list(owners) == [uid]
    await upgrade(any_db)
    async with any_db.engine.connect() as conn:
        row = (await conn.execute(text("SELECT digest_enabled, digest_time_min FROM users"))
               ).one()
    assert (bool(row[0]), row[1]) == (True, None)


# --- /help and the command menu per role -------------------------------------------------


@pytest.mark.parametrize(
    ("role", "has", "lacks"),
    [
        (Role.ADMIN, ["/today", "/digest", "/new", "/invite", "/people", "/newteam"], []),
        (Role.HEAD, ["/today", "/digest", "/new", "/invite", "/people"], ["/newteam"]),
        (Role.MANAGER, ["/today", "/digest", "/new"], ["/invite", "/people", "/newteam"]),
        (Role.MARKETER, ["/new"], ["/today", "/digest", "/invite", "/newteam"]),
        (Role.SERVICE, [], ["/today", "/digest", "/new", "/invite", "/people"]),
    ],
)
async def test_help_lists_what_the_role_can_do(
    harness: Harness, crm: CRM, role: Role, has: list[str], lacks: list[str]
) -> None:
    user = TgUser(ADMIN_TG if role is Role.ADMIN else 2100, "Kim", None, language_code="en")
    if role is not Role.ADMIN:
        await person(crm, user.id, "Kim", role)
    else:
        await crm.people.start(ADMIN_TG, "Anna", None, "en", None)
    help_text = last_text(await harness.send(user, "/help"))
    common = ["/find", "/settings", "/lang", "/cancel", "/help", f"@{BOT_USERNAME}",
              "📝 log a call", "plan the next contact", "⚙️ Settings /settings"]
    for part in common + has:
        assert part in help_text, part
    for part in lacks:
        assert part not in help_text, part
    # The command menu the role gets at /start matches, in both languages.
    for locale, cancel in (("en", "Leave the current form"), ("ru", "Выйти из формы")):
        await crm.people.set_locale(await _actor(crm, user.id), locale)
        calls = await harness.send(user, "/start")
        [menu] = [c for c in calls if isinstance(c, SetMyCommands)]
        commands = {c.command: c.description for c in menu.commands}
        assert commands["cancel"] == cancel and "settings" in commands
        assert {h.lstrip("/") for h in has} <= set(commands)
        assert not {h.lstrip("/") for h in lacks} & set(commands)


async def _actor(crm: CRM, tg_id: int) -> Actor:
    actor = await crm.people.identify(tg_id)
    assert actor is not None
    return actor


async def test_help_in_russian(harness: Harness, crm: CRM) -> None:
    await person(crm, OLGA.id, "Ольга", locale="ru")
    help_text = last_text(await harness.send(OLGA, "❓ Помощь"))
    assert "⚙️ Настройки /settings" in help_text and "/cancel" in help_text
    assert "📅 Сегодня /today" in help_text


# --- what people see before pressing Start -----------------------------------------------


async def test_bot_description_is_set_in_both_languages(crm: CRM) -> None:
    bot, session = make_bot()
    dp = create_dispatcher(crm, default_locale="ru")
    await set_default_commands(bot, dp)
    await set_bot_profile(bot, dp)
    long = {c.language_code: c.description for c in session.calls
            if isinstance(c, SetMyDescription)}
    short = {c.language_code: c.short_description for c in session.calls
             if isinstance(c, SetMyShortDescription)}
    assert set(long) == set(short) == {"ru", "en", None}
    assert "CRM отдела продаж" in (long["ru"] or "") and long[None] == long["ru"]
    assert "sales team, right in Telegram" in (long["en"] or "")
    assert "По приглашению" in (short["ru"] or "") and "By invitation" in (short["en"] or "")
    assert all(len(t or "") <= 512 for t in long.values())
    assert all(0 < len(t or "") <= 120 for t in short.values())
