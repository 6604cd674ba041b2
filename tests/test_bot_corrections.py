"""Corrections on the phone through the real dispatcher: a contact record of the history
(comment, outcome, deletion) and a contact person of a client (edit, removal)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.keyboards.client import (
    ClientCD,
    EntryCD,
    EntryDeleteCD,
    EntryOutcomeCD,
    HistCD,
    PersonCD,
    PersonEditCD,
    PersonRemoveCD,
)
from crm.clock import FrozenClock
from crm.dto import Actor
from crm.errors import Conflict
from crm.roles import Role
from crm.service import CRM
from storage.repo import people as people_repo
from tests.factories import admin, client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, texts

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
EVE = TgUser(3003, "Eve", None, language_code="en")
HELEN = TgUser(4004, "Helen", None, language_code="en")
SAM = TgUser(5005, "Sam", None, language_code="en")


async def audit(crm: CRM, action: str) -> list[dict[str, Any]]:
    async with crm.db.transaction() as s:
        rows = await people_repo.audit_entries(s, 200)
        return [dict(r.details or {}, _entity_id=r.entity_id, _actor=r.actor_id)
                for r in rows if r.action == action]


async def logged_call(crm: CRM, team: bool = False) -> tuple[Actor, int, int]:
    """Max, his client, and a call he logged on it."""
    team_id = None
    if team:
        team_id = (await crm.people.create_team(await admin(crm), "North")).id
    max_ = await person(crm, MAX.id, "Max Sokolov", team_id=team_id)
    ref = await client(crm, max_, "Acme Ltd", "+7 916 123-45-67")
    call = await crm.classifiers.by_code("activity_type", "call")
    reached = await crm.classifiers.by_code("outcome", "reached")
    assert call and reached
    logged = await crm.history.log(max_, ref.id, call.id, reached.id, "Talked about prices")
    return max_, ref.id, logged.activity_id


async def history_of(crm: CRM, actor: Actor, client_id: int) -> list[tuple[str | None, str]]:
    page = await crm.history.page(actor, client_id)
    return [(i.text, i.outcome.code if i.outcome else "") for i in page.items]


async def test_own_record_is_corrected_within_a_day(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    max_, client_id, activity_id = await logged_call(crm)
    clock.advance(timedelta(hours=23))
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    calls = await harness.press(MAX, button(calls, "✏️ 25.11 Call"))
    assert "Talked about prices" in last_text(calls) and "What to correct?" in last_text(calls)
    entry = calls
    calls = await harness.press(MAX, button(entry, "Comment"))
    assert "send the new comment" in last_text(calls)
    calls = await harness.send(MAX, "Talked about prices and the delivery dates")
    assert "Saved." in texts(calls)
    assert "Talked about prices and the delivery dates" in last_text(calls)
    calls = await harness.press(MAX, button(entry, "Outcome"))
    calls = await harness.press(MAX, button(calls, "Agreed"))
    assert "<b>Call</b> · Agreed" in last_text(calls)
    assert await history_of(crm, max_, client_id) == [
        ("Talked about prices and the delivery dates", "agreed")
    ]
    comment = await audit(crm, "activity.comment")
    assert comment[0]["old"] == "Talked about prices"
    assert comment[0]["new"] == "Talked about prices and the delivery dates"
    assert comment[0]["_entity_id"] == activity_id and comment[0]["_actor"] == max_.id
    outcome = await audit(crm, "activity.outcome")
    agreed = await crm.classifiers.by_code("outcome", "agreed")
    assert agreed and outcome[0]["new"] == agreed.id and outcome[0]["old"] != agreed.id


async def test_a_too_long_comment_is_refused_and_nothing_changes(
    harness: Harness, crm: CRM
) -> None:
    max_, client_id, activity_id = await logged_call(crm)
    await harness.press(MAX, EntryCD(activity_id=activity_id, action="comment").pack())
    calls = await harness.send(MAX, "x" * 3001)
    assert "at most 3000 characters" in last_text(calls)
    assert await history_of(crm, max_, client_id) == [("Talked about prices", "reached")]
    assert not await audit(crm, "activity.comment")


async def test_after_a_day_the_manager_may_not_correct_the_record(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    max_, client_id, activity_id = await logged_call(crm)
    clock.advance(timedelta(hours=24))
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    assert not [t for t, _ in buttons(calls) if t.startswith("✏️")]
    for data in (
        EntryCD(activity_id=activity_id, action="open").pack(),
        EntryCD(activity_id=activity_id, action="delete").pack(),
        EntryOutcomeCD(activity_id=activity_id).pack(),
    ):
        calls = await harness.press(MAX, data)
        assert any("within a day" in a for a in alerts(calls)), data
    assert await history_of(crm, max_, client_id) == [("Talked about prices", "reached")]
    assert not await audit(crm, "activity.outcome")


async def test_a_head_of_the_team_corrects_and_deletes_at_any_time(
    harness: Harness, crm: CRM, clock: FrozenClock
) -> None:
    max_, client_id, _ = await logged_call(crm, team=True)
    assert max_.team_id is not None
    head = await person(crm, HELEN.id, "Helen", Role.HEAD, team_id=max_.team_id)
    clock.advance(timedelta(days=10))
    calls = await harness.press(HELEN, HistCD(client_id=client_id, page=0).pack())
    calls = await harness.press(HELEN, button(calls, "✏️ 25.11 Call"))
    calls = await harness.press(HELEN, button(calls, "Delete"))
    assert "Delete this record from the history?" in last_text(calls)
    calls = await harness.press(HELEN, button(calls, "Yes, delete"))
    assert "No records yet." in last_text(calls)
    assert await history_of(crm, head, client_id) == []
    deleted = await audit(crm, "activity.deleted")
    assert len(deleted) == 1 and deleted[0]["_actor"] == head.id
    assert deleted[0]["old"]["text"] == "Talked about prices"
    assert deleted[0]["old"]["author_id"] == max_.id


async def test_another_manager_changes_nothing_with_forged_buttons(
    harness: Harness, crm: CRM
) -> None:
    max_, client_id, activity_id = await logged_call(crm)
    await person(crm, EVE.id, "Eve")
    for data in (
        EntryCD(activity_id=activity_id, action="open").pack(),
        EntryCD(activity_id=activity_id, action="comment").pack(),
        EntryCD(activity_id=activity_id, action="delete").pack(),
        EntryOutcomeCD(activity_id=activity_id).pack(),
    ):
        calls = await harness.press(EVE, data)
        assert any("not available" in a for a in alerts(calls)), data
    # A forged confirm of a prompt Eve was never shown.
    calls = await harness.press(EVE, EntryDeleteCD(activity_id=activity_id, step=77).pack())
    assert any("no longer active" in a for a in alerts(calls))
    # Eve's typed text is a search, not a comment.
    await harness.send(EVE, "A forged comment")
    assert await history_of(crm, max_, client_id) == [("Talked about prices", "reached")]
    assert not await audit(crm, "activity.deleted")


async def test_someone_elses_record_and_system_events_are_not_corrected(
    harness: Harness, crm: CRM
) -> None:
    max_, client_id, _ = await logged_call(crm)
    service = await person(crm, SAM.id, "Sam", Role.SERVICE)
    visit = await crm.classifiers.by_code("activity_type", "meeting")
    assert visit
    theirs = await crm.history.log(service, client_id, visit.id, None, "Checked the unit")
    await harness.press(MAX, ClientCD(id=client_id, action="nonext").pack())
    event = (await crm.history.page(max_, client_id)).items[0]
    assert event.event == "no_next_step"
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    edits = [t for t, _ in buttons(calls) if t.startswith("✏️")]
    assert edits == ["✏️ 25.11 Call"]
    calls = await harness.press(MAX, EntryCD(activity_id=theirs.activity_id,
                                             action="delete").pack())
    assert any("Only the author of a record" in a for a in alerts(calls))
    calls = await harness.press(MAX, EntryCD(activity_id=event.id, action="delete").pack())
    assert any("not available" in a for a in alerts(calls))
    assert len((await crm.history.page(max_, client_id)).items) == 3


async def test_a_double_tap_on_delete_deletes_once(harness: Harness, crm: CRM) -> None:
    max_, client_id, activity_id = await logged_call(crm)
    call = await crm.classifiers.by_code("activity_type", "call")
    assert call
    await crm.history.log(max_, client_id, call.id, None, "Second call")
    calls = await harness.press(MAX, EntryCD(activity_id=activity_id, action="delete").pack())
    yes = button(calls, "Yes, delete")
    first = await harness.press(MAX, yes)
    second = await harness.press(MAX, yes)
    assert "Second call" in last_text(first)
    # The second tap reaches no deletion: no "not available", no failure.
    assert not [t for t in texts(second) + alerts(second)
                if "went wrong" in t or "not available" in t]
    assert await history_of(crm, max_, client_id) == [("Second call", "")]
    assert len(await audit(crm, "activity.deleted")) == 1


async def contacts_setup(crm: CRM) -> tuple[Actor, int, int]:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme Ltd")
    info = await crm.clients.add_contact(max_, ref.id, "John Smith", "+7 903 111-22-33",
                                         "john@acme.ru")
    return max_, ref.id, info.id


async def test_a_contact_person_is_edited(harness: Harness, crm: CRM) -> None:
    max_, client_id, _ = await contacts_setup(crm)
    calls = await harness.press(MAX, ClientCD(id=client_id, action="contacts").pack())
    calls = await harness.press(MAX, button(calls, "John Smith"))
    assert "+7 903 111-22-33" in last_text(calls)
    screen = calls
    await harness.press(MAX, button(screen, "Phone"))
    calls = await harness.send(MAX, "not a phone")
    assert "does not look like a phone number" in last_text(calls)
    calls = await harness.send(MAX, "8 (905) 444 55 66")
    assert "Saved." in last_text(calls) and "+7 905 444-55-66" in last_text(calls)
    await harness.press(MAX, button(screen, "Name"))
    await harness.send(MAX, "Jonathan Smithers")
    await harness.press(MAX, button(screen, "Position"))
    await harness.send(MAX, "Purchasing director")
    await harness.press(MAX, button(screen, "E-mail"))
    calls = await harness.send(MAX, "-")
    text = last_text(calls)
    assert "Jonathan Smithers" in text and "Purchasing director" in text
    assert "john@acme.ru" not in text
    # The search knows the new phone and name, and forgets the old ones.
    assert (await crm.clients.search(max_, "9054445566")).total == 1
    assert (await crm.clients.search(max_, "9031112233")).total == 0
    assert (await crm.clients.search(max_, "Smithers")).total == 1
    assert (await crm.clients.search(max_, "john@acme.ru")).total == 0
    changes = {d["field"]: (d["old"], d["new"]) for d in await audit(crm, "contact.updated")}
    assert changes == {
        "phone": ("79031112233", "79054445566"),
        "name": ("John Smith", "Jonathan Smithers"),
        "position": (None, "Purchasing director"),
        "email": ("john@acme.ru", None),
    }


async def test_a_contact_person_is_removed_once(harness: Harness, crm: CRM) -> None:
    max_, client_id, person_id = await contacts_setup(crm)
    calls = await harness.press(MAX, PersonCD(person_id=person_id, action="remove").pack())
    assert "Remove this contact person?" in last_text(calls)
    yes = button(calls, "Yes, remove")
    first = await harness.press(MAX, yes)
    second = await harness.press(MAX, yes)
    assert "No contacts yet." in last_text(first)
    assert not [t for t in texts(second) + alerts(second)
                if "went wrong" in t or "not available" in t]
    assert (await crm.clients.card(max_, client_id)).contacts == []
    assert (await crm.clients.search(max_, "9031112233")).total == 0
    removed = await audit(crm, "contact.removed")
    assert len(removed) == 1 and removed[0]["old"]["name"] == "John Smith"


async def test_contact_persons_are_not_changed_by_others(harness: Harness, crm: CRM) -> None:
    max_, client_id, person_id = await contacts_setup(crm)
    await person(crm, EVE.id, "Eve")
    await person(crm, SAM.id, "Sam", Role.SERVICE)
    # Service staff see the card, but the contacts screen has no edit buttons for them.
    calls = await harness.press(SAM, ClientCD(id=client_id, action="contacts").pack())
    assert "John Smith" in last_text(calls)
    assert not [t for t, _ in buttons(calls) if "John Smith" in t]
    for user, refusal in ((EVE, "not available"), (SAM, "Only the client's manager")):
        for data in (
            PersonCD(person_id=person_id, action="open").pack(),
            PersonCD(person_id=person_id, action="remove").pack(),
            PersonEditCD(person_id=person_id, field="name").pack(),
        ):
            calls = await harness.press(user, data)
            assert any(refusal in a for a in alerts(calls)), (user, data)
        calls = await harness.press(user, PersonRemoveCD(person_id=person_id, step=5).pack())
        assert any("no longer active" in a for a in alerts(calls))
    card = await crm.clients.card(max_, client_id)
    assert [c.name for c in card.contacts] == ["John Smith"]
    assert not await audit(crm, "contact.updated") and not await audit(crm, "contact.removed")


async def test_the_day_window_and_deletion_on_both_databases(
    any_crm: CRM, clock: FrozenClock
) -> None:
    max_, client_id, activity_id = await logged_call(any_crm)
    call = await any_crm.classifiers.by_code("activity_type", "call")
    assert call
    later = await any_crm.history.log(max_, client_id, call.id, None, "Later call")
    clock.advance(timedelta(hours=23, minutes=59))
    await any_crm.history.change_comment(max_, activity_id, "Corrected")
    await any_crm.history.delete_entry(max_, later.activity_id)
    clock.advance(timedelta(minutes=1))
    with pytest.raises(Conflict):
        await any_crm.history.change_comment(max_, activity_id, "Too late")
    assert await history_of(any_crm, max_, client_id) == [("Corrected", "reached")]
    deleted = await audit(any_crm, "activity.deleted")
    assert deleted[0]["old"]["text"] == "Later call"
