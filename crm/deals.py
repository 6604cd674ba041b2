"""Deals: open one, move it through the pipeline, close it as won or lost, reopen it.

A deal belongs to its client: whoever may change the client may change its deals
(crm.access), and a deal of a client the actor cannot see does not exist for them. Every
change leaves a typed history record on the client and an audit row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Ownership, can_change, can_reopen_deals, require
from crm.classifiers import Label, StageInfo, label, stage_info
from crm.clients import ClientRef, load_changeable, load_visible
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import Conflict, InvalidInput, NotAvailable, valid_id
from crm.notifications import deal_closed_rows
from crm.parsing import parse_signed_amount
from storage.db import Database
from storage.models import Client, Deal, Invoice, Stage
from storage.repo import classifiers as cls_repo
from storage.repo import clients as clients_repo
from storage.repo import deals as repo
from storage.repo import notify as notify_repo
from storage.repo import outbox as outbox_repo
from storage.repo import people as people_repo

OTHER_REASON = "other"
HISTORY_LIMIT = 5
MAX_AMOUNT = Decimal("1000000000000")  # a trillion: anything larger is a typo
TITLE_MAX = 300
NOTE_MAX = 500
_CENT = Decimal("0.01")
_ZERO = re.compile(r"[+]?[0\s.,]*0[0\s.,]*")


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    id: int
    deal_id: int
    deal_title: str
    client_id: int
    number: str | None
    amount: Decimal
    paid: Decimal
    currency: str
    issued_on: date
    due_on: date
    status: str  # open, paid, cancelled
    days_overdue: int  # 0 when not overdue

    @property
    def due(self) -> Decimal:
        """What is still to be paid."""
        return self.amount - self.paid

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0

    @property
    def is_paid(self) -> bool:
        return self.status == "paid"


@dataclass(frozen=True, slots=True)
class InvoiceSummary:
    count: int
    invoiced: Decimal
    paid: Decimal
    overdue: Decimal

    @property
    def due(self) -> Decimal:
        return self.invoiced - self.paid


@dataclass(frozen=True, slots=True)
class DealEvent:
    """One history record of the deal, with codes already turned into labels."""

    event: str
    at: datetime
    author: str | None
    stage_from: StageInfo | None = None
    stage_to: StageInfo | None = None
    amount: Decimal | None = None
    reason: Label | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DealItem:
    id: int
    title: str
    amount: Decimal
    currency: str
    stage: StageInfo
    status: str
    probability: int | None
    expected_close: date | None


@dataclass(frozen=True, slots=True)
class ClientDeals:
    client_id: int
    client_name: str
    can_change: bool
    deals: list[DealItem]


@dataclass(frozen=True, slots=True)
class DealView:
    id: int
    client_id: int
    client_name: str
    title: str
    amount: Decimal
    currency: str
    stage: StageInfo
    status: str  # open, won, lost
    probability: int | None
    expected_close: date | None
    loss_reason: Label | None
    loss_note: str | None
    lost_stage: StageInfo | None
    opened_at: datetime
    closed_at: datetime | None
    stage_changed_at: datetime
    invoices: list[InvoiceLine]
    summary: InvoiceSummary
    history: list[DealEvent]
    can_change: bool
    can_reopen: bool

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def can_invoice(self) -> bool:
        return self.can_change and self.status != "lost"


# --- pure helpers shared with crm.billing -------------------------------------------------


def money_str(value: Decimal) -> str:
    """An amount for JSON history details: exact, two places, no float."""
    return str(value.quantize(_CENT))


def check_amount(amount: Decimal) -> Decimal:
    """An amount of money to store: positive (InvalidInput("amount")), at most MAX_AMOUNT
    (InvalidInput("amount_too_large")), rounded to cents."""
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInput("amount") from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput("amount")
    # Before rounding: an absurd number of digits must not fail in quantize.
    if value > MAX_AMOUNT:
        raise InvalidInput("amount_too_large", limit=MAX_AMOUNT)
    value = value.quantize(_CENT)
    if value <= 0:
        raise InvalidInput("amount")
    return value


def read_amount(text: str) -> Decimal:
    """An amount as typed ("150 000", "1,5 млн", "$300"; see crm.parsing.parse_amount), ready
    to store. InvalidInput codes: ``amount_format`` (not a number), ``amount`` (zero or
    negative: "-5000"), ``amount_too_large`` (above MAX_AMOUNT, e.g. 10^15; params: limit)."""
    value = parse_signed_amount(text)
    if value is None:
        raise InvalidInput("amount_format")
    return check_amount(value)


def needs_confirmation(amount: Decimal, limit: Decimal | None) -> bool:
    """A deal or an invoice over the deployment's sane limit (CRMConfig.amount_confirm_limit)
    is asked to be confirmed before it is saved: a slip of the finger adds a zero easily.
    No limit (None or not positive) never asks."""
    return limit is not None and limit > 0 and amount > limit


def clean_title(title: str) -> str:
    text = " ".join(title.split())
    if not 1 <= len(text) <= TITLE_MAX:
        raise InvalidInput("deal_title")
    return text


def local_today(clock: Clock, actor: Actor) -> date:
    return clock.now().astimezone(actor.tz).date()


def invoice_line(
    inv: Invoice, paid: Decimal, deal_title: str, client_id: int, today: date
) -> InvoiceLine:
    rest = inv.amount - paid
    late = inv.status == "open" and rest > 0 and inv.due_on < today
    return InvoiceLine(
        id=inv.id, deal_id=inv.deal_id, deal_title=deal_title, client_id=client_id,
        number=inv.number, amount=inv.amount, paid=paid, currency=inv.currency,
        issued_on=inv.issued_on, due_on=inv.due_on, status=inv.status,
        days_overdue=(today - inv.due_on).days if late else 0,
    )


def summarize(lines: list[InvoiceLine]) -> InvoiceSummary:
    zero = Decimal("0.00")
    return InvoiceSummary(
        count=len(lines),
        invoiced=sum((i.amount for i in lines), zero),
        paid=sum((i.paid for i in lines), zero),
        overdue=sum((i.due for i in lines if i.overdue), zero),
    )


def sort_invoices(lines: list[InvoiceLine]) -> list[InvoiceLine]:
    """Unpaid first, the most urgent on top; paid ones after, the latest first."""
    unpaid = sorted((i for i in lines if not i.is_paid), key=lambda i: (i.due_on, i.id))
    paid = sorted((i for i in lines if i.is_paid), key=lambda i: (i.due_on, i.id), reverse=True)
    return unpaid + paid


# --- loading and recording, shared with crm.billing ---------------------------------------


async def load_deal(
    s: AsyncSession, actor: Actor, deal_id: int, *, change: bool, lock: bool = False
) -> tuple[Deal, Client, Ownership]:
    """The deal if the actor may see it (and change it, with `change`). Someone else's deal
    answers NotAvailable, exactly like a deal that does not exist."""
    deal = await repo.deal(s, valid_id(deal_id), lock=lock)
    if deal is None:
        raise NotAvailable()
    client, own = await load_visible(s, actor, deal.client_id)
    if change:
        require(can_change(actor, own))
    return deal, client, own


def record(
    s: AsyncSession,
    actor: Actor,
    deal: Deal,
    event: str,
    details: dict[str, Any],
    now: datetime,
    *,
    audit_action: str,
    entity: str = "deal",
    entity_id: int | None = None,
    text: str | None = None,
) -> None:
    """The history record on the client's timeline and the audit row, for one change."""
    repo.add_event(
        s, client_id=deal.client_id, deal_id=deal.id, author_id=actor.id, event=event,
        details=details, at=now, text=text,
    )
    people_repo.audit(
        s, actor.id, audit_action, entity, entity_id if entity_id is not None else deal.id,
        {"deal_id": deal.id, **details}, now,
    )
    deal.last_activity_at = now


async def tell_heads(s: AsyncSession, actor: Actor, deal: Deal, now: datetime) -> None:
    """The heads of the owner's team hear that a deal of their team was won or lost, in the
    same transaction as the close (a rolled-back close tells no one)."""
    owner_id = deal.owner_id
    if owner_id is None:
        return
    owners = await notify_repo.users_by_ids(s, {owner_id})
    owner = owners.get(owner_id)
    if owner is None or owner.team_id is None:
        return
    heads = list(await notify_repo.heads_of_team(s, owner.team_id))
    rows = deal_closed_rows(heads, deal.id, deal.status, actor.id, now)
    if rows:
        await outbox_repo.insert_if_absent(s, rows)


def _require_open(deal: Deal) -> None:
    if deal.status != "open":
        raise Conflict("deal_closed")


async def _stage(s: AsyncSession, stage_id: int) -> Stage:
    stage = await cls_repo.stage(s, stage_id)
    if stage is None:
        raise InvalidInput("stage")
    return stage


class DealService:
    def __init__(self, db: Database, clock: Clock, currency: str) -> None:
        self.db = db
        self.clock = clock
        self.currency = currency

    # --- reading ---------------------------------------------------------------------------

    async def stages(self) -> list[StageInfo]:
        async with self.db.transaction() as s:
            return [stage_info(st) for st in await cls_repo.stages(s)]

    async def loss_reasons(self) -> list[Label]:
        async with self.db.transaction() as s:
            return [label(i) for i in await cls_repo.items(s, "loss_reason")]

    async def new_deal_client(self, actor: Actor, client_id: int) -> ClientRef:
        """The client a new deal is about to be opened for, if the actor may do so."""
        async with self.db.transaction() as s:
            client = await load_changeable(s, actor, client_id)
            return ClientRef(client.id, client.name)

    async def deals_of(
        self, actor: Actor, client_id: int, include_closed: bool = True
    ) -> list[DealItem]:
        return (await self.client_deals(actor, client_id, include_closed)).deals

    async def client_deals(
        self, actor: Actor, client_id: int, include_closed: bool = True
    ) -> ClientDeals:
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            stages = await repo.stages_by_id(s)
            deals = await repo.deals_of_client(s, client.id, include_closed)
            items = [
                DealItem(d.id, d.title, d.amount, d.currency, stage_info(stages[d.stage_id]),
                         d.status, d.probability, d.expected_close)
                for d in deals
            ]
            return ClientDeals(client.id, client.name, can_change(actor, own), items)

    async def deal(self, actor: Actor, deal_id: int) -> DealView:
        async with self.db.transaction() as s:
            deal, client, own = await load_deal(s, actor, deal_id, change=False)
            return await self._view(s, actor, deal, client, own)

    async def open_for_change(self, actor: Actor, deal_id: int) -> DealView:
        """The deal, if it is still open and the actor may move or close it: checked before
        a button shows stages or loss reasons, so a stale one answers at once."""
        async with self.db.transaction() as s:
            deal, client, own = await load_deal(s, actor, deal_id, change=True)
            _require_open(deal)
            return await self._view(s, actor, deal, client, own)

    # --- changing --------------------------------------------------------------------------

    async def create(
        self,
        actor: Actor,
        client_id: int,
        title: str,
        amount: Decimal,
        expected_close: date | None,
    ) -> DealView:
        title = clean_title(title)
        amount = check_amount(amount)
        if expected_close is not None and expected_close < local_today(self.clock, actor):
            raise InvalidInput("expected_close")
        now = self.clock.now()
        async with self.db.transaction() as s:
            client, own = await load_visible(s, actor, client_id)
            require(can_change(actor, own))
            stages = await cls_repo.stages(s, active_only=True)
            if not stages:
                raise Conflict("no_stages")
            first = stages[0]
            deal = Deal(
                client_id=client.id, title=title, amount=amount, currency=self.currency,
                stage_id=first.id, status="open", probability=first.probability,
                expected_close=expected_close, owner_id=client.owner_id or actor.id,
                opened_at=now, stage_changed_at=now, last_activity_at=now,
            )
            s.add(deal)
            await s.flush()
            details: dict[str, Any] = {"to": first.code, "amount": money_str(amount)}
            if expected_close is not None:
                details["expected_close"] = expected_close.isoformat()
            record(s, actor, deal, "deal_created", details, now, audit_action="deal.created")
            return await self._view(s, actor, deal, client, own)

    async def move(self, actor: Actor, deal_id: int, stage_id: int) -> DealView:
        now = self.clock.now()
        async with self.db.transaction() as s:
            deal, client, own = await load_deal(s, actor, deal_id, change=True, lock=True)
            _require_open(deal)
            # Shared: the stage cannot be hidden (crm.classifiers) while the deal moves to it.
            stage = await cls_repo.stage(s, stage_id, shared=True)
            if stage is None or not stage.is_active:
                raise InvalidInput("stage")
            if stage.id != deal.stage_id:
                old = await _stage(s, deal.stage_id)
                deal.stage_id = stage.id
                deal.probability = stage.probability
                deal.stage_changed_at = now
                record(s, actor, deal, "stage_changed", {"from": old.code, "to": stage.code},
                       now, audit_action="deal.stage")
            return await self._view(s, actor, deal, client, own)

    async def win(
        self, actor: Actor, deal_id: int, final_amount: Decimal | None = None
    ) -> DealView:
        final = check_amount(final_amount) if final_amount is not None else None
        now = self.clock.now()
        async with self.db.transaction() as s:
            deal, client, own = await load_deal(s, actor, deal_id, change=True, lock=True)
            _require_open(deal)
            stage = await _stage(s, deal.stage_id)
            details: dict[str, Any] = {"stage": stage.code}
            if final is not None and final != deal.amount:
                details["planned"] = money_str(deal.amount)
                deal.amount = final
            details["amount"] = money_str(deal.amount)
            deal.status = "won"
            deal.probability = 100
            deal.closed_at = now
            record(s, actor, deal, "deal_won", details, now, audit_action="deal.won")
            await tell_heads(s, actor, deal, now)
            return await self._view(s, actor, deal, client, own)

    async def lose(
        self, actor: Actor, deal_id: int, reason_id: int, note: str | None = None
    ) -> DealView:
        note = " ".join(note.split())[:NOTE_MAX] if note else None
        now = self.clock.now()
        async with self.db.transaction() as s:
            deal, client, own = await load_deal(s, actor, deal_id, change=True, lock=True)
            _require_open(deal)
            reason = await cls_repo.item(s, reason_id)
            if reason is None or reason.kind != "loss_reason" or not reason.is_active:
                raise InvalidInput("loss_reason")
            if reason.code == OTHER_REASON and not note:
                raise InvalidInput("loss_note")
            stage = await _stage(s, deal.stage_id)
            deal.status = "lost"
            deal.loss_reason_id = reason.id
            deal.loss_note = note
            deal.lost_stage_id = deal.stage_id
            deal.probability = 0
            deal.closed_at = now
            details: dict[str, Any] = {
                "reason": reason.code, "stage": stage.code, "amount": money_str(deal.amount),
            }
            record(s, actor, deal, "deal_lost", details, now, audit_action="deal.lost",
                   text=note)
            await tell_heads(s, actor, deal, now)
            return await self._view(s, actor, deal, client, own)

    async def reopen(self, actor: Actor, deal_id: int) -> DealView:
        now = self.clock.now()
        async with self.db.transaction() as s:
            deal, client, own = await load_deal(s, actor, deal_id, change=True, lock=True)
            require(can_reopen_deals(actor))
            if deal.status == "open":
                raise Conflict("deal_open")
            stage = await _stage(s, deal.stage_id)
            details: dict[str, Any] = {"from": deal.status, "stage": stage.code}
            deal.status = "open"
            deal.probability = stage.probability
            deal.closed_at = None
            # The loss stays in the history record; on an open deal it would be misleading.
            deal.loss_reason_id = None
            deal.loss_note = None
            deal.lost_stage_id = None
            # A reopened deal starts its stall clock afresh, or it would be "stalled" at once.
            deal.stage_changed_at = now
            record(s, actor, deal, "deal_reopened", details, now, audit_action="deal.reopened")
            return await self._view(s, actor, deal, client, own)

    # --- the screen ------------------------------------------------------------------------

    async def _view(
        self, s: AsyncSession, actor: Actor, deal: Deal, client: Client, own: Ownership
    ) -> DealView:
        stages = await repo.stages_by_id(s)
        by_code = {st.code: st for st in stages.values()}
        reason = await cls_repo.item(s, deal.loss_reason_id) if deal.loss_reason_id else None
        today = local_today(self.clock, actor)
        invoices = await repo.invoices_of_deals(s, [deal.id])
        paid = await repo.paid_by_invoice(s, [i.id for i in invoices])
        lines = sort_invoices([
            invoice_line(i, paid[i.id], deal.title, client.id, today) for i in invoices
        ])
        events = await repo.deal_events(s, deal.id, HISTORY_LIMIT)
        authors = await clients_repo.user_names(
            s, {e.author_id for e in events if e.author_id is not None}
        )
        history: list[DealEvent] = []
        for e in events:
            d = e.details or {}
            st_from = by_code.get(str(d.get("from", "")))
            st_to = by_code.get(str(d.get("to") or d.get("stage") or ""))
            amount = Decimal(str(d["amount"])) if "amount" in d else None
            why = (
                await cls_repo.item_by_code(s, "loss_reason", str(d["reason"]))
                if "reason" in d else None
            )
            history.append(DealEvent(
                event=e.event or "",
                at=e.occurred_at,
                author=authors[e.author_id][0] if e.author_id in authors else None,
                stage_from=stage_info(st_from) if st_from else None,
                stage_to=stage_info(st_to) if st_to else None,
                amount=amount,
                reason=label(why) if why else None,
                note=e.text if e.event == "deal_lost" else None,
            ))
        changeable = can_change(actor, own)
        return DealView(
            id=deal.id,
            client_id=client.id,
            client_name=client.name,
            title=deal.title,
            amount=deal.amount,
            currency=deal.currency,
            stage=stage_info(stages[deal.stage_id]),
            status=deal.status,
            probability=deal.probability,
            expected_close=deal.expected_close,
            loss_reason=label(reason) if reason else None,
            loss_note=deal.loss_note,
            lost_stage=stage_info(stages[deal.lost_stage_id]) if deal.lost_stage_id else None,
            opened_at=deal.opened_at,
            closed_at=deal.closed_at,
            stage_changed_at=deal.stage_changed_at,
            invoices=lines,
            summary=summarize(lines),
            history=history,
            can_change=changeable,
            can_reopen=changeable and can_reopen_deals(actor) and deal.status != "open",
        )
