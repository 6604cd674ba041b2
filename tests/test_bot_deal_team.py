"""A head's side of deals: told when the team wins or loses one, and correcting payments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.i18n import create_i18n
from bot.keyboards.deals import DealAction, DealCD, InvoiceCD, PaymentEditCD
from bot.notices import deal_closed_text
from crm.outbox import OutboxItem
from crm.reminders import DealClosedView
from crm.roles import Role
from crm.service import CRM
from scheduler.sender import in_locale
from storage.models import Activity, AuditLog, OutboxMessage, Payment
from tests.conftest import ADMIN_TG
from tests.harness import Harness, TgUser, alerts, button, buttons, last_text
from tests.test_bot_deals import ADMIN, MAX, NOT_AVAILABLE, client, deal_via_bot

HELEN = TgUser(2005, "Helen", None, language_code="en")


async def team(h: Harness, crm: CRM) -> tuple[int, int]:
    await h.send(ADMIN, "/start")
    boss = await crm.people.identify(ADMIN_TG)
    assert boss is not None
    north = await crm.people.create_team(boss, "North")
    ids = []
    for user, role in ((HELEN, Role.HEAD), (MAX, Role.MANAGER)):
        link = await crm.people.create_invite(boss, role, north.id)
        result = await crm.people.start(user.id, user.first_name, None, "en", link.token)
        assert result is not None
        ids.append(result.actor.id)
    return ids[0], ids[1]


async def rows(crm: CRM) -> list[OutboxMessage]:
    async with crm.db.transaction() as s:
        return list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "deal_closed").order_by(OutboxMessage.id)))


async def test_head_is_told_once_when_the_team_wins(harness: Harness, crm: CRM) -> None:
    head_id, max_id = await team(harness, crm)
    max_ = await crm.people.identify(MAX.id)
    assert max_ is not None
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    calls = await harness.press(MAX, DealCD(id=deal_id, action=DealAction.WON).pack())
    await harness.press(MAX, button(calls, "Confirm"))
    [row] = await rows(crm)
    assert row.user_id == head_id and row.idempotency_key == f"deal_closed:{deal_id}:won:{head_id}"
    # Reopened by the admin and won again: the head is not told a second time.
    admin = await crm.people.identify(ADMIN_TG)
    assert admin is not None
    await crm.deals.reopen(admin, deal_id)
    await crm.deals.win(max_, deal_id)
    assert len(await rows(crm)) == 1
    item = OutboxItem(row.id, row.idempotency_key, row.kind, row.user_id, row.chat_id,
                      dict(row.payload), row.due_at, 0)
    view = await crm.reminders.deal_closed_view(item)
    assert isinstance(view, DealClosedView)
    with in_locale(create_i18n("en"), "en"):
        text = deal_closed_text(view)
    assert text == "✅ «Printers» of «Horns &amp; Hooves» won by Max: RUB150,000.00"
    with in_locale(create_i18n("en"), "ru"):
        assert "«Printers», клиент «Horns &amp; Hooves»: выиграна" in deal_closed_text(view)
    assert max_id != head_id


async def test_head_closing_it_themself_is_not_told(harness: Harness, crm: CRM) -> None:
    _, _ = await team(harness, crm)
    max_ = await crm.people.identify(MAX.id)
    assert max_ is not None
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    calls = await harness.press(HELEN, DealCD(id=deal_id, action=DealAction.LOST).pack())
    assert "«Printers»: the reason for the loss?" in last_text(calls)
    await harness.press(HELEN, button(calls, "Price"))
    assert (await crm.deals.deal(max_, deal_id)).status == "lost"
    assert await rows(crm) == []


async def test_head_corrects_a_payment_audited_and_in_history(
    harness: Harness, crm: CRM
) -> None:
    await team(harness, crm)
    max_ = await crm.people.identify(MAX.id)
    assert max_ is not None
    cid = await client(crm, max_)
    deal_id = await deal_via_bot(harness, MAX, cid, "Printers")
    inv = await crm.billing.add_invoice(max_, deal_id, Decimal(10000), date(2026, 12, 10))
    today = crm.clock.now().date()
    await crm.billing.add_payment(max_, inv.id, Decimal(4000), today)
    async with crm.db.transaction() as s:
        pay_id = await s.scalar(select(Payment.id))
    assert pay_id is not None
    # The manager sees no ✏️ and a forged one is refused.
    calls = await harness.press(MAX, InvoiceCD(id=inv.id, action="open").pack())
    assert not any("✏️" in t for t, _ in buttons(calls))
    calls = await harness.press(MAX, PaymentEditCD(id=pay_id).pack())
    assert alerts(calls) == ["Your role does not allow this."]
    calls = await harness.press(HELEN, InvoiceCD(id=inv.id, action="open").pack())
    calls = await harness.press(HELEN, button(calls, "✏️"))
    assert "the correct amount?" in last_text(calls)
    calls = await harness.send(HELEN, "20 000")
    assert "more than is still due: RUB10,000.00" in last_text(calls)
    calls = await harness.send(HELEN, "4 500")
    calls = await harness.press(HELEN, button(calls, "Yesterday"))
    assert "Paid: RUB4,500.00" in last_text(calls)
    async with crm.db.transaction() as s:
        pay = await s.get(Payment, pay_id)
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "payment.corrected"))
        event = await s.scalar(select(Activity).where(Activity.event == "payment_corrected"))
    assert pay is not None and pay.amount == Decimal(4500)
    assert pay.paid_on == today - timedelta(days=1)
    assert audit is not None and audit.details is not None
    assert audit.details["was"]["amount"] == "4000.00"
    assert event is not None and event.client_id == cid
    # Not the head of another team, nor forged ids.
    calls = await harness.press(HELEN, PaymentEditCD(id=pay_id + 100).pack())
    assert alerts(calls) == [NOT_AVAILABLE]
