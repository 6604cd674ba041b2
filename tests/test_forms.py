"""The one form mechanism (bot/forms.py) through the real dispatcher: one update of a chat at
a time, answers taken once, stale buttons, leaving a form, what a step does not take."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiogram.methods import EditMessageReplyMarkup, SendMessage, SendPhoto
from aiogram.types import Chat, Document, Message, PhotoSize

from crm.service import CRM
from tests.factories import client, person
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, texts

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")


async def client_count(crm: CRM, user: TgUser) -> int:
    actor = await crm.people.identify(user.id)
    assert actor is not None
    return (await crm.clients.search(actor, "Acme")).total


async def test_a_burst_for_one_chat_is_handled_one_update_at_a_time(
    harness: Harness, crm: CRM
) -> None:
    """The same comment sent twice at the same moment is written once: the second update
    starts only when the first is done, and finds the comment step already answered."""
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.press(MAX, f"c:{ref.id}:log")
    calls = await harness.press(MAX, button(calls, "Call"))
    calls = await harness.press(MAX, button(calls, "Reached"))
    await asyncio.gather(*(harness.send(MAX, "Talked about the price") for _ in range(5)))
    page = await crm.history.page(max_, ref.id)
    assert page.total == 1
    assert not [t for t in texts(harness.session.calls) if "went wrong" in t]


async def test_an_answer_typed_twice_creates_one_client(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new Acme Ltd")
    calls = await harness.press(MAX, button(await harness.send(MAX, "+7 916 555 44 33"),
                                            "Skip"))
    for _ in range(3):  # region, industry, source
        calls = await harness.press(MAX, button(calls, "Skip"))
    await harness.send(MAX, "Saw us at the expo")
    await asyncio.gather(harness.send(MAX, "50"), harness.send(MAX, "50"))
    assert await client_count(crm, MAX) == 1


async def test_a_double_tap_acts_once_and_an_old_button_does_nothing(
    harness: Harness, crm: CRM
) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new")
    phone_prompt = await harness.send(MAX, "Acme Ltd")
    skip_phone = button(phone_prompt, "Skip")
    region_prompt = await harness.press(MAX, skip_phone)
    assert "Region" in last_text(region_prompt)
    # The same Skip again (a double tap, or the old message): the region step stays.
    again = await harness.press(MAX, skip_phone)
    assert not texts(again) and not alerts(again)
    moscow = button(region_prompt, "Moscow")
    industry_prompt = await harness.press(MAX, moscow)
    assert "Industry" in last_text(industry_prompt)
    assert not texts(await harness.press(MAX, moscow))
    # The industry question is still the one waiting.
    calls = await harness.press(MAX, button(industry_prompt, "IT"))
    assert "Source" in last_text(calls)


async def test_a_button_of_a_form_that_is_over_says_so(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new")
    prompt = await harness.send(MAX, "Acme Ltd")
    await harness.send(MAX, "/cancel")
    calls = await harness.press(MAX, button(prompt, "Skip"))
    assert any("no longer active" in a for a in alerts(calls))
    assert await client_count(crm, MAX) == 0


async def test_a_menu_button_leaves_the_form_and_says_so(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new")
    prompt = await harness.send(MAX, "Acme Ltd")
    calls = await harness.send(MAX, "📅 Today")
    said = texts(calls)
    assert any("Draft discarded: new client" in t for t in said), said
    # The abandoned prompt loses its buttons; typing now is a search, not a phone.
    assert any(isinstance(c, EditMessageReplyMarkup) for c in calls)
    assert buttons(prompt)
    assert "Nothing found" in last_text(await harness.send(MAX, "+7 916 000 00 00"))


async def test_typing_answers_a_prompt_and_removes_its_old_keyboard(
    harness: Harness, crm: CRM
) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new")
    prompt = await harness.send(MAX, "Acme Ltd")
    prompt_id = next(c for c in prompt if isinstance(c, SendMessage))
    calls = await harness.send(MAX, "+7 916 123-45-67")
    removed = [c for c in calls if isinstance(c, EditMessageReplyMarkup)]
    assert removed and removed[0].reply_markup is None
    assert prompt_id.text and "Phone" in prompt_id.text
    # A wrong answer keeps the question, with its buttons, and says why.
    await harness.send(MAX, "/new")
    await harness.send(MAX, "Beta LLC")
    calls = await harness.send(MAX, "not a phone")
    assert "does not look like a phone" in last_text(calls)
    assert button(calls, "Skip")


async def test_what_a_step_does_not_take_gets_an_answer(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new")
    calls = await harness.send(MAX, "Acme Ltd")
    calls = await harness.press(MAX, button(calls, "Skip"))
    assert "Region" in last_text(calls)
    # Typed text where a button is expected.
    assert "Tap one of the buttons" in last_text(await harness.send(MAX, "Moscow please"))
    # A photo where text is expected.
    await harness.send(MAX, "/new")
    calls = await harness.send_message(photo_message(MAX))
    assert "I need text here" in last_text(calls)


async def test_new_with_the_name_as_argument(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    calls = await harness.send(MAX, "/new ИП Иванов")
    assert "«ИП Иванов». Phone" in last_text(calls)


async def test_a_typed_date_at_the_next_step_plans_it(harness: Harness, crm: CRM) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.press(MAX, f"c:{ref.id}:log")
    calls = await harness.press(MAX, button(calls, "Call"))
    calls = await harness.press(MAX, button(calls, "Reached"))
    calls = await harness.send(MAX, "ok")
    assert "What is the next step?" in last_text(calls)
    calls = await harness.send(MAX, "tomorrow 15:00")
    assert "Next contact with «Acme»: Thu, 26 Nov, 15:00" in last_text(calls)
    # …and it can get a subject, shown on the card.
    calls = await harness.press(MAX, button(calls, "Add a subject"))
    assert "what is the contact about?" in last_text(calls)
    calls = await harness.send(MAX, "Call: budget and who decides")
    assert "Subject saved" in last_text(calls)
    card = await crm.clients.card(max_, ref.id)
    assert card.next_contact is not None
    assert card.next_contact.note == "Call: budget and who decides"
    # At the next-step prompt, a name is still a search.
    calls = await harness.press(MAX, f"c:{ref.id}:log")
    calls = await harness.press(MAX, button(calls, "Call"))
    calls = await harness.press(MAX, button(calls, "Reached"))
    await harness.send(MAX, "ok")
    assert "Acme" in last_text(await harness.send(MAX, "acme"))


def photo_message(user: TgUser, caption: str | None = None) -> Message:
    return Message(
        message_id=500, date=datetime.now(UTC), chat=Chat(id=user.id, type="private"),
        from_user=user.as_user(), caption=caption,
        photo=[PhotoSize(file_id="ph-1", file_unique_id="u1", width=90, height=90)],
    )


async def test_a_photo_or_a_document_goes_into_a_clients_history(
    harness: Harness, crm: CRM
) -> None:
    max_ = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, max_, "Acme")
    calls = await harness.send_message(photo_message(MAX, "business card"))
    assert "Into which client's history should this photo go?" in last_text(calls)
    calls = await harness.send(MAX, "acme")
    calls = await harness.press(MAX, button(calls, "Acme"))
    assert "saved to the history" in last_text(calls)
    page = await crm.history.page(max_, ref.id)
    assert page.total == 1 and page.items[0].attachment_kind == "photo"
    assert page.items[0].text == "business card"
    # Viewable from the history: the photo is sent again by its Telegram file id.
    calls = await harness.press(MAX, f"h:{ref.id}:0:")
    assert "🖼 photo" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Photo of"))
    assert [c.photo for c in calls if isinstance(c, SendPhoto)] == ["ph-1"]
    doc = Message(
        message_id=501, date=datetime.now(UTC), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(),
        document=Document(file_id="doc-1", file_unique_id="d1", file_name="contract.pdf"),
    )
    calls = await harness.send_message(doc)
    assert "this document" in last_text(calls)
    calls = await harness.press(MAX, button(await harness.send(MAX, "acme"), "Acme"))
    assert (await crm.history.page(max_, ref.id)).total == 2


async def test_forged_form_buttons_are_out_of_date(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    await harness.send(MAX, "/new")
    await harness.send(MAX, "Acme Ltd")
    for data in ("nc:skip:0", "nc:explode:5", "ncr:101:5", "ncp:-1:5", "nc:skip:99999999999"):
        calls = await harness.press(MAX, data)
        assert any("out of date" in a for a in alerts(calls)), data
