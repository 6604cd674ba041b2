"""The manager's day through the real dispatcher: find → card → log → next step, and the
rest of what hangs off the card."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram.methods import AnswerInlineQuery, SendVoice
from aiogram.types import (
    Chat,
    Contact,
    InlineQuery,
    Message,
    MessageOriginHiddenUser,
    Update,
    Voice,
)

from bot.keyboards.client import AgendaCD, AgendaPart, ClientCD, HistCD, LogTypeCD, PlanCD
from crm.clock import FrozenClock
from crm.service import CRM
from tests.factories import client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, texts

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
EVE = TgUser(3003, "Eve", None, language_code="en")
MSK = ZoneInfo("Europe/Moscow")


async def setup_max(crm: CRM) -> int:
    actor = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, actor, 'ООО "ИВАНОВ и партнёры"', "89161234567")
    return ref.id


async def test_find_card_log_call_and_plan_next(harness: Harness, crm: CRM,
                                                clock: FrozenClock) -> None:
    client_id = await setup_max(crm)
    # Typing a name in the chat finds the client; one match opens the card at once.
    calls = await harness.send(MAX, "иванов")
    card = last_text(calls)
    assert "ИВАНОВ и партнёры" in card and "+7 916 123-45-67" in card
    assert "No next contact planned" in card
    calls = await harness.press(MAX, button(calls, "Log contact"))
    calls = await harness.press(MAX, button(calls, "Call"))
    assert "the outcome?" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Reached"))
    calls = await harness.send(MAX, "Discussed the price list, wants a demo")
    assert "What is the next step?" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "tomorrow 10:00"))
    assert ("Next contact with «ООО &quot;ИВАНОВ и партнёры&quot;»: Thu, 26 Nov, 10:00"
            in last_text(calls))
    actor = await crm.people.identify(MAX.id)
    assert actor is not None
    page = await crm.history.page(actor, client_id)
    assert page.items[0].text == "Discussed the price list, wants a demo"
    client_card = await crm.clients.card(actor, client_id)
    assert client_card.next_contact is not None
    due = client_card.next_contact.due_at
    assert due.astimezone(MSK) == datetime(2026, 11, 26, 10, tzinfo=MSK)
    # The history shows the record with its type, outcome, author and role.
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    history = last_text(calls)
    assert "<b>Call</b> · Reached" in history and "Max Sokolov (Sales manager)" in history


async def test_phone_in_any_format_finds_the_client(harness: Harness, crm: CRM) -> None:
    await setup_max(crm)
    for query in ("+7 (916) 123-45-67", "8 916 123 45 67", "/find 9161234567"):
        assert "ИВАНОВ и партнёры" in last_text(await harness.send(MAX, query)), query


async def test_free_text_next_contact_and_bad_input(harness: Harness, crm: CRM) -> None:
    client_id = await setup_max(crm)
    calls = await harness.press(MAX, PlanCD(client_id=client_id, when="text").pack())
    assert "when? For example: tomorrow 3pm" in last_text(calls)
    calls = await harness.send(MAX, "абракадабра")
    assert "did not understand the date" in last_text(calls)
    calls = await harness.send(MAX, "завтра 15:00")
    assert "Thu, 26 Nov, 15:00" in last_text(calls)


async def test_no_next_step_is_recorded(harness: Harness, crm: CRM) -> None:
    client_id = await setup_max(crm)
    calls = await harness.press(MAX, ClientCD(id=client_id, action="nonext").pack())
    assert "no next step" in last_text(calls)
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    assert "No next step planned" in last_text(calls)


async def test_voice_comment_is_kept_and_playable(harness: Harness, crm: CRM) -> None:
    client_id = await setup_max(crm)
    calls = await harness.press(MAX, ClientCD(id=client_id, action="log").pack())
    calls = await harness.press(MAX, button(calls, "Meeting"))
    calls = await harness.press(MAX, button(calls, "Agreed"))
    await harness.send_message(Message(
        message_id=50, date=datetime.now(), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(), voice=Voice(file_id="VOICE-1", file_unique_id="u1", duration=4),
    ))
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    assert "voice note" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Play voice"))
    voices = [c for c in calls if isinstance(c, SendVoice)]
    assert voices and voices[0].voice == "VOICE-1"


async def test_forged_callbacks_on_someone_elses_client_change_nothing(
    harness: Harness, crm: CRM
) -> None:
    client_id = await setup_max(crm)
    await person(crm, EVE.id, "Eve")
    call = await crm.classifiers.by_code("activity_type", "call")
    assert call
    forged = [
        ClientCD(id=client_id, action="open").pack(),
        ClientCD(id=client_id, action="nonext").pack(),
        HistCD(client_id=client_id, page=0).pack(),
        LogTypeCD(client_id=client_id, type_id=call.id).pack(),
        PlanCD(client_id=client_id, when="tom10").pack(),
        ClientCD(id=999999, action="open").pack(),
    ]
    for data in forged:
        calls = await harness.press(EVE, data)
        assert any("not available" in a for a in alerts(calls)), data
        assert not texts(calls), data
    max_actor = await crm.people.identify(MAX.id)
    assert max_actor is not None
    card = await crm.clients.card(max_actor, client_id)
    assert card.next_contact is None
    assert (await crm.history.page(max_actor, client_id)).total == 0
    # Eve does not find Max's client either.
    assert "Nothing found" in last_text(await harness.send(EVE, "иванов"))


async def test_new_client_form_warns_about_duplicates(harness: Harness, crm: CRM) -> None:
    await setup_max(crm)
    calls = await harness.send(MAX, "/new")
    calls = await harness.send(MAX, "Иванов")
    calls = await harness.send(MAX, "+7 916 123 45 67")
    assert "Similar clients already exist" in last_text(calls)
    assert "same phone" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Create anyway"))
    calls = await harness.press(MAX, button(calls, "Moscow"))
    calls = await harness.press(MAX, button(calls, "IT"))
    calls = await harness.press(MAX, button(calls, "Exhibition"))
    calls = await harness.send(MAX, "Saw us at the expo")
    calls = await harness.send(MAX, "150")
    assert "number from 0 to 100" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "70%"))
    said = "\n".join(texts(calls))
    assert "Client «Иванов» created" in said
    assert "Region: Moscow" in said and "Source: Exhibition" in said
    assert "Purchase probability: 70%" in said


async def test_shared_contact_opens_client_or_starts_new(harness: Harness, crm: CRM) -> None:
    await setup_max(crm)
    known = Contact(phone_number="+79161234567", first_name="Ivan")
    calls = await harness.send_message(Message(
        message_id=60, date=datetime.now(), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(), contact=known,
    ))
    assert "ИВАНОВ и партнёры" in last_text(calls)
    unknown = Contact(phone_number="+79035550000", first_name="Olga", last_name="Lee")
    calls = await harness.send_message(Message(
        message_id=61, date=datetime.now(), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(), contact=unknown,
    ))
    assert "Creating «Olga Lee»" in texts(calls)[0]
    assert "Region" in last_text(calls)


async def test_search_results_are_paginated(harness: Harness, crm: CRM) -> None:
    actor = await person(crm, MAX.id, "Max")
    for i in range(19):
        await client(crm, actor, f"Ромашка {i:02d}")
    calls = await harness.send(MAX, "ромашка")
    assert "Found 19" in last_text(calls)
    first = [t for t, _ in buttons(calls) if t.startswith("Ромашка")]
    assert len(first) == 8
    calls = await harness.press(MAX, button(calls, "›"))
    second = [t for t, _ in buttons(calls) if t.startswith("Ромашка")]
    assert len(second) == 8 and not set(first) & set(second)


async def test_long_history_stays_within_telegram_limits(harness: Harness, crm: CRM,
                                                         clock: FrozenClock) -> None:
    client_id = await setup_max(crm)
    actor = await crm.people.identify(MAX.id)
    note = await crm.classifiers.by_code("activity_type", "note")
    assert actor and note
    for i in range(25):
        clock.advance(timedelta(minutes=1))
        await crm.history.log(actor, client_id, note.id, None, f"{i} " + "очень длинно " * 300)
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    text = last_text(calls)
    assert len(text) <= 4096 and "page 1 of 3" in text
    assert all(len(data.encode()) <= 64 for _, data in buttons(calls))


async def test_today_lists_planned_and_overdue_contacts(harness: Harness, crm: CRM,
                                                       clock: FrozenClock) -> None:
    client_id = await setup_max(crm)
    actor = await crm.people.identify(MAX.id)
    assert actor
    await crm.planning.plan(actor, client_id, clock.now() + timedelta(hours=2))
    calls = await harness.send(MAX, "/today")
    assert "Planned for today: 1" in last_text(calls)
    assert any("ИВАНОВ" in t for t, _ in buttons(calls))
    clock.advance(timedelta(days=1))
    calls = await harness.send(MAX, "/today")
    assert "Overdue: 1" in last_text(calls)


async def test_today_counts_every_overdue_and_still_shows_todays(
        harness: Harness, crm: CRM, clock: FrozenClock) -> None:
    """More overdue contacts than fit on a screen: the counts are the true ones, today's
    contacts are listed and tappable all the same, and the whole backlog is a tap away, a
    page at a time."""
    await setup_max(crm)
    actor = await crm.people.identify(MAX.id)
    assert actor
    now = clock.now()
    for i in range(205):
        ref = await client(crm, actor, f"Старый клиент {i:03d}", f"8916{i:07d}")
        await crm.planning.plan(actor, ref.id, now + timedelta(minutes=i))
    clock.advance(timedelta(days=1))  # all of those are yesterday's now
    for i in range(4):
        ref = await client(crm, actor, f"Сегодня {i}", f"8917{i:07d}")
        await crm.planning.plan(actor, ref.id, clock.now() + timedelta(hours=1, minutes=i))
    calls = await harness.send(MAX, "/today")
    text = last_text(calls)
    assert "Overdue: 205" in text and "Planned for today: 4" in text
    assert all(f"Сегодня {i}" in text for i in range(4)) and "…and 200 more" in text
    # The oldest overdue first, then every one of today's, then the way to the rest.
    labels = [t for t, _ in buttons(calls)]
    assert [t.split(" ", 3)[-1] for t in labels[:5]] == [
        f"Старый клиент {i:03d}" for i in range(5)]
    assert [t.split(" ", 1)[-1] for t in labels[5:9]] == [f"Сегодня {i}" for i in range(4)]
    assert labels[9:] == ["⚠️ All overdue: 205"]
    calls = await harness.press(MAX, button(calls, "All overdue"))
    text = last_text(calls)
    assert "Overdue: 205" in text and "Page 1 of 21" in text
    assert [t.split(" ", 3)[-1] for t, _ in buttons(calls)[:10]] == [
        f"Старый клиент {i:03d}" for i in range(10)]
    calls = await harness.press(MAX, button(calls, "›"))
    assert "Page 2 of 21" in last_text(calls) and "Старый клиент 010" in last_text(calls)
    # Each line opens its card.
    card = await harness.press(MAX, button(calls, "Старый клиент 011"))
    assert "Старый клиент 011" in last_text(card)
    # A page past the end (the list shrank since the button was drawn) shows the last one.
    calls = await harness.press(MAX, AgendaCD(part=AgendaPart.LATE, page=999).pack())
    assert "Page 21 of 21" in last_text(calls) and "Старый клиент 204" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "« Today"))
    assert "Overdue: 205" in last_text(calls) and "Planned for today: 4" in last_text(calls)
    # A manager has no team part to page through, whatever the button says.
    calls = await harness.press(MAX, AgendaCD(part=AgendaPart.TEAM, page=0).pack())
    assert "Team" not in " ".join(texts(calls)) and alerts(calls)


async def test_inline_mode_lists_only_visible_clients(harness: Harness, crm: CRM) -> None:
    await setup_max(crm)
    eve = await person(crm, EVE.id, "Eve")
    await client(crm, eve, "Иванова Мария")
    for user, expected in ((MAX, ['ООО "ИВАНОВ и партнёры"']), (EVE, ["Иванова Мария"])):
        start = len(harness.session.calls)
        query = InlineQuery(id=f"iq{user.id}", from_user=user.as_user(), query="иванов",
                            offset="")
        await harness.dp.feed_update(
            harness.bot, Update(update_id=900 + user.id, inline_query=query)
        )
        answers = [c for c in harness.session.calls[start:] if isinstance(c, AnswerInlineQuery)]
        assert [getattr(r, "title", None) for r in answers[0].results] == expected


async def test_forwarded_message_goes_into_history(harness: Harness, crm: CRM) -> None:
    client_id = await setup_max(crm)
    calls = await harness.send_message(Message(
        message_id=70, date=datetime.now(), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(), text="Пришлите счёт, пожалуйста",
        forward_origin=MessageOriginHiddenUser(date=datetime.now(),
                                               sender_user_name="Иванов"),
    ))
    calls = await harness.press(MAX, button(calls, "ИВАНОВ"))
    assert "saved to the history" in last_text(calls)
    actor = await crm.people.identify(MAX.id)
    assert actor
    page = await crm.history.page(actor, client_id)
    assert page.items[0].text == "Иванов: Пришлите счёт, пожалуйста"


async def test_history_names_stages_and_loss_reasons(harness: Harness, crm: CRM) -> None:
    from decimal import Decimal

    client_id = await setup_max(crm)
    actor = await crm.people.identify(MAX.id)
    assert actor
    deal = await crm.deals.create(actor, client_id, "Printers", Decimal("150000"), None)
    stages = await crm.classifiers.stages()
    await crm.deals.move(actor, deal.id, stages[2].id)
    price = await crm.classifiers.by_code("loss_reason", "price")
    assert price
    await crm.deals.lose(actor, deal.id, price.id, None)
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    text = last_text(calls)
    assert "Stage changed: New lead → Meeting / demo" in text
    assert "Deal lost at «Meeting / demo»: Price" in text
    assert "Deal created at «New lead», RUB150,000.00" in text


async def test_edit_card_fields_and_add_a_contact(harness: Harness, crm: CRM) -> None:
    client_id = await setup_max(crm)
    calls = await harness.press(MAX, ClientCD(id=client_id, action="edit").pack())
    calls = await harness.press(MAX, button(calls, "Add phone"))
    calls = await harness.send(MAX, "12")
    assert "does not look like a phone" in last_text(calls)
    calls = await harness.send(MAX, "8 (495) 111-22-33")
    assert "+7 495 111-22-33" in last_text(calls)
    calls = await harness.press(MAX, ClientCD(id=client_id, action="edit").pack())
    calls = await harness.press(MAX, button(calls, "Industry"))
    calls = await harness.press(MAX, button(calls, "Logistics"))
    assert "Industry: Logistics" in last_text(calls)
    calls = await harness.press(MAX, ClientCD(id=client_id, action="contacts").pack())
    calls = await harness.press(MAX, button(calls, "Add contact"))
    calls = await harness.send(MAX, "Пётр Сидоров, +7 903 000-11-22, petr@ivanov.ru")
    card = last_text(calls)
    assert "Пётр Сидоров, +7 903 000-11-22, petr@ivanov.ru" in card
    # The new contact's phone finds the client.
    assert "ИВАНОВ и партнёры" in last_text(await harness.send(MAX, "89030001122"))


async def test_calendar_picker_plans_a_day_and_hour(harness: Harness, crm: CRM) -> None:
    client_id = await setup_max(crm)
    calls = await harness.press(MAX, PlanCD(client_id=client_id, when="cal").pack())
    assert "Pick a day" in last_text(calls)
    labels = [t for t, _ in buttons(calls)]
    assert "24" not in labels  # days before today cannot be picked
    calls = await harness.press(MAX, button(calls, "›"))  # next month
    calls = await harness.press(MAX, next(d for t, d in buttons(calls) if t == "15"))
    calls = await harness.press(MAX, button(calls, "14:00"))
    assert "Tue, 15 Dec, 14:00" in last_text(calls)


async def test_a_service_user_logs_a_satisfaction_check(harness: Harness, crm: CRM) -> None:
    from crm.roles import Role

    client_id = await setup_max(crm)
    sam = TgUser(5005, "Sam", None, language_code="en")
    await person(crm, sam.id, "Sam Service", Role.SERVICE)
    calls = await harness.send(sam, "иванов")
    assert "Edit" not in [t for t, _ in buttons(calls)]
    calls = await harness.press(sam, button(calls, "Log contact"))
    calls = await harness.press(sam, button(calls, "Satisfaction check"))
    calls = await harness.press(sam, button(calls, "no outcome"))
    await harness.send(sam, "All fine, happy with the printers")
    calls = await harness.press(MAX, HistCD(client_id=client_id, page=0).pack())
    assert "Sam Service (Service)" in last_text(calls)
