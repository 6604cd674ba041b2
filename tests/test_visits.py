"""Field visits through the real dispatcher: check-in with a location, a location with no
form open, «Nearby», a head's day's route; distances against hand-checked coordinates."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiogram.types import Chat, Location, Message
from hypothesis import example, given
from hypothesis import strategies as st

from crm.clock import FrozenClock
from crm.dto import Actor
from crm.geo import Point, box_around, contains, haversine_km
from crm.roles import Role
from crm.service import CRM
from tests.factories import admin, client, person
from tests.harness import (
    Harness,
    TgUser,
    alerts,
    button,
    buttons,
    last_text,
    reply_keyboard,
    texts,
)

MAX = TgUser(2101, "Max", "Sokolov", language_code="en")
EVE = TgUser(2102, "Eve", "Stone", language_code="en")
HELEN = TgUser(2103, "Helen", "Head", language_code="en")
OLGA = TgUser(2104, "Ольга", "Петрова", language_code="ru")

MOSCOW = Point(55.7558, 37.6173)  # Red Square
SPB = Point(59.9343, 30.3351)  # Palace Square
# Hand-checked on a flat local map (1° of latitude = 111.2 km, 1° of longitude = 111.32 km ×
# cos 55.76° = 62.66 km): from Red Square, Tverskaya 7 is 0.65 km, Kursky station 2.75 km,
# Sheremetyevo 27.2 km; from Tverskaya 7 to Kursky station 3.1 km.
TVERSKAYA = Point(55.7606, 37.6115)
KURSKY = Point(55.7580, 37.6610)
SVO = Point(55.9726, 37.4146)


def location_message(user: TgUser, where: Point, live: bool = False) -> Message:
    return Message(
        message_id=900, date=datetime.now(UTC), chat=Chat(id=user.id, type="private"),
        from_user=user.as_user(),
        location=Location(latitude=where.lat, longitude=where.lon,
                          live_period=900 if live else None),
    )


async def placed(crm: CRM, owner: Actor, name: str, where: Point) -> int:
    ref = await client(crm, owner, name)
    await crm.visits.set_place(owner, ref.id, where)
    return ref.id


# --- geometry -------------------------------------------------------------------------------


def test_moscow_to_st_petersburg_is_about_634_km() -> None:
    assert 630 <= haversine_km(MOSCOW, SPB) <= 638
    assert 0.6 <= haversine_km(MOSCOW, TVERSKAYA) <= 0.7
    assert 2.7 <= haversine_km(MOSCOW, KURSKY) <= 2.8
    assert 27.0 <= haversine_km(MOSCOW, SVO) <= 27.5
    assert 3.05 <= haversine_km(TVERSKAYA, KURSKY) <= 3.15


lats = st.floats(min_value=-89.9, max_value=89.9)
lons = st.floats(min_value=-180, max_value=180)
points = st.builds(Point, lats, lons)


@given(points, points)
def test_haversine_is_a_symmetric_distance_within_half_the_globe(a: Point, b: Point) -> None:
    d = haversine_km(a, b)
    assert 0 <= d <= math.pi * 6371.0088 + 1e-6
    assert math.isclose(d, haversine_km(b, a), abs_tol=1e-9)
    assert haversine_km(a, a) == 0


@example(Point(0.0, 180.0), Point(1.0, 0.0), Point(1.192092896e-07, 0.0))  # near the antipode
@given(points, points, points)
def test_haversine_keeps_the_triangle_inequality(a: Point, b: Point, c: Point) -> None:
    assert haversine_km(a, c) <= haversine_km(a, b) + haversine_km(b, c) + 1e-6


@given(points, points, st.floats(min_value=0.01, max_value=5000))
def test_the_box_holds_every_point_within_the_radius(
    center: Point, other: Point, radius: float
) -> None:
    if haversine_km(center, other) <= radius:
        assert contains(box_around(center, radius), other)


# --- check-in -------------------------------------------------------------------------------


async def test_checking_in_at_a_client_records_a_visit_with_the_distance(
    harness: Harness, crm: CRM
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    acme = await placed(crm, max_, "Acme", MOSCOW)
    calls = await harness.press(MAX, f"c:{acme}:open")
    calls = await harness.press(MAX, button(calls, "I'm at the client"))
    assert "share your location" in last_text(calls)
    assert reply_keyboard(calls) == ["📍 Send my location", "✖️ Cancel"]
    calls = await harness.send_message(location_message(MAX, TVERSKAYA))
    assert "Visit to «Acme» recorded at 12:00" in texts(calls)[0]
    assert "650 m from the client's place" in texts(calls)[0]
    assert "⚠️" not in texts(calls)[0]
    assert "📅 Today" in reply_keyboard(calls)  # the main menu is back
    assert "What is the next step?" in last_text(calls)
    assert button(calls, "tomorrow 10:00")
    page = await crm.history.page(max_, acme)
    assert page.total == 1
    visit = page.items[0]
    assert visit.type is not None and visit.type.code == "visit"
    assert visit.details is not None
    assert visit.details["lat"] == TVERSKAYA.lat and visit.details["far"] is False
    calls = await harness.press(MAX, f"h:{acme}:0:")
    assert "📍 Checked in 650 m from the client's place" in last_text(calls)


async def test_a_check_in_far_from_the_client_says_so(harness: Harness, crm: CRM) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    acme = await placed(crm, max_, "Acme", MOSCOW)
    await harness.press(MAX, f"c:{acme}:visit")
    calls = await harness.send_message(location_message(MAX, KURSKY, live=True))
    assert "⚠️ That is 2.7 km from the client's place" in texts(calls)[0]
    page = await crm.history.page(max_, acme)
    assert page.items[0].details is not None and page.items[0].details["far"] is True


async def test_the_first_check_in_asks_to_save_the_place_once(
    harness: Harness, crm: CRM
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    await harness.press(MAX, f"c:{ref.id}:visit")
    calls = await harness.send_message(location_message(MAX, KURSKY))
    assert "no place on the map yet" in last_text(calls)
    save = button(calls, "Yes, save the place")
    calls = await harness.press(MAX, save)
    assert "Saved as the place of «Acme». What is the next step?" in last_text(calls)
    again = await harness.press(MAX, save)
    assert "Saved" not in " ".join(texts(again))
    near = await crm.visits.nearby(max_, MOSCOW)
    assert [(c.name, round(c.distance_km, 1)) for c in near.items] == [("Acme", 2.7)]
    # The next check-in there measures from the saved place and asks nothing.
    await harness.press(MAX, f"c:{ref.id}:visit")
    calls = await harness.send_message(location_message(MAX, KURSKY))
    assert "0 m from the client's place" in texts(calls)[0]
    assert "What is the next step?" in last_text(calls)


async def test_not_now_keeps_the_client_without_a_place(harness: Harness, crm: CRM) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    await harness.press(MAX, f"c:{ref.id}:visit")
    calls = await harness.send_message(location_message(MAX, KURSKY))
    calls = await harness.press(MAX, button(calls, "Not now"))
    assert "What is the next step?" in last_text(calls)
    assert (await crm.visits.nearby(max_, MOSCOW)).items == []


async def test_cancel_on_the_location_keyboard_goes_back_to_the_menu(
    harness: Harness, crm: CRM
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    await harness.press(MAX, f"c:{ref.id}:visit")
    calls = await harness.send(MAX, "hello")
    assert "Send my location" in last_text(calls)
    calls = await harness.send(MAX, "✖️ Cancel")
    assert last_text(calls) == "Cancelled."
    assert "📅 Today" in reply_keyboard(calls)
    assert (await crm.history.page(max_, ref.id)).total == 0


async def test_a_location_with_no_form_open_asks_which_client_nearest_first(
    harness: Harness, crm: CRM
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    eve = await person(crm, EVE.id, "Eve Stone")
    await placed(crm, max_, "Far away", SVO)
    await placed(crm, max_, "Kursky shop", KURSKY)
    near = await placed(crm, max_, "Tverskaya office", TVERSKAYA)
    await placed(crm, eve, "Eve's client", MOSCOW)  # closest, but not Max's
    calls = await harness.send_message(location_message(MAX, MOSCOW))
    assert "Which client are you at?" in last_text(calls)
    labels = [t for t, _ in buttons(calls)]
    assert labels == ["Tverskaya office · 650 m", "Kursky shop · 2.7 km", "Far away · 27.2 km",
                      "✖️ Cancel"]
    pick = button(calls, "Tverskaya office")
    calls = await harness.press(MAX, pick)
    assert "Visit to «Tverskaya office» recorded" in last_text(calls)
    assert "What is the next step?" in last_text(calls)
    assert (await crm.history.page(max_, near)).total == 1
    await harness.press(MAX, pick)  # a double tap checks in once
    assert (await crm.history.page(max_, near)).total == 1


async def test_a_forged_client_id_is_refused(harness: Harness, crm: CRM) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    eve = await person(crm, EVE.id, "Eve Stone")
    await placed(crm, max_, "Mine", TVERSKAYA)
    theirs = await placed(crm, eve, "Eve's client", MOSCOW)
    calls = await harness.send_message(location_message(MAX, MOSCOW))
    step = button(calls, "Mine").split(":")[-1]
    calls = await harness.press(MAX, f"vp:{theirs}:{step}")
    assert (await crm.history.page(eve, theirs)).total == 0
    assert "not available" in " ".join(alerts(calls) + texts(calls))
    for forged in (f"c:{theirs}:visit", "vp:0:1", "vp:99999999999:1", "nb:-1", "rt:1:20261399"):
        calls = await harness.press(MAX, forged)
        assert not [t for t in texts(calls) + alerts(calls) if "went wrong" in t]
        assert "share your location" not in " ".join(texts(calls))
    assert (await crm.history.page(eve, theirs)).total == 0


async def test_a_visit_cannot_be_logged_by_hand(harness: Harness, crm: CRM) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.press(MAX, f"c:{ref.id}:log")
    assert "Visit" not in [t for t, _ in buttons(calls)]
    visit = await crm.classifiers.by_code("activity_type", "visit")
    assert visit is not None
    calls = await harness.press(MAX, f"lo:{ref.id}:{visit.id}::")
    await harness.press(MAX, button(calls, "Save without a comment"))
    assert (await crm.history.page(max_, ref.id)).total == 0


# --- nearby ---------------------------------------------------------------------------------


async def test_nearby_lists_my_clients_by_distance_with_their_plans_and_deals(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    eve = await person(crm, EVE.id, "Eve Stone")
    far = await placed(crm, max_, "Pulkovo", SPB)
    await placed(crm, max_, "Kursky shop", KURSKY)
    tv = await placed(crm, max_, "Tverskaya office", TVERSKAYA)
    await placed(crm, eve, "Eve's client", MOSCOW)
    await client(crm, max_, "Nowhere yet")
    await crm.planning.plan(max_, tv, clock.now() + timedelta(days=1))
    await crm.deals.create(max_, tv, "Fleet", Decimal(150000), None)
    calls = await harness.send(MAX, "🧭 Nearby")
    assert reply_keyboard(calls) == ["📍 Send my location", "✖️ Cancel"]
    calls = await harness.send_message(location_message(MAX, MOSCOW))
    text = last_text(calls)
    lines = text.splitlines()[1:]
    assert lines[0].startswith("1. <b>Tverskaya office</b> — 650 m")
    assert "⏭ Thu, 26 Nov, 12:00" in lines[0] and "💼 1 open deal" in lines[0]
    assert lines[1].startswith("2. <b>Kursky shop</b> — 2.7 km")
    assert "nothing planned" in lines[1]
    # Palace Square is 633.4 km from Red Square by the great circle (≈ 634 km, above).
    assert lines[2].startswith("3. <b>Pulkovo</b> — 633 km")
    assert "Eve" not in text and "Nowhere" not in text
    calls = await harness.press(MAX, button(calls, "Pulkovo"))
    assert "Pulkovo" in last_text(calls) and far


async def test_nearby_pages_by_ten_and_a_head_sees_the_team(
    harness: Harness, crm: CRM
) -> None:
    boss = await admin(crm)
    north = await crm.people.create_team(boss, "North")
    helen = await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=north.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", team_id=north.id)
    eve = await person(crm, EVE.id, "Eve Stone")
    for i in range(12):
        await placed(crm, max_, f"Client {i:02d}", Point(MOSCOW.lat + i * 0.01, MOSCOW.lon))
    await placed(crm, eve, "Outside the team", MOSCOW)
    await harness.send(HELEN, "/nearby")
    calls = await harness.send_message(location_message(HELEN, MOSCOW))
    text = last_text(calls)
    assert "1. <b>Client 00</b> — 0 m · Max Sokolov" in text
    assert "10. <b>Client 09</b>" in text and "Client 10" not in text
    assert "Outside the team" not in text
    calls = await harness.press(HELEN, button(calls, "Farther"))
    assert "11. <b>Client 10</b>" in last_text(calls)
    assert "12. <b>Client 11</b>" in last_text(calls)
    assert "12. <b>Client 11</b>" in last_text(calls)
    assert helen and not [t for t, _ in buttons(calls) if "Farther" in t]


# --- a day's route --------------------------------------------------------------------------


async def test_a_head_sees_a_managers_days_route(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    boss = await admin(crm)
    north = await crm.people.create_team(boss, "North")
    await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=north.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", team_id=north.id)
    eve = await person(crm, EVE.id, "Eve Stone")
    a = await placed(crm, max_, "Acme", MOSCOW)
    b = await placed(crm, max_, "Kursky shop", KURSKY)
    await crm.visits.check_in(max_, a, TVERSKAYA)
    clock.advance(timedelta(minutes=45))
    await crm.visits.check_in(max_, b, KURSKY)
    calls = await harness.press(HELEN, f"ppl:{max_.id}:open")
    calls = await harness.press(HELEN, button(calls, "Day's route"))
    text = last_text(calls)
    assert "Max Sokolov" in text and "Wednesday, 25 November" in text
    assert "1. 12:00 — <b>Acme</b>" in text
    assert "2. 12:45 — <b>Kursky shop</b>" in text
    # Tverskaya → Kursky station, 3.1 km (see above).
    assert "↳ +45 min, 3.1 km" in text
    calls = await harness.press(HELEN, button(calls, "Day before"))
    assert "No check-ins this day." in last_text(calls)
    # Outside her team: not available; a manager has no routes at all.
    calls = await harness.press(HELEN, f"rt:{eve.id}:20261125")
    assert "not available" in " ".join(alerts(calls) + texts(calls))
    calls = await harness.press(MAX, f"ppl:{max_.id}:route")
    assert "role does not allow" in " ".join(alerts(calls) + texts(calls))


async def test_russian_distances_and_texts(harness: Harness, crm: CRM) -> None:
    olga = await person(crm, OLGA.id, "Ольга Петрова", locale="ru")
    await placed(crm, olga, "Курский", KURSKY)
    calls = await harness.send(OLGA, "🧭 Рядом")
    assert reply_keyboard(calls) == ["📍 Отправить моё местоположение", "✖️ Отмена"]
    calls = await harness.send_message(location_message(OLGA, MOSCOW))
    assert "1. <b>Курский</b> — 2,7 км" in last_text(calls)


async def test_the_digest_counts_visits_per_manager_per_day(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    acme = await placed(crm, max_, "Acme", MOSCOW)
    clock.advance(timedelta(days=-2))
    await crm.visits.check_in(max_, acme, MOSCOW)
    await crm.visits.check_in(max_, acme, TVERSKAYA)
    clock.advance(timedelta(days=1))
    await crm.visits.check_in(max_, acme, MOSCOW)
    clock.advance(timedelta(days=1))
    digest = await crm.digest.for_actor(max_)
    (mine,) = digest.managers
    assert mine.visits == 3
    assert mine.visits_by_day[-2:] == (2, 1)  # Monday 23 and Tuesday 24 November
    calls = await harness.send(MAX, "/digest")
    assert "📍 Visits: 3 (Mon 2, Tue 1)" in " ".join(texts(calls))
