"""Typed input on a phone through the real dispatcher: foreign phones, dates in the past,
the quick times on a weekend, amounts and payment dates. Now is Wednesday 25 November 2026,
12:00 in Moscow."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from bot.keyboards.client import ClientCD, PlanCD
from bot.keyboards.deals import DealCD, InvoiceCD
from crm.service import CRM
from storage.models import Client, Deal, Payment, PlannedContact
from tests.factories import client, person
from tests.harness import Harness, TgUser, button, last_text, texts

MAX = TgUser(2002, "Max", "Sokolov", language_code="en")
PAST = "already passed"
NOT_A_PHONE = "does not look like a phone"


async def test_foreign_phones_in_the_new_client_form(harness: Harness, crm: CRM) -> None:
    await person(crm, MAX.id, "Max Sokolov")
    for name, typed, shown in (
        ("London Ltd", "+44 20 7946 0958", "+44 20 7946 0958"),
        ("Berlin GmbH", "+49 30 12345678", "+49 30 12345678"),
        ("Minsk OOO", "+375 29 123-45-67", "+375 29 123-45-67"),
    ):
        await harness.send(MAX, "/new")
        await harness.send(MAX, name)
        calls = await harness.send(MAX, typed)
        assert NOT_A_PHONE not in last_text(calls), typed
        for _ in range(5):  # region, industry, source, the trigger, the probability
            calls = await harness.press(MAX, button(calls, "Skip"))
        said = "\n".join(texts(calls))
        assert f"Client «{name}» created" in said and shown in said, said
    async with crm.db.transaction() as s:
        phones = set(await s.scalars(select(Client.phones)))
    assert phones == {"442079460958", "493012345678", "375291234567"}
    # The stored number finds the client however it is typed.
    assert "London Ltd" in last_text(await harness.send(MAX, "+442079460958"))


async def test_foreign_phones_on_the_card_and_for_a_contact(harness: Harness, crm: CRM) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, actor, "Acme")
    calls = await harness.press(MAX, ClientCD(id=ref.id, action="edit").pack())
    calls = await harness.press(MAX, button(calls, "Add phone"))
    calls = await harness.send(MAX, "+49 30 12345678")
    assert "+49 30 12345678" in last_text(calls)
    calls = await harness.press(MAX, ClientCD(id=ref.id, action="contacts").pack())
    calls = await harness.press(MAX, button(calls, "Add contact"))
    calls = await harness.send(MAX, "John Smith, +44 20 7946 0958")
    assert "John Smith, +44 20 7946 0958" in last_text(calls)


async def planned(crm: CRM) -> list[PlannedContact]:
    async with crm.db.transaction() as s:
        return list(await s.scalars(select(PlannedContact)))


async def test_a_typed_next_contact_in_the_past_is_refused(harness: Harness, crm: CRM) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, actor, "Acme")
    await harness.press(MAX, PlanCD(client_id=ref.id, when="text").pack())
    # Yesterday, earlier today, and a date a day behind (never "next year") are all refused.
    for typed in ("24.11 10:00", "вчера", "сегодня 8:00", "24.11"):
        calls = await harness.send(MAX, typed)
        assert PAST in last_text(calls), typed
    assert await planned(crm) == []
    # The form is still waiting: a good answer plans it.
    calls = await harness.send(MAX, "26.11 15:00")
    assert "Next contact with «Acme»: Thu, 26 Nov, 15:00" in last_text(calls)


async def test_in_three_days_typed_or_pressed_skips_the_weekend(
    harness: Harness, crm: CRM
) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, actor, "Acme")
    # Wednesday + 3 days is Saturday: a day off, so Monday at 10:00.
    calls = await harness.press(MAX, PlanCD(client_id=ref.id, when="3d").pack())
    assert "Next contact with «Acme»: Mon, 30 Nov, 10:00" in last_text(calls)
    assert "day off" in last_text(calls)
    await harness.press(MAX, PlanCD(client_id=ref.id, when="text").pack())
    calls = await harness.send(MAX, "через 3 дня")
    assert "moved to Mon, 30 Nov, 10:00" in last_text(calls)
    assert "day off" in last_text(calls)


async def test_deal_and_invoice_dates_in_the_past_are_refused(
    harness: Harness, crm: CRM
) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, actor, "Acme")
    await harness.press(MAX, ClientCD(id=ref.id, action="newdeal").pack())
    await harness.send(MAX, "Printers")
    await harness.send(MAX, "150 000")
    calls = await harness.send(MAX, "24.11")
    assert PAST in last_text(calls)
    async with crm.db.transaction() as s:
        assert list(await s.scalars(select(Deal))) == []
    calls = await harness.send(MAX, "31.12")
    assert "Expected close: 31 Dec 2026" in last_text(calls)
    [deal] = await crm.deals.deals_of(actor, ref.id)
    calls = await harness.press(MAX, DealCD(id=deal.id, action="newinv").pack())
    await harness.send(MAX, "100 000")
    calls = await harness.send(MAX, "20.11")
    assert PAST in last_text(calls)
    calls = await harness.send(MAX, "15.12")
    assert "Due date: 15 Dec 2026" in last_text(calls)


async def test_payment_amounts_and_dates(harness: Harness, crm: CRM) -> None:
    actor = await person(crm, MAX.id, "Max Sokolov")
    ref = await client(crm, actor, "Acme")
    deal = await crm.deals.create(actor, ref.id, "Printers", Decimal(1000), None)
    inv = await crm.billing.add_invoice(actor, deal.id, Decimal(1000), date(2026, 12, 10))
    await harness.press(MAX, InvoiceCD(id=inv.id, action="pay").pack())
    for typed, says in (("-5000", "must be a positive"), ("1" + "0" * 15, "too large"),
                        ("600 завтра", "cannot be in the future"),
                        ("600 когда-нибудь", "did not understand the date")):
        calls = await harness.send(MAX, typed)
        assert says in last_text(calls), (typed, last_text(calls))
    calls = await harness.send(MAX, "600 вчера")
    assert "Paid: RUB600.00" in last_text(calls)
    async with crm.db.transaction() as s:
        [payment] = list(await s.scalars(select(Payment)))
    assert (payment.amount, payment.paid_on) == (Decimal(600), date(2026, 11, 24))


async def test_a_shared_foreign_contact_without_plus(harness: Harness, crm: CRM) -> None:
    from datetime import datetime

    from aiogram.types import Chat, Contact, Message

    await person(crm, MAX.id, "Max Sokolov")
    # Telegram sends a contact's number in international form, often without the "+".
    shared = Contact(phone_number="442079460958", first_name="John", last_name="Smith")
    calls = await harness.send_message(Message(
        message_id=70, date=datetime.now(), chat=Chat(id=MAX.id, type="private"),
        from_user=MAX.as_user(), contact=shared,
    ))
    assert "Creating «John Smith»" in "\n".join(texts(calls))
    for _ in range(5):
        calls = await harness.press(MAX, button(calls, "Skip"))
    assert "+44 20 7946 0958" in "\n".join(texts(calls))
