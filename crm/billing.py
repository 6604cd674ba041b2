"""Payment control: invoices issued on a deal and the payments that arrive against them.

An invoice is paid in parts or at once; it never takes more than it asks for. Overdue is
counted from the actor's own calendar day, not the server's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Ownership, can_change, require
from crm.clients import load_visible
from crm.clock import Clock
from crm.deals import (
    InvoiceLine,
    check_amount,
    invoice_line,
    load_deal,
    local_today,
    money_str,
    record,
    sort_invoices,
)
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable, valid_id
from crm.parsing import interpret_when, parse_signed_amount
from crm.roles import Role
from storage.db import Database
from storage.models import Invoice, Payment
from storage.repo import deals as repo
from storage.repo import people as people_repo

NUMBER_MAX = 64
# What makes the words after an amount an attempt at a date rather than more digits.
_DATE_LIKE = re.compile(r"[^\W\d_]|[.:\-]")
# A payment date is typed as 25.11 or 25.11.2026 (also 25/11, 25-11-26).
_PAID_ON = re.compile(r"\s*(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2}|\d{4}))?\s*")
EARLIEST_PAYMENT = date(2000, 1, 1)


def parse_paid_on(text: str, today: date) -> date | None:
    """The day a payment arrived, typed as dd.mm or dd.mm.yyyy. Without a year it is the
    latest such day not after `today` (a payment is in the past: "31.12" typed in January
    is last year's). None: not a date. A future date with a year is returned as it is: the
    use case refuses it with its own message."""
    m = _PAID_ON.fullmatch(text)
    if m is None:
        return None
    day, month, year_text = int(m.group(1)), int(m.group(2)), m.group(3)
    try:
        if year_text is None:
            found = date(today.year, month, day) if _valid(today.year, month, day) else None
            if found is None or found > today:
                found = date(today.year - 1, month, day) \
                    if _valid(today.year - 1, month, day) else None
        else:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            found = date(year, month, day)
    except ValueError:
        return None
    if found is None or found < EARLIEST_PAYMENT:
        return None
    return found


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def can_correct_payments(actor: Actor, own: Ownership) -> bool:
    """A recorded payment is corrected by an admin, or by a head of the team whose manager
    owns the client: money already booked is not the manager's own to rewrite."""
    if actor.role is Role.ADMIN:
        return True
    return actor.role is Role.HEAD and actor.team_id is not None \
        and own.owner_team_id == actor.team_id


@dataclass(frozen=True, slots=True)
class PaymentLine:
    id: int
    amount: Decimal
    paid_on: date


@dataclass(frozen=True, slots=True)
class InvoiceView:
    line: InvoiceLine
    client_name: str
    payments: list[PaymentLine]
    can_change: bool
    can_correct: bool = False


def read_paid_on(text: str, now: datetime, tz: ZoneInfo) -> date:
    """The day a payment arrived, as typed: empty means today; the past is fine ("вчера",
    "3 дня назад", "15.11", "пт" — the latest Friday); a day after today is
    InvalidInput("paid_on"), also "20.12" typed on 2 December (never silently last year's,
    see crm.parsing.interpret_when), text that is not a date InvalidInput("when")."""
    today = now.astimezone(tz).date()
    if not text.strip():
        return today
    found = interpret_when(text, now.astimezone(tz), past=True)
    if found is None:
        raise InvalidInput("when")
    if found.at.date() > today:
        raise InvalidInput("paid_on")
    return found.at.date()


def read_payment(text: str, now: datetime, tz: ZoneInfo) -> tuple[Decimal, date]:
    """A payment in one answer: the amount, then optionally the day it arrived ("600",
    "150 000 вчера", "600 15.11"); without a day it arrived today.

    InvalidInput codes: those of crm.deals.read_amount for the amount (``amount_format``,
    ``amount``, ``amount_too_large``), ``paid_on`` for a day in the future, ``when`` for
    words after the amount that are not a date.
    """
    words = text.split()
    bad_date = False
    # The longest leading run of words that is a number is the amount ("150 000 вчера").
    for k in range(len(words), 0, -1):
        value = parse_signed_amount(" ".join(words[:k]))
        if value is None:
            continue
        rest = " ".join(words[k:])
        try:
            day = read_paid_on(rest, now, tz)
        except InvalidInput as err:
            if err.code != "when":
                raise
            bad_date = bad_date or _DATE_LIKE.search(rest) is not None
            continue
        return check_amount(value), day
    raise InvalidInput("when" if bad_date else "amount_format")


class BillingService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def invoicable(self, actor: Actor, deal_id: int) -> str:
        """The deal's title if the actor may invoice it now: asked before the invoice form,
        so that nobody types an amount only to be refused at the end."""
        async with self.db.transaction() as s:
            deal, _, _ = await load_deal(s, actor, deal_id, change=True)
            if deal.status == "lost":
                raise Conflict("deal_lost")
            return deal.title

    async def add_invoice(
        self,
        actor: Actor,
        deal_id: int,
        amount: Decimal,
        due_on: date,
        number: str | None = None,
    ) -> InvoiceLine:
        amount = check_amount(amount)
        number = " ".join(number.split()) if number else None
        if number is not None and len(number) > NUMBER_MAX:
            raise InvalidInput("invoice_number")
        today = local_today(self.clock, actor)
        now = self.clock.now()
        async with self.db.transaction() as s:
            deal, client, _ = await load_deal(s, actor, deal_id, change=True, lock=True)
            if deal.status == "lost":
                raise Conflict("deal_lost")
            inv = Invoice(
                deal_id=deal.id, number=number or None, amount=amount, currency=deal.currency,
                issued_on=today, due_on=due_on, status="open", created_by_id=actor.id,
                created_at=now,
            )
            s.add(inv)
            await s.flush()
            details = {
                "invoice_id": inv.id, "amount": money_str(amount), "due_on": due_on.isoformat(),
            }
            if number:
                details["number"] = number
            record(s, actor, deal, "invoice_added", details, now,
                   audit_action="invoice.created", entity="invoice", entity_id=inv.id)
            return invoice_line(inv, Decimal("0.00"), deal.title, client.id, today)

    async def add_payment(
        self, actor: Actor, invoice_id: int, amount: Decimal, paid_on: date
    ) -> InvoiceLine:
        """Record money received: part of what is due, or all of it. More than is due is
        refused (a typo, or a payment that belongs to another invoice)."""
        return await self._pay(actor, invoice_id, check_amount(amount), paid_on)

    async def pay_rest(self, actor: Actor, invoice_id: int, paid_on: date) -> InvoiceLine:
        """"Paid in full": whatever is still due, computed under the row lock, not from the
        number that was on the screen."""
        return await self._pay(actor, invoice_id, None, paid_on)

    async def _pay(
        self, actor: Actor, invoice_id: int, amount: Decimal | None, paid_on: date
    ) -> InvoiceLine:
        today = local_today(self.clock, actor)
        if paid_on > today:
            raise InvalidInput("paid_on")
        now = self.clock.now()
        async with self.db.transaction() as s:
            inv = await repo.invoice(s, valid_id(invoice_id), lock=True)
            if inv is None:
                raise NotAvailable()
            deal, client, _ = await load_deal(s, actor, inv.deal_id, change=True)
            if inv.status == "paid":
                raise Conflict("invoice_paid")
            if inv.status != "open":
                raise Conflict("invoice_closed")
            paid = (await repo.paid_by_invoice(s, [inv.id]))[inv.id]
            rest = inv.amount - paid
            if rest <= 0:
                raise Conflict("invoice_paid")
            if amount is None:
                amount = rest
            if amount > rest:
                raise InvalidInput("overpayment", rest=rest, currency=inv.currency)
            s.add(Payment(invoice_id=inv.id, amount=amount, paid_on=paid_on,
                          created_by_id=actor.id, created_at=now))
            paid += amount
            if paid >= inv.amount:
                inv.status = "paid"
            record(
                s, actor, deal, "payment_received",
                {"invoice_id": inv.id, "amount": money_str(amount),
                 "paid_on": paid_on.isoformat(), "rest": money_str(inv.amount - paid)},
                now, audit_action="payment.created", entity="invoice", entity_id=inv.id,
            )
            return invoice_line(inv, paid, deal.title, client.id, today)

    async def invoice(self, actor: Actor, invoice_id: int) -> InvoiceView:
        async with self.db.transaction() as s:
            inv = await repo.invoice(s, valid_id(invoice_id))
            if inv is None:
                raise NotAvailable()
            deal, client, own = await load_deal(s, actor, inv.deal_id, change=False)
            payments = await repo.payments_of(s, inv.id)
            paid = sum((p.amount for p in payments), Decimal("0.00"))
            line = invoice_line(inv, paid, deal.title, client.id, local_today(self.clock, actor))
            return InvoiceView(
                line=line,
                client_name=client.name,
                payments=[PaymentLine(p.id, p.amount, p.paid_on) for p in payments],
                can_change=can_change(actor, own),
                can_correct=can_correct_payments(actor, own),
            )

    async def payment(self, actor: Actor, payment_id: int) -> tuple[PaymentLine, InvoiceLine]:
        """A payment the actor may correct, with its invoice (asked before the form)."""
        async with self.db.transaction() as s:
            pay = await repo.payment(s, valid_id(payment_id))
            if pay is None:
                raise NotAvailable()
            inv = await repo.invoice(s, pay.invoice_id)
            if inv is None:
                raise NotAvailable()
            deal, client, own = await load_deal(s, actor, inv.deal_id, change=False)
            require(can_correct_payments(actor, own))
            paid = (await repo.paid_by_invoice(s, [inv.id]))[inv.id]
            line = invoice_line(inv, paid, deal.title, client.id, local_today(self.clock, actor))
            return PaymentLine(pay.id, pay.amount, pay.paid_on), line

    async def correct_payment(
        self, actor: Actor, payment_id: int, amount: Decimal, paid_on: date
    ) -> InvoiceLine:
        """Put right a payment booked with a wrong amount or date. The invoice still never
        takes more than it asks for; its paid/open status follows the new sum. Audited, and
        the client's history says what changed."""
        amount = check_amount(amount)
        today = local_today(self.clock, actor)
        if paid_on > today:
            raise InvalidInput("paid_on")
        now = self.clock.now()
        async with self.db.transaction() as s:
            pay = await repo.payment(s, valid_id(payment_id), lock=True)
            if pay is None:
                raise NotAvailable()
            inv = await repo.invoice(s, pay.invoice_id, lock=True)
            if inv is None:
                raise NotAvailable()
            deal, client, own = await load_deal(s, actor, inv.deal_id, change=False)
            require(can_correct_payments(actor, own))
            if inv.status == "cancelled":
                raise Conflict("invoice_closed")
            paid = (await repo.paid_by_invoice(s, [inv.id]))[inv.id]
            others = paid - pay.amount
            if others + amount > inv.amount:
                raise InvalidInput("overpayment", rest=inv.amount - others,
                                   currency=inv.currency)
            before = {"amount": money_str(pay.amount), "paid_on": pay.paid_on.isoformat()}
            after = {"amount": money_str(amount), "paid_on": paid_on.isoformat()}
            if before != after:
                pay.amount, pay.paid_on = amount, paid_on
                paid = others + amount
                inv.status = "paid" if paid >= inv.amount else "open"
                details = {"invoice_id": inv.id, "payment_id": pay.id, **after,
                           "was": before}
                repo.add_event(s, client_id=deal.client_id, deal_id=deal.id,
                               author_id=actor.id, event="payment_corrected",
                               details=details, at=now)
                people_repo.audit(s, actor.id, "payment.corrected", "payment", pay.id,
                                  {"deal_id": deal.id, **details}, now)
            return invoice_line(inv, paid, deal.title, client.id, today)

    async def invoices_of_deal(self, actor: Actor, deal_id: int) -> list[InvoiceLine]:
        async with self.db.transaction() as s:
            deal, client, _ = await load_deal(s, actor, deal_id, change=False)
            return await self._lines(s, actor, [deal.id], {deal.id: deal.title}, client.id)

    async def invoices_of_client(self, actor: Actor, client_id: int) -> list[InvoiceLine]:
        async with self.db.transaction() as s:
            client, _ = await load_visible(s, actor, client_id)
            deal_ids = await repo.deal_ids_of_client(s, client.id)
            titles = await repo.deal_titles(s, set(deal_ids))
            return await self._lines(s, actor, deal_ids, titles, client.id)

    async def _lines(
        self, s: AsyncSession, actor: Actor, deal_ids: list[int], titles: dict[int, str],
        client_id: int,
    ) -> list[InvoiceLine]:
        invoices = await repo.invoices_of_deals(s, deal_ids)
        paid = await repo.paid_by_invoice(s, [i.id for i in invoices])
        today = local_today(self.clock, actor)
        return sort_invoices([
            invoice_line(i, paid[i.id], titles.get(i.deal_id, ""), client_id, today)
            for i in invoices
        ])

