"""A head's Today through the real dispatcher: their own agenda and the team's overdue."""

from __future__ import annotations

from datetime import timedelta

from crm.clock import FrozenClock
from crm.roles import Role
from crm.service import CRM
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, button, buttons, last_text

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
EVE = TgUser(3003, "Eve", None, language_code="en")
HELEN = TgUser(4004, "Helen", None, language_code="en")


async def test_head_sees_the_teams_overdue_contacts(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    boss = await admin(crm)
    north = await crm.people.create_team(boss, "North")
    south = await crm.people.create_team(boss, "South")
    helen = await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=north.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", team_id=north.id)
    eve = await person(crm, EVE.id, "Eve Stone", team_id=south.id)
    own = await client(crm, helen, "Head's own client")
    late = await client(crm, max_, "Forgotten client")
    elsewhere = await client(crm, eve, "South client")
    await crm.planning.plan(helen, own.id, clock.now() + timedelta(hours=1))
    await crm.planning.plan(max_, late.id, clock.now() + timedelta(hours=1))
    await crm.planning.plan(eve, elsewhere.id, clock.now() + timedelta(hours=1))
    # Nothing is late yet: no team section.
    calls = await harness.send(HELEN, "/today")
    assert "Team: overdue" not in last_text(calls)
    clock.advance(timedelta(days=2))
    calls = await harness.send(HELEN, "/today")
    text = last_text(calls)
    assert "Overdue: 1" in text and "Head&#x27;s own client" in text
    assert "Team: overdue 1" in text and "Forgotten client · Max Sokolov" in text
    assert "South client" not in text
    labels = [t for t, _ in buttons(calls)]
    assert all(t.startswith("⚠️ ") for t in labels)
    assert any("Forgotten client · Max Sokolov" in t for t in labels)
    # A manager's Today has no team section, even for the late contact of a colleague.
    calls = await harness.send(MAX, "/today")
    assert "Team: overdue" not in last_text(calls) and "Forgotten client" in last_text(calls)
    calls = await harness.send(EVE, "/today")
    assert "Forgotten client" not in last_text(calls)


async def test_head_pages_through_all_the_teams_overdue(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    boss = await admin(crm)
    north = await crm.people.create_team(boss, "North")
    await person(crm, HELEN.id, "Helen Head", Role.HEAD, team_id=north.id)
    max_ = await person(crm, MAX.id, "Max Sokolov", team_id=north.id)
    for i in range(12):
        ref = await client(crm, max_, f"Late client {i:02d}")
        await crm.planning.plan(max_, ref.id, clock.now() + timedelta(hours=1, minutes=i))
    clock.advance(timedelta(days=2))
    calls = await harness.send(HELEN, "/today")
    text = last_text(calls)
    assert "Team: overdue 12" in text and "…and 7 more" in text
    assert "Late client 04 · Max Sokolov" in text and "Late client 05" not in text
    calls = await harness.press(HELEN, button(calls, "Team overdue: 12"))
    text = last_text(calls)
    assert "Team: overdue 12" in text and "Page 1 of 2" in text
    assert "Late client 09 · Max Sokolov" in text and "Late client 10" not in text
    calls = await harness.press(HELEN, button(calls, "›"))
    labels = [t for t, _ in buttons(calls)]
    assert any("Late client 11 · Max Sokolov" in t for t in labels)
    assert "« Today" in labels
