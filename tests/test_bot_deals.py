"""Deals, invoices and payments through the real dispatcher."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.keyboards.client import ClientCD
from bot.keyboards.deals import (
    DealAction,
    DealCancelCD,
    DealCD,
    InvDueCD,
    InvoiceAction,
    InvoiceCD,
    LossCD,
    PayDateCD,
    PayDay,
    PaymentEditCD,
    StageCD,
)
from bot.keyboards.types import INT32_MAX
from crm.clients import ClientDraft
from crm.dto import Actor
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, Deal, Invoice, Payment
from tests.conftest import ADMIN_TG
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text, texts

ADMIN = TgUser(ADMIN_TG, "Anna", "Adminova", language_code="en")
MAX = TgUser(2002, "Max", None, language_code="en")
LENA = TgUser(2003, "Lena", None, language_code="en")
NOT_AVAILABLE = "This is not available (it may have been removed or is not yours)."
POSITIVE = "The amount must be a positive number, for example 150,000."
STALE = "This button is out of date. Open the screen again."


async def people(h: Harness, crm: CRM) -> tuple[Actor, Actor, Actor]:
    await h.send(ADMIN, "/start")
    boss = await crm.people.identify(ADMIN_TG)
    assert boss is not None
    actors = [boss]
    for user in (MAX, LENA):
        link = await crm.people.create_invite(boss, Role.MANAGER, None)
        result = await crm.people.start(user.id, user.first_name, None, "en", link.token)
        assert result is not None
        actors.append(result.actor)
    return actors[0], actors[1], actors[2]


async def client(crm: CRM, owner: Actor, name: str = "Horns & Hooves") -> int:
    ref = await crm.clients.create(owner, ClientDraft(name=name, phone="+7 912 345-67-89"))
    return ref.id


async def deal_via_bot(h: Harness, user: TgUser, client_id: int, title: str) -> int:
    calls = await h.press(user, ClientCD(id=client_id, action="newdeal").pack())
    assert "New deal for «Horns &amp; Hooves»" in last_text(calls)
    await h.send(user, title)
    await h.send(user, "150 000")
    calls = await h.press(user, button(await h.send(user, "31.12"), "Invoices"))
    return int(button(calls, "Deal").split(":")[1])


async def count(crm: CRM, model: type[object]) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_new_deal_form_with_typed_amount(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    calls = await harness.press(MAX, ClientCD(id=cid, action="deals").pack())
    assert "No deals yet" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "New deal"))
    assert "What is it?" in last_text(calls)
    calls = await harness.send(MAX, "20 printers")
    assert "amount" in last_text(calls)
    # Nonsense, zero and a negative number are refused, the form stays on the amount.
    calls = await harness.send(MAX, "lots")
    assert "could not read the amount" in last_text(calls)
    for bad in ("0", "-5000"):
        calls = await harness.send(MAX, bad)
        assert last_text(calls) == POSITIVE, bad
    calls = await harness.send(MAX, "1000000000000000")
    assert "too large" in last_text(calls)
    calls = await harness.send(MAX, "150 000")
    assert "When do you expect to close it?" in last_text(calls)
    assert await count(crm, Deal) == 0
    calls = await harness.press(MAX, button(calls, "End of next month"))
    screen = last_text(calls)
    assert "💼 <b>20 printers</b>" in screen
    assert "Stage: <b>New lead</b>" in screen
    assert "Amount: RUB150,000.00" in screen
    assert "Probability: 10%" in screen
    assert "Expected close: 31 Dec 2026" in screen
    assert "Deal created." in alerts(calls)
    [deal] = await crm.deals.deals_of(max_, cid)
    assert deal.amount == Decimal("150000.00") and deal.expected_close == date(2026, 12, 31)
    # The form is over: plain text is no longer taken as its answer.
    assert await count(crm, Deal) == 1
    calls = await harness.press(MAX, ClientCD(id=cid, action="deals").pack())
    assert any("20 printers" in t for t, _ in buttons(calls))


async def test_typed_date_and_bad_date(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    await harness.press(MAX, ClientCD(id=cid, action="newdeal").pack())
    await harness.send(MAX, "Service contract")
    await harness.send(MAX, "1,5 млн")
    calls = await harness.send(MAX, "someday")
    assert "could not read the date" in last_text(calls)
    calls = await harness.send(MAX, "31.12")
    assert "Expected close: 31 Dec 2026" in last_text(calls)
    assert "Amount: RUB1,500,000.00" in last_text(calls)


async def test_move_stage_on_buttons_writes_history(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    calls = await harness.press(MAX, DealCD(id=deal_id, action="open").pack())
    calls = await harness.press(MAX, button(calls, "Move stage"))
    assert "«Printers»: to which stage? Now: «New lead»." in last_text(calls)
    assert any(t.startswith("• New lead") for t, _ in buttons(calls))
    calls = await harness.press(MAX, button(calls, "Proposal sent"))
    screen = last_text(calls)
    assert "Stage: <b>Proposal sent</b>" in screen and "Probability: 60%" in screen
    assert "stage: New lead → Proposal sent — Max" in screen
    assert "Stage: Proposal sent" in alerts(calls)
    async with crm.db.transaction() as s:
        row = await s.scalar(select(Activity).where(Activity.event == "stage_changed"))
    assert row is not None and row.deal_id == deal_id and row.author_id == max_.id
    assert row.details == {"from": "new", "to": "proposal"}


async def test_lose_with_reason_records_the_stage(harness: Harness, crm: CRM) -> None:
    boss, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    meeting = next(st.id for st in await crm.deals.stages() if st.code == "meeting")
    await harness.press(MAX, StageCD(deal_id=deal_id, stage_id=meeting).pack())
    calls = await harness.press(MAX, DealCD(id=deal_id, action="lost").pack())
    assert "«Printers»: the reason for the loss?" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Price"))
    screen = last_text(calls)
    assert "❌ <b>Lost</b> at the stage «Meeting / demo»: Price" in screen
    assert "Reopen" not in str(buttons(calls)) and "Won" not in str(buttons(calls))
    async with crm.db.transaction() as s:
        deal = await s.get(Deal, deal_id)
    assert deal is not None and deal.status == "lost" and deal.lost_stage_id == meeting
    # A stale button of the closed deal answers with an alert and changes nothing.
    before = await count(crm, Activity)
    for stale in (DealCD(id=deal_id, action="won").pack(),
                  StageCD(deal_id=deal_id, stage_id=meeting).pack()):
        calls = await harness.press(MAX, stale)
        assert alerts(calls) == ["This deal is already closed."] and not texts(calls)
    assert await count(crm, Activity) == before
    # The admin sees Reopen; it goes back to the stage it was lost at.
    calls = await harness.press(ADMIN, DealCD(id=deal_id, action="open").pack())
    calls = await harness.press(ADMIN, button(calls, "Reopen"))
    assert "Stage: <b>Meeting / demo</b>" in last_text(calls)
    assert (await crm.deals.deal(boss, deal_id)).status == "open"


async def test_other_reason_asks_for_a_note(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    other = next(r.id for r in await crm.deals.loss_reasons() if r.code == "other")
    calls = await harness.press(MAX, LossCD(deal_id=deal_id, reason_id=other).pack())
    assert "«Printers»: the reason for the loss, in a few words?" in last_text(calls)
    assert (await crm.deals.deal(max_, deal_id)).status == "open"
    calls = await harness.send(MAX, "The director <b>retired</b>")
    screen = last_text(calls)
    assert "Other" in screen and "The director &lt;b&gt;retired&lt;/b&gt;" in screen


async def test_won_with_another_typed_amount(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    calls = await harness.press(MAX, DealCD(id=deal_id, action="won").pack())
    assert "Confirm RUB150,000.00" in str(buttons(calls))
    calls = await harness.send(MAX, "140k")
    assert "✅ <b>Won</b>" in last_text(calls) and "Amount: RUB140,000.00" in last_text(calls)
    assert "Reopen" not in str(buttons(calls))  # a manager cannot reopen


async def test_invoice_partial_then_full_payment(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    calls = await harness.press(MAX, DealCD(id=deal_id, action="inv").pack())
    calls = await harness.press(MAX, button(calls, "Invoice"))
    assert "The amount?" in last_text(calls)
    calls = await harness.send(MAX, "100 000")
    assert "Due date" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "in 14 d."))
    screen = last_text(calls)
    assert "Amount: RUB100,000.00" in screen and "Due date: 9 Dec 2026" in screen
    calls = await harness.press(MAX, button(calls, "Record payment"))
    assert "Still due: RUB100,000.00" in last_text(calls)
    calls = await harness.send(MAX, "40 000")
    assert "Date of the payment?" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Today"))
    screen = last_text(calls)
    assert "Paid: RUB40,000.00" in screen and "Due: RUB60,000.00" in screen
    # Too much is refused with the rest named; the form waits for a smaller amount.
    calls = await harness.press(MAX, button(calls, "Record payment"))
    calls = await harness.send(MAX, "70 000")
    assert "more than is still due: RUB60,000.00" in last_text(calls)
    assert await count(crm, Payment) == 1
    async with crm.db.transaction() as s:
        invoice_id = await s.scalar(select(Invoice.id))
    assert invoice_id is not None
    calls = await harness.press(MAX, InvoiceCD(id=invoice_id, action="payfull").pack())
    calls = await harness.press(MAX, button(calls, "Confirm"))
    screen = last_text(calls)
    assert "✅ Paid in full" in screen and "Due: RUB0.00" in screen
    assert "Record payment" not in str(buttons(calls))
    async with crm.db.transaction() as s:
        amounts = list(await s.scalars(select(Payment.amount).order_by(Payment.id)))
        status = await s.scalar(select(Invoice.status))
    assert amounts == [Decimal(40000), Decimal(60000)] and status == "paid"
    # The client's invoices from the card.
    calls = await harness.press(MAX, ClientCD(id=cid, action="inv").pack())
    assert "paid in full" in last_text(calls) and "Deal: Printers" in last_text(calls)
    # The deal screen sums it up.
    calls = await harness.press(MAX, DealCD(id=deal_id, action="open").pack())
    assert "invoiced RUB100,000.00, paid RUB100,000.00, due RUB0.00" in last_text(calls)
    assert "payment of RUB60,000.00" in last_text(calls)


async def test_forged_buttons_of_another_managers_deal(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    inv = await crm.billing.add_invoice(max_, deal_id, Decimal(500), date(2026, 12, 10))
    price = next(r.id for r in await crm.deals.loss_reasons() if r.code == "price")
    stage = next(st.id for st in await crm.deals.stages() if st.code == "contract")
    before = (await count(crm, Activity), await count(crm, Payment))
    forged = [
        DealCD(id=deal_id, action="open").pack(),
        DealCD(id=deal_id, action="won").pack(),
        DealCD(id=deal_id, action="lost").pack(),
        DealCD(id=deal_id, action="stages").pack(),
        DealCD(id=deal_id, action="newinv").pack(),
        StageCD(deal_id=deal_id, stage_id=stage).pack(),
        LossCD(deal_id=deal_id, reason_id=price).pack(),
        InvoiceCD(id=inv.id, action="payfull").pack(),
        InvoiceCD(id=inv.id, action="pay").pack(),
        ClientCD(id=cid, action="newdeal").pack(),
        ClientCD(id=cid, action="deals").pack(),
        ClientCD(id=cid, action="inv").pack(),
    ]
    for data in forged:
        calls = await harness.press(LENA, data)
        assert alerts(calls) == [NOT_AVAILABLE], data
        assert not texts(calls), data
    # Nor can she type into a form she was never given.
    await harness.send(LENA, "1 000 000")
    view = await crm.deals.deal(max_, deal_id)
    assert view.status == "open" and view.stage.code == "new"
    assert view.summary.paid == Decimal(0)
    assert (await count(crm, Activity), await count(crm, Payment)) == before


async def test_callback_data_fits_telegram(harness: Harness, crm: CRM) -> None:
    big = INT32_MAX
    for data in (
        DealCD(id=big, action=DealAction.NEW_INVOICE).pack(),
        StageCD(deal_id=big, stage_id=big).pack(),
        LossCD(deal_id=big, reason_id=big).pack(),
        InvoiceCD(id=big, action=InvoiceAction.PAY_FULL).pack(),
        InvDueCD(days=365, step=big).pack(),
        PayDateCD(day=PayDay.YESTERDAY, step=big).pack(),
        PaymentEditCD(id=big).pack(),
        DealCancelCD(deal_id=big).pack(),
    ):
        assert len(data.encode()) <= 64


async def test_forged_values_fall_through_to_the_stale_handler(
    harness: Harness, crm: CRM
) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    before = await count(crm, Activity)
    bad_ids = ("0", "-1", str(2**31), str(2**64))
    forged = [f"d:{deal_id}:explode", "i:1:steal", "idue:400:5", "idue:-3:5",
              "ipd:tomorrow:5", "dcl:someday:5"]
    forged += [f"d:{v}:open" for v in bad_ids] + [f"ds:{deal_id}:{v}" for v in bad_ids]
    forged += [f"i:{v}:payfull" for v in bad_ids] + [f"dwon:{v}" for v in bad_ids]
    forged += [f"ipc:{v}" for v in bad_ids] + [f"ipe:{v}" for v in bad_ids]
    forged += [f"dx:{v}" for v in bad_ids] + [f"idue:7:{v}" for v in bad_ids]
    for data in forged:
        calls = await harness.press(MAX, data)
        assert alerts(calls) == [STALE], data
        assert not texts(calls), data
    assert await count(crm, Activity) == before


async def _invoice(harness: Harness, crm: CRM) -> tuple[Actor, Actor, int, int]:
    boss, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    inv = await crm.billing.add_invoice(max_, deal_id, Decimal(12500), date(2026, 12, 10))
    return boss, max_, deal_id, inv.id


async def test_paid_in_full_asks_to_confirm_and_records_once(
    harness: Harness, crm: CRM
) -> None:
    _, _, _, invoice_id = await _invoice(harness, crm)
    calls = await harness.press(MAX, InvoiceCD(id=invoice_id, action="payfull").pack())
    assert "Record a payment of RUB12,500.00 for invoice #" in last_text(calls)
    assert "confirm?" in last_text(calls)
    assert await count(crm, Payment) == 0
    confirm = button(calls, "Confirm")
    calls = await harness.press(MAX, confirm)
    assert "✅ Paid in full" in last_text(calls)
    calls = await harness.press(MAX, confirm)  # a double tap: answered quietly, nothing done
    assert not alerts(calls) and not texts(calls)
    assert await count(crm, Payment) == 1


async def test_paid_in_full_double_tap_at_once_records_one_payment(
    harness: Harness, crm: CRM
) -> None:
    _, _, _, invoice_id = await _invoice(harness, crm)
    calls = await harness.press(MAX, InvoiceCD(id=invoice_id, action="payfull").pack())
    confirm = button(calls, "Confirm")
    await asyncio.gather(harness.press(MAX, confirm), harness.press(MAX, confirm))
    async with crm.db.transaction() as s:
        amounts = list(await s.scalars(select(Payment.amount)))
    assert amounts == [Decimal(12500)]


async def test_payment_date_typed_yesterday_and_future(harness: Harness, crm: CRM) -> None:
    _, _, _, invoice_id = await _invoice(harness, crm)
    calls = await harness.press(MAX, InvoiceCD(id=invoice_id, action="pay").pack())
    for bad in ("-5000", "0"):
        assert last_text(await harness.send(MAX, bad)) == POSITIVE
    calls = await harness.send(MAX, "1 000")
    assert "Date of the payment?" in last_text(calls)
    calls = await harness.send(MAX, "31.12.2026")
    assert last_text(calls) == "A payment date cannot be in the future."
    calls = await harness.send(MAX, "sometime")
    assert "could not read the date" in last_text(calls)
    calls = await harness.send(MAX, "20.11")
    assert "Paid: RUB1,000.00" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "Record payment"))
    calls = await harness.press(MAX, button(await harness.send(MAX, "500"), "Yesterday"))
    assert "Paid: RUB1,500.00" in last_text(calls)
    async with crm.db.transaction() as s:
        days = list(await s.scalars(select(Payment.paid_on).order_by(Payment.id)))
    today = crm.clock.now().date()
    assert days == [date(2026, 11, 20), today - timedelta(days=1)]


async def test_negative_invoice_and_won_amounts(harness: Harness, crm: CRM) -> None:
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    await harness.press(MAX, DealCD(id=deal_id, action="newinv").pack())
    assert last_text(await harness.send(MAX, "-5000")) == POSITIVE
    assert "too large" in last_text(await harness.send(MAX, "1000000000000000"))
    await harness.press(MAX, DealCD(id=deal_id, action="won").pack())
    assert last_text(await harness.send(MAX, "−5 000")) == POSITIVE
    assert await count(crm, Invoice) == 0
    assert (await crm.deals.deal(max_, deal_id)).status == "open"


async def test_a_large_amount_is_confirmed_before_going_on(harness: Harness, crm: CRM) -> None:
    """Above AMOUNT_CONFIRM_LIMIT (10 million by default) a slip of the finger is likely."""
    _, max_, _ = await people(harness, crm)
    cid = await client(crm, max_)
    await harness.press(MAX, ClientCD(id=cid, action="newdeal").pack())
    await harness.send(MAX, "Printers")
    calls = await harness.send(MAX, "150000000")
    assert "large amount. Is it right?" in last_text(calls)
    calls = await harness.press(MAX, button(calls, "No, type it again"))
    assert "The amount of the deal?" in last_text(calls)
    calls = await harness.send(MAX, "15000000")
    yes = button(calls, "Yes")
    calls = await harness.press(MAX, yes)
    assert "When do you expect to close it?" in last_text(calls)
    again = await harness.press(MAX, yes)  # a second tap: answered quietly, nothing done
    assert not alerts(again) and not texts(again)
    calls = await harness.press(MAX, button(calls, "Skip"))
    async with crm.db.transaction() as s:
        amounts = list(await s.scalars(select(Deal.amount)))
    assert amounts == [Decimal(15_000_000)]
    # Below the limit nothing is asked.
    await harness.press(MAX, ClientCD(id=cid, action="newdeal").pack())
    await harness.send(MAX, "Toner")
    assert "When do you expect" in last_text(await harness.send(MAX, "90000"))
