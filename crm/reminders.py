"""What a reminder or an overdue-payment alert shows when it fires, and the one-tap actions
under a reminder: no answer, snooze, done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.classifiers import Label, label
from crm.clients import split_list
from crm.clock import Clock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.errors import InvalidInput, NotAvailable
from crm.history import (
    HistoryService,
    PlanningService,
    load_open_planned,
    log_contact,
    plan_contact,
)
from crm.notifications import reminder_key
from crm.outbox import OutboxItem
from crm.parsing import format_phone
from crm.roles import Role
from crm.when import WorkHours, next_work_start, quick_when
from storage.db import Database
from storage.models import Client, Deal, Invite, Invoice, PlannedContact, User
from storage.repo import classifiers as cls_repo
from storage.repo import clients as clients_repo
from storage.repo import history as history_repo
from storage.repo import notify as notify_repo
from storage.repo import people as people_repo

SNOOZE = {"15m": timedelta(minutes=15), "1h": timedelta(hours=1), "2h": timedelta(hours=2)}


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    tg_id: int
    name: str
    locale: str
    timezone: str
    role: Role


@dataclass(frozen=True, slots=True)
class LastEntry:
    occurred_at: datetime
    type: Label | None
    outcome: Label | None
    event: str | None
    text: str | None
    details: dict[str, Any] | None = None  # of an event: who handed the client over, say


@dataclass(frozen=True, slots=True)
class ReminderView:
    recipient: Recipient
    planned_id: int
    client_id: int
    client_name: str
    deal_title: str | None
    due_at: datetime
    note: str | None
    phone: str | None
    contact_name: str | None
    last: LastEntry | None
    call_type_id: int | None


@dataclass(frozen=True, slots=True)
class OverdueView:
    recipient: Recipient
    invoice_id: int
    number: str | None
    amount: Decimal
    owed: Decimal
    currency: str
    due_on: date
    days_overdue: int
    client_id: int
    client_name: str
    deal_title: str
    manager_name: str | None  # set when the alert went up to the head


@dataclass(frozen=True, slots=True)
class Moved:
    planned_id: int
    client_id: int
    due_at: datetime


@dataclass(frozen=True, slots=True)
class InviteUsedView:
    recipient: Recipient
    name: str
    role: Role
    team_name: str | None
    author_name: str | None  # None: the recipient wrote the invitation


@dataclass(frozen=True, slots=True)
class Skip:
    """The notification no longer applies; the reason is kept on the outbox row."""

    reason: str


@dataclass(frozen=True, slots=True)
class DealClosedView:
    recipient: Recipient
    deal_id: int
    title: str
    client_name: str
    status: str  # won, lost
    amount: Decimal
    currency: str
    closed_by: str
    reason: Label | None


def recipient(user: User, default_locale: str) -> Recipient:
    locale = user.locale if user.locale in ("ru", "en") else default_locale
    return Recipient(user.id, user.tg_id, user.name, locale, user.timezone, Role(user.role))


def _deliverable(user: User | None) -> Skip | None:
    if user is None or not user.is_active:
        return Skip("user inactive")
    if user.unreachable:
        return Skip("user unreachable")
    if user.on_vacation:
        return Skip("vacation")
    return None


class ReminderService:
    def __init__(
        self, db: Database, clock: Clock, config: CRMConfig,
        history: HistoryService, planning: PlanningService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.history = history
        self.planning = planning

    # --- what fires --------------------------------------------------------------------

    async def reminder_view(self, item: OutboxItem) -> ReminderView | Skip:
        pid = int(item.payload.get("planned_id", 0))
        async with self.db.transaction() as s:
            planned = await history_repo.planned(s, pid)
            if planned is None or planned.status != "planned":
                return Skip("planned contact closed")
            if reminder_key(planned.id, planned.due_at) != item.key:
                return Skip("planned contact moved")
            if item.user_id is not None and item.user_id != planned.owner_id:
                # Handed to another manager after this was queued: theirs now, not this
                # user's (crm.client_admin re-addresses what is still pending).
                return Skip("reassigned")
            user = await people_repo.user_by_id(s, planned.owner_id)
            if (skip := _deliverable(user)) is not None or user is None:
                return skip or Skip("user inactive")
            client = await s.get(Client, planned.client_id)
            if client is None or client.is_deleted:
                return Skip("client deleted")
            deal_title = await self._deal_title(s, planned)
            contacts = await clients_repo.contacts_of(s, client.id)
            phones = split_list(client.phones)
            phone: str | None = phones[0] if phones else None
            contact_name: str | None = None
            if phone is None:
                for c in contacts:
                    if c.phone:
                        phone, contact_name = c.phone, c.name
                        break
            elif contacts:
                contact_name = contacts[0].name
            last = await history_repo.last_activity(s, client.id)
            last_entry = None
            if last is not None:
                items = await cls_repo.items_by_ids(
                    s, {i for i in (last.type_id, last.outcome_id) if i}
                )
                last_entry = LastEntry(
                    last.occurred_at,
                    label(items[last.type_id]) if last.type_id in items else None,
                    label(items[last.outcome_id]) if last.outcome_id in items else None,
                    last.event, last.text, last.details,
                )
            call = await cls_repo.item_by_code(s, "activity_type", "call")
            return ReminderView(
                recipient=recipient(user, self.config.default_locale),
                planned_id=planned.id, client_id=client.id, client_name=client.name,
                deal_title=deal_title, due_at=planned.due_at, note=planned.note,
                phone=format_phone(phone) if phone else None, contact_name=contact_name,
                last=last_entry, call_type_id=call.id if call is not None else None,
            )

    @staticmethod
    async def _deal_title(s: AsyncSession, planned: PlannedContact) -> str | None:
        if planned.deal_id is not None:
            deal = await s.get(Deal, planned.deal_id)
            return deal.title if deal is not None else None
        deals = await history_repo.open_deals_of(s, planned.client_id)
        return deals[0].title if len(deals) == 1 else None

    async def overdue_view(self, item: OutboxItem) -> OverdueView | Skip:
        invoice_id = int(item.payload.get("invoice_id", 0))
        async with self.db.transaction() as s:
            invoice = await s.get(Invoice, invoice_id)
            if invoice is None or invoice.status == "cancelled":
                return Skip("invoice closed")
            owed = invoice.amount - await notify_repo.invoice_paid(s, invoice.id)
            if owed <= 0:
                return Skip("invoice paid")
            deal = await s.get(Deal, invoice.deal_id)
            client = await s.get(Client, deal.client_id) if deal is not None else None
            if deal is None or client is None or client.is_deleted:
                return Skip("client deleted")
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if (skip := _deliverable(user)) is not None or user is None:
                return skip or Skip("user inactive")
            manager_name = None
            if item.payload.get("escalated") and deal.owner_id:
                manager = await people_repo.user_by_id(s, deal.owner_id)
                manager_name = manager.name if manager is not None else None
            today = self.clock.now().astimezone(WorkHours.of(user).tz).date()
            return OverdueView(
                recipient=recipient(user, self.config.default_locale),
                invoice_id=invoice.id, number=invoice.number, amount=invoice.amount,
                owed=owed, currency=invoice.currency, due_on=invoice.due_on,
                days_overdue=(today - invoice.due_on).days, client_id=client.id,
                client_name=client.name, deal_title=deal.title, manager_name=manager_name,
            )

    async def deal_closed_view(self, item: OutboxItem) -> DealClosedView | Skip:
        """A head's notice that a deal of the team was won or lost, if it still is."""
        deal_id = int(item.payload.get("deal_id", 0))
        status = str(item.payload.get("status", ""))
        async with self.db.transaction() as s:
            deal = await s.get(Deal, deal_id)
            if deal is None or deal.status != status:
                return Skip("deal reopened")
            client = await s.get(Client, deal.client_id)
            if client is None or client.is_deleted:
                return Skip("client deleted")
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if (skip := _deliverable(user)) is not None or user is None:
                return skip or Skip("user inactive")
            closer = await people_repo.user_by_id(s, int(item.payload.get("closed_by", 0)))
            reason = await cls_repo.item(s, deal.loss_reason_id) if deal.loss_reason_id \
                else None
            return DealClosedView(
                recipient=recipient(user, self.config.default_locale), deal_id=deal.id,
                title=deal.title, client_name=client.name, status=deal.status,
                amount=deal.amount, currency=deal.currency,
                closed_by=closer.name if closer is not None else "",
                reason=label(reason) if reason is not None else None,
            )

    async def digest_recipient(self, item: OutboxItem) -> Recipient | Skip:
        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if (skip := _deliverable(user)) is not None or user is None:
                return skip or Skip("user inactive")
            if user.role not in ("head", "manager", "admin"):
                return Skip("role")
            if not user.digest_enabled:
                return Skip("digest off")  # switched off after it was queued
            return recipient(user, self.config.default_locale)

    async def invite_used_view(self, item: OutboxItem) -> InviteUsedView | Skip:
        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if user is None or not user.is_active or user.unreachable:
                return Skip("user inactive")
            newcomer = await people_repo.user_by_id(s, int(item.payload.get("user_id", 0)))
            invite = await s.get(Invite, int(item.payload.get("invite_id", 0)))
            if newcomer is None or invite is None:
                return Skip("invite gone")
            team = await people_repo.team_by_id(s, newcomer.team_id) if newcomer.team_id else None
            author = None
            if invite.created_by_id != user.id:
                found = await people_repo.user_by_id(s, invite.created_by_id)
                author = found.name if found else "?"
            return InviteUsedView(recipient(user, self.config.default_locale), newcomer.name,
                                  Role(newcomer.role), team.name if team else None, author)

    # --- one tap under a reminder --------------------------------------------------------

    def _when(self, user: User, when: str) -> datetime:
        now = self.clock.now()
        if when == "tom":
            return next_work_start(now, WorkHours.of(user))
        if when == "2h":
            # The same "in 2 h" as the card's button: after hours it is planned for when the
            # manager is back, which is when its reminder would fire anyway.
            return quick_when(when, now, WorkHours.of(user)).due
        if when in SNOOZE:
            return now + SNOOZE[when]
        raise InvalidInput("when")

    async def no_answer(self, actor: Actor, planned_id: int, when: str) -> Moved:
        """Log a call that went unanswered and plan the next try, in one tap and one
        transaction: either both are written or neither."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            planned = await load_open_planned(s, actor, planned_id)
            user = await people_repo.user_by_id(s, actor.id)
            if user is None:
                raise NotAvailable()
            due = self._when(user, when)
            call = await cls_repo.item_by_code(s, "activity_type", "call")
            outcome = await cls_repo.item_by_code(s, "outcome", "no_answer")
            if call is None:
                raise InvalidInput("activity_type")
            # The deal may have been closed since the contact was planned.
            deal = await s.get(Deal, planned.deal_id) if planned.deal_id else None
            deal_id = deal.id if deal is not None and deal.status == "open" else None
            client_id, note = planned.client_id, planned.note
            logged = await log_contact(
                s, actor, now, client_id, call.id,
                outcome.id if outcome is not None else None, None, deal_id=deal_id,
            )
            new = await plan_contact(
                s, actor, now, client_id, due, deal_id=deal_id or logged.deal_id, note=note
            )
            return Moved(new.id, client_id, due)

    async def snooze(self, actor: Actor, planned_id: int, when: str) -> Moved:
        """Move this planned contact (and so its reminder)."""
        async with self.db.transaction() as s:
            planned = await load_open_planned(s, actor, planned_id)
            user = await people_repo.user_by_id(s, actor.id)
            if user is None:
                raise NotAvailable()
            due = self._when(user, when)
            planned.due_at = due
            return Moved(planned.id, planned.client_id, due)

    async def done(self, actor: Actor, planned_id: int) -> int:
        return await self.planning.set_status(actor, planned_id, "done")


    async def reassigned_view(self, item: OutboxItem) -> ReassignedView | Skip:
        """A notice that clients were handed to the recipient, or away from them."""
        p = item.payload
        async with self.db.transaction() as s:
            user = await people_repo.user_by_id(s, item.user_id or 0)
            if user is None or not user.is_active or user.unreachable:
                return Skip("user inactive")
            ids = {int(p.get(k) or 0) for k in ("by", "from", "to")} - {0}
            names = {u.id: u.name for u in (await notify_repo.users_by_ids(s, ids)).values()}
            clients = [(int(c[0]), str(c[1])) for c in p.get("clients") or []]
            to_id = int(p.get("to") or 0)
            return ReassignedView(
                recipient=recipient(user, self.config.default_locale),
                by_name=names.get(int(p.get("by") or 0), ""),
                from_name=names.get(int(p.get("from") or 0)),
                to_name=names.get(to_id, ""),
                to_me=to_id == user.id,
                count=int(p.get("count") or len(clients)),
                clients=clients,
                lead=bool(p.get("lead")),
                by_rule=bool(p.get("rule")),
            )


@dataclass(frozen=True, slots=True)
class ReassignedView:
    recipient: Recipient
    by_name: str
    from_name: str | None  # the one previous manager, if there was one
    to_name: str
    to_me: bool  # the recipient got the clients (else they were moved away from them)
    count: int
    clients: list[tuple[int, str]]  # (id, name) of the first few
    lead: bool = False  # new leads given by the distribution rule or from the queue
    by_rule: bool = False  # clients handed out by the team's rule (to several people)
