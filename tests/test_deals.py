"""Deals, invoices and payments in `crm/`, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from crm.billing import parse_paid_on
from crm.clients import ClientDraft
from crm.clock import FrozenClock
from crm.dto import Actor
from crm.errors import Conflict, Forbidden, InvalidInput, NotAvailable
from crm.roles import Role
from crm.service import CRM
from storage.models import Activity, AuditLog, Deal, Invoice, Payment
from tests.conftest import ADMIN_TG

D = Decimal


async def admin(crm: CRM) -> Actor:
    result = await crm.people.start(ADMIN_TG, "Anna Admin", None, "en", None)
    assert result is not None
    return result.actor


async def invited(
    crm: CRM, boss: Actor, tg_id: int, name: str, role: Role, team_id: int | None = None
) -> Actor:
    link = await crm.people.create_invite(boss, role, team_id)
    result = await crm.people.start(tg_id, name, None, "en", link.token)
    assert result is not None
    return result.actor


async def client_of(crm: CRM, owner: Actor, name: str = "ООО Ромашка") -> int:
    ref = await crm.clients.create(owner, ClientDraft(name=name, phone="+7 912 345-67-89"))
    return ref.id


async def events(crm: CRM, deal_id: int) -> list[Activity]:
    async with crm.db.transaction() as s:
        rows = await s.scalars(
            select(Activity).where(Activity.deal_id == deal_id).order_by(Activity.id)
        )
        return list(rows)


async def count(crm: CRM, model: type[object]) -> int:
    async with crm.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def stage_id(crm: CRM, code: str) -> int:
    return next(st.id for st in await crm.deals.stages() if st.code == code)


async def reason_id(crm: CRM, code: str) -> int:
    return next(r.id for r in await crm.deals.loss_reasons() if r.code == code)


@pytest.fixture
async def team(any_crm: CRM) -> tuple[Actor, Actor, Actor, Actor]:
    """admin, a head with a team, a manager in that team, a manager without a team."""
    boss = await admin(any_crm)
    north = await any_crm.people.create_team(boss, "North")
    head = await invited(any_crm, boss, 2001, "Helen Head", Role.HEAD, north.id)
    max_ = await invited(any_crm, boss, 2002, "Max", Role.MANAGER, north.id)
    lone = await invited(any_crm, boss, 2003, "Lena", Role.MANAGER)
    return boss, head, max_, lone


async def test_create_opens_at_first_stage_with_its_probability(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    view = await any_crm.deals.create(max_, cid, "  Поставка   оборудования ", D("150000"),
                                      date(2026, 12, 31))
    assert view.title == "Поставка оборудования"
    assert view.stage.code == "new" and view.probability == 10 and view.status == "open"
    assert view.amount == D("150000.00") and view.currency == "RUB"
    assert view.client_name == "ООО Ромашка" and view.expected_close == date(2026, 12, 31)
    assert view.can_change and not view.can_reopen
    [created] = await events(any_crm, view.id)
    assert created.event == "deal_created" and created.author_id == max_.id
    assert created.client_id == cid
    assert created.details == {"to": "new", "amount": "150000.00",
                               "expected_close": "2026-12-31"}
    assert [h.event for h in view.history] == ["deal_created"]
    items = await any_crm.deals.deals_of(max_, cid)
    assert [(i.id, i.title) for i in items] == [(view.id, "Поставка оборудования")]


async def test_create_refuses_bad_input_and_writes_nothing(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    for amount in (D(0), D(-5), D("0.001")):
        with pytest.raises(InvalidInput) as err:
            await any_crm.deals.create(max_, cid, "Deal", amount, None)
        assert err.value.code == "amount"
    with pytest.raises(InvalidInput) as err:
        await any_crm.deals.create(max_, cid, "   ", D(100), None)
    assert err.value.code == "deal_title"
    with pytest.raises(InvalidInput) as err:
        await any_crm.deals.create(max_, cid, "Deal", D(100), date(2020, 1, 1))
    assert err.value.code == "expected_close"
    assert await count(any_crm, Deal) == 0 and await count(any_crm, Activity) == 0


async def test_move_records_history_and_stage_probability(
    any_crm: CRM, team: tuple[Actor, ...], clock: FrozenClock
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    clock.advance(timedelta(hours=2))
    view = await any_crm.deals.move(max_, deal.id, await stage_id(any_crm, "proposal"))
    assert view.stage.code == "proposal" and view.probability == 60
    assert view.stage_changed_at == clock.now()
    rows = await events(any_crm, deal.id)
    assert [r.event for r in rows] == ["deal_created", "stage_changed"]
    assert rows[1].details == {"from": "new", "to": "proposal"}
    assert rows[1].occurred_at == clock.now()
    first = view.history[0]
    assert first.event == "stage_changed" and first.author == "Max"
    assert first.stage_from is not None and first.stage_from.code == "new"
    assert first.stage_to is not None and first.stage_to.en == "Proposal sent"
    # Moving to where it already is changes nothing and writes nothing.
    await any_crm.deals.move(max_, deal.id, await stage_id(any_crm, "proposal"))
    assert len(await events(any_crm, deal.id)) == 2
    async with any_crm.db.transaction() as s:
        audit = list(await s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert audit[-2:] == ["deal.created", "deal.stage"]
    with pytest.raises(InvalidInput):
        await any_crm.deals.move(max_, deal.id, 999_999)


async def test_win_with_final_amount_and_closed_deal_is_frozen(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    view = await any_crm.deals.win(max_, deal.id, D("1250.50"))
    assert view.status == "won" and view.amount == D("1250.50") and view.probability == 100
    assert view.closed_at is not None
    won = (await events(any_crm, deal.id))[-1]
    assert won.event == "deal_won"
    assert won.details == {"stage": "new", "planned": "1000.00", "amount": "1250.50"}
    for attempt in (
        any_crm.deals.move(max_, deal.id, await stage_id(any_crm, "meeting")),
        any_crm.deals.win(max_, deal.id, None),
        any_crm.deals.lose(max_, deal.id, await reason_id(any_crm, "price")),
        any_crm.deals.open_for_change(max_, deal.id),
    ):
        with pytest.raises(Conflict) as err:
            await attempt
        assert err.value.code == "deal_closed"
    assert len(await events(any_crm, deal.id)) == 2
    # Won without a new amount keeps the planned one.
    other = await any_crm.deals.create(max_, cid, "Second", D(700), None)
    assert (await any_crm.deals.win(max_, other.id)).amount == D(700)
    # Open deals are listed first.
    items = await any_crm.deals.deals_of(max_, cid)
    assert [i.status for i in items] == ["won", "won"]
    third = await any_crm.deals.create(max_, cid, "Third", D(1), None)
    items = await any_crm.deals.deals_of(max_, cid)
    assert items[0].id == third.id
    assert [i.id for i in await any_crm.deals.deals_of(max_, cid, include_closed=False)] == [
        third.id
    ]


async def test_lose_records_reason_and_the_stage_where_it_happened(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    negotiation = await stage_id(any_crm, "negotiation")
    await any_crm.deals.move(max_, deal.id, negotiation)
    view = await any_crm.deals.lose(max_, deal.id, await reason_id(any_crm, "price"))
    assert view.status == "lost" and view.probability == 0
    assert view.loss_reason is not None and view.loss_reason.code == "price"
    assert view.lost_stage is not None and view.lost_stage.id == negotiation
    async with any_crm.db.transaction() as s:
        row = await s.get(Deal, deal.id)
        assert row is not None and row.lost_stage_id == negotiation and row.closed_at
    lost = (await events(any_crm, deal.id))[-1]
    assert lost.event == "deal_lost"
    assert lost.details == {"reason": "price", "stage": "negotiation", "amount": "1000.00"}
    assert view.history[0].reason is not None and view.history[0].reason.en == "Price"


async def test_other_reason_needs_a_note_and_reason_must_be_a_loss_reason(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    other = await reason_id(any_crm, "other")
    for note in (None, "   "):
        with pytest.raises(InvalidInput) as err:
            await any_crm.deals.lose(max_, deal.id, other, note)
        assert err.value.code == "loss_note"
    call = next(t for t in await any_crm.classifiers.items("activity_type") if t.code == "call")
    with pytest.raises(InvalidInput) as err:
        await any_crm.deals.lose(max_, deal.id, call.id, "x")
    assert err.value.code == "loss_reason"
    assert (await any_crm.deals.deal(max_, deal.id)).status == "open"
    view = await any_crm.deals.lose(max_, deal.id, other, " moved   abroad ")
    assert view.loss_note == "moved abroad" and view.history[0].note == "moved abroad"


async def test_manager_cannot_touch_another_managers_deal(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, head, max_, lone = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    inv = await any_crm.billing.add_invoice(max_, deal.id, D(500), date(2026, 12, 10))
    before = await count(any_crm, Activity)
    proposal = await stage_id(any_crm, "proposal")
    attempts = [
        any_crm.deals.deal(lone, deal.id),
        any_crm.deals.move(lone, deal.id, proposal),
        any_crm.deals.win(lone, deal.id, None),
        any_crm.deals.lose(lone, deal.id, await reason_id(any_crm, "price")),
        any_crm.deals.create(lone, cid, "Mine now", D(1), None),
        any_crm.deals.deals_of(lone, cid),
        any_crm.billing.add_invoice(lone, deal.id, D(1), date(2026, 12, 10)),
        any_crm.billing.add_payment(lone, inv.id, D(1), date(2026, 11, 25)),
        any_crm.billing.pay_rest(lone, inv.id, date(2026, 11, 25)),
        any_crm.billing.invoice(lone, inv.id),
        any_crm.billing.invoices_of_client(lone, cid),
        any_crm.deals.move(max_, 999_999, proposal),
    ]
    for attempt in attempts:
        with pytest.raises(NotAvailable):
            await attempt
    assert await count(any_crm, Activity) == before
    assert (await any_crm.deals.deal(max_, deal.id)).stage.code == "new"
    # The head of Max's team may work the deal; a service user sees it but cannot move it.
    assert (await any_crm.deals.move(head, deal.id, proposal)).stage.code == "proposal"
    boss = team[0]
    svc = await invited(any_crm, boss, 2009, "Sergey", Role.SERVICE)
    assert (await any_crm.deals.deal(svc, deal.id)).can_change is False
    with pytest.raises(Forbidden):
        await any_crm.deals.win(svc, deal.id, None)


async def test_only_heads_and_admins_reopen(any_crm: CRM, team: tuple[Actor, ...]) -> None:
    boss, head, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    meeting = await stage_id(any_crm, "meeting")
    await any_crm.deals.move(max_, deal.id, meeting)
    lost = await any_crm.deals.lose(max_, deal.id, await reason_id(any_crm, "timing"))
    assert not lost.can_reopen
    with pytest.raises(Forbidden):
        await any_crm.deals.reopen(max_, deal.id)
    assert (await any_crm.deals.deal(head, deal.id)).can_reopen
    view = await any_crm.deals.reopen(head, deal.id)
    assert view.status == "open" and view.stage.id == meeting and view.probability == 40
    assert view.loss_reason is None and view.lost_stage is None and view.closed_at is None
    assert (await events(any_crm, deal.id))[-1].details == {"from": "lost", "stage": "meeting"}
    with pytest.raises(Conflict) as err:
        await any_crm.deals.reopen(boss, deal.id)
    assert err.value.code == "deal_open"
    await any_crm.deals.win(max_, deal.id, None)
    assert (await any_crm.deals.reopen(boss, deal.id)).status == "open"
    kinds = [e.event for e in await events(any_crm, deal.id)]
    assert kinds == ["deal_created", "stage_changed", "deal_lost", "deal_reopened",
                     "deal_won", "deal_reopened"]


async def test_invoice_partial_then_full_payment(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(100000), None)
    inv = await any_crm.billing.add_invoice(max_, deal.id, D(60000), date(2026, 12, 10), "A-17")
    assert inv.number == "A-17" and inv.due == D(60000) and not inv.overdue
    assert inv.issued_on == date(2026, 11, 25) and inv.currency == "RUB"
    part = await any_crm.billing.add_payment(max_, inv.id, D("25000.50"), date(2026, 11, 25))
    assert part.paid == D("25000.50") and part.due == D("34999.50") and part.status == "open"
    full = await any_crm.billing.pay_rest(max_, inv.id, date(2026, 11, 25))
    assert full.paid == D(60000) and full.due == D(0) and full.status == "paid"
    async with any_crm.db.transaction() as s:
        amounts = list(await s.scalars(select(Payment.amount).order_by(Payment.id)))
        status = await s.scalar(select(Invoice.status).where(Invoice.id == inv.id))
    assert amounts == [D("25000.50"), D("34999.50")] and status == "paid"
    with pytest.raises(Conflict) as err:
        await any_crm.billing.add_payment(max_, inv.id, D(1), date(2026, 11, 25))
    assert err.value.code == "invoice_paid"
    kinds = [(e.event, e.details) for e in await events(any_crm, deal.id)][1:]
    assert kinds == [
        ("invoice_added", {"invoice_id": inv.id, "amount": "60000.00", "due_on": "2026-12-10",
                           "number": "A-17"}),
        ("payment_received", {"invoice_id": inv.id, "amount": "25000.50",
                              "paid_on": "2026-11-25", "rest": "34999.50"}),
        ("payment_received", {"invoice_id": inv.id, "amount": "34999.50",
                              "paid_on": "2026-11-25", "rest": "0.00"}),
    ]
    view = await any_crm.deals.deal(max_, deal.id)
    assert view.summary.invoiced == D(60000) and view.summary.paid == D(60000)
    assert [i.id for i in view.invoices] == [inv.id]
    detail = await any_crm.billing.invoice(max_, inv.id)
    assert [p.amount for p in detail.payments] == [D("25000.50"), D("34999.50")]
    async with any_crm.db.transaction() as s:
        audit = list(await s.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert audit[-3:] == ["invoice.created", "payment.created", "payment.created"]


async def test_overpayment_is_refused_and_nothing_is_written(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    inv = await any_crm.billing.add_invoice(max_, deal.id, D(1000), date(2026, 12, 10))
    await any_crm.billing.add_payment(max_, inv.id, D(400), date(2026, 11, 25))
    before = (await count(any_crm, Payment), await count(any_crm, Activity),
              await count(any_crm, AuditLog))
    with pytest.raises(InvalidInput) as err:
        await any_crm.billing.add_payment(max_, inv.id, D("600.01"), date(2026, 11, 25))
    assert err.value.code == "overpayment" and err.value.params["rest"] == D(600)
    for bad in (D(0), D(-1)):
        with pytest.raises(InvalidInput):
            await any_crm.billing.add_payment(max_, inv.id, bad, date(2026, 11, 25))
    with pytest.raises(InvalidInput) as err:
        await any_crm.billing.add_payment(max_, inv.id, D(1), date(2026, 11, 26))
    assert err.value.code == "paid_on"
    after = (await count(any_crm, Payment), await count(any_crm, Activity),
             await count(any_crm, AuditLog))
    assert after == before
    line = (await any_crm.billing.invoices_of_deal(max_, deal.id))[0]
    assert line.paid == D(400) and line.status == "open"


async def test_no_invoice_on_a_lost_deal_but_on_a_won_one(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    lost = await any_crm.deals.create(max_, cid, "Lost", D(1000), None)
    await any_crm.deals.lose(max_, lost.id, await reason_id(any_crm, "no_budget"))
    with pytest.raises(Conflict) as err:
        await any_crm.billing.add_invoice(max_, lost.id, D(10), date(2026, 12, 1))
    assert err.value.code == "deal_lost"
    with pytest.raises(Conflict):
        await any_crm.billing.invoicable(max_, lost.id)
    won = await any_crm.deals.create(max_, cid, "Won", D(1000), None)
    await any_crm.deals.win(max_, won.id, None)
    assert await any_crm.billing.invoicable(max_, won.id) == "Won"
    await any_crm.billing.add_invoice(max_, won.id, D(10), date(2026, 12, 1))
    assert await count(any_crm, Invoice) == 1


async def test_overdue_is_counted_from_the_actors_local_day(
    any_crm: CRM, team: tuple[Actor, ...], clock: FrozenClock
) -> None:
    _, _, max_, _ = team
    cid = await client_of(any_crm, max_)
    deal = await any_crm.deals.create(max_, cid, "Deal", D(1000), None)
    late = await any_crm.billing.add_invoice(max_, deal.id, D(300), date(2026, 11, 26))
    paid = await any_crm.billing.add_invoice(max_, deal.id, D(200), date(2026, 11, 20))
    await any_crm.billing.pay_rest(max_, paid.id, date(2026, 11, 25))
    # 2026-11-30 21:30 UTC is already 1 December in Moscow: five days late there.
    clock.set(clock.now().replace(day=30, hour=21, minute=30))
    lines = await any_crm.billing.invoices_of_client(max_, cid)
    assert [i.id for i in lines] == [late.id, paid.id]  # unpaid first
    assert lines[0].overdue and lines[0].days_overdue == 5 and lines[0].due == D(300)
    assert not lines[1].overdue and lines[1].days_overdue == 0
    view = await any_crm.deals.deal(max_, deal.id)
    assert view.summary.overdue == D(300) and view.summary.due == D(300)
    await any_crm.billing.add_payment(max_, late.id, D(100), date(2026, 12, 1))
    lines = await any_crm.billing.invoices_of_deal(max_, deal.id)
    assert lines[0].days_overdue == 5 and lines[0].due == D(200)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)))
def test_paid_on_round_trips_and_is_never_after_today_without_a_year(
    day: date, today: date
) -> None:
    assert parse_paid_on(f"{day:%d.%m.%Y}", today) == day
    short = parse_paid_on(f"{day:%d.%m}", today)
    if short is not None:  # 29.02 may have no day in the last two years
        assert short <= today and (short.day, short.month) == (day.day, day.month)
        assert (today - short).days < 366 * 2


@given(st.text(max_size=20))
def test_paid_on_never_raises(text: str) -> None:
    found = parse_paid_on(text, date(2026, 11, 25))
    assert found is None or found >= date(2000, 1, 1)


async def test_today_counts_and_sums_the_managers_own_open_deals(
    any_crm: CRM, team: tuple[Actor, ...]
) -> None:
    _, _, max_, lone = team
    cid = await client_of(any_crm, max_)
    assert (await any_crm.planning.today(max_)).open_amount == D("0.00")
    for amount in (D("150000.50"), D("0.25"), D("99.99")):
        await any_crm.deals.create(max_, cid, "Deal", amount, None)
    other = await client_of(any_crm, lone, "ООО Лютик")
    await any_crm.deals.create(lone, other, "Not Max's", D("7"), None)
    view = await any_crm.planning.today(max_)
    assert view.open_deals == 3 and view.open_amount == D("150100.74")
