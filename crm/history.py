"""The client's history: reading it, logging a contact, planning the next one, the agenda."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Ownership, can_change, can_manage_client, can_see, require
from crm.classifiers import CHECK_IN_ONLY, ClassifierService, Label
from crm.clients import load_visible
from crm.clock import Clock
from crm.dto import Actor
from crm.errors import Conflict, CRMError, Forbidden, InvalidInput, NotAvailable, valid_id
from crm.reports.marketing import TOUCH
from crm.roles import Role
from crm.when import MAX_AHEAD
from storage.db import Database
from storage.models import Activity, Deal, PlannedContact
from storage.repo import classifiers as cls_repo
from storage.repo import history as repo
from storage.repo import people as people_repo

HISTORY_PAGE = 10
TEXT_LIMIT = 3000
# How long the author of a contact record may still correct or delete it.
CORRECTION_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class HistoryItem:
    id: int
    occurred_at: datetime
    type: Label | None
    outcome: Label | None
    event: str | None
    details: dict[str, Any] | None
    text: str | None
    author_name: str | None
    author_role: Role | None
    attachment_kind: str | None
    deal_title: str | None
    # The viewer may correct or delete this record (see may_correct).
    can_correct: bool = False


@dataclass(frozen=True, slots=True)
class EntryView:
    """A contact record opened for correction."""

    item: HistoryItem
    client_id: int
    client_name: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    client_id: int
    client_name: str
    items: list[HistoryItem]
    page: int
    pages: int
    total: int
    type_id: int
    # Events keep stage and loss-reason codes; these turn them back into names.
    stages: dict[str, Label]
    reasons: dict[str, Label]


@dataclass(frozen=True, slots=True)
class Logged:
    activity_id: int
    client_id: int
    deal_id: int | None
    open_deals: list[tuple[int, str]]
    client_name: str = ""


@dataclass(frozen=True, slots=True)
class Planned:
    id: int
    client_id: int
    due_at: datetime
    moved: bool
    client_name: str = ""


@dataclass(frozen=True, slots=True)
class AgendaItem:
    planned_id: int
    client_id: int
    client_name: str
    due_at: datetime
    note: str | None
    owner_name: str | None = None  # in a head's team section


@dataclass(frozen=True, slots=True)
class TodayView:
    day: date
    overdue: list[AgendaItem]
    today: list[AgendaItem]
    open_deals: int
    open_amount: Decimal
    overdue_invoices: int
    overdue_amount: Decimal
    # How many are overdue and due today in all (the lists hold the first few of each).
    overdue_total: int = 0
    today_total: int = 0
    # A head's Today: what the team's members let slip, each with the member's name.
    team_overdue: list[AgendaItem] = field(default_factory=list)
    team_overdue_total: int = 0


# The parts of Today a manager can page through: overdue, due today, and (a head's) the
# team's overdue.
AGENDA_PARTS = ("late", "due", "team")
AGENDA_PAGE = 10


@dataclass(frozen=True, slots=True)
class AgendaPage:
    """A page of one part of Today (see AGENDA_PARTS), by due time."""

    part: str
    items: list[AgendaItem]
    total: int
    page: int
    pages: int


def may_correct(actor: Actor, own: Ownership, row: Activity, now: datetime) -> bool:
    """Whether the actor may correct or delete a history record."""
    return correction_refusal(actor, own, row, now) is None


def correction_refusal(
    actor: Actor, own: Ownership, row: Activity, now: datetime
) -> CRMError | None:
    """Why the actor may not correct or delete the record, or None if they may.

    Only contacts are corrected: system events (a stage change, a payment) are facts the
    system recorded. Admins and the heads of the client's team correct any contact at any
    time; everyone else only their own, within a day of writing it.
    """
    return _refusal(actor, own, row.event, row.type_id, row.author_id, row.created_at, now)


def _refusal(actor: Actor, own: Ownership, event: str | None, type_id: int | None,
             author_id: int | None, created_at: datetime, now: datetime) -> CRMError | None:
    """correction_refusal, of a record's fields."""
    if event is not None or type_id is None:
        return NotAvailable()
    if actor.role is Role.ADMIN or (actor.role is Role.HEAD and can_change(actor, own)):
        return None
    if author_id != actor.id:
        return Forbidden("entry_not_yours")
    if now - created_at >= CORRECTION_WINDOW:
        return Conflict("entry_locked")
    return None


def _content(row: Activity) -> dict[str, Any]:
    """What the audit keeps of a record, so a deleted one can still be read."""
    return {
        "client_id": row.client_id,
        "deal_id": row.deal_id,
        "author_id": row.author_id,
        "type_id": row.type_id,
        "outcome_id": row.outcome_id,
        "text": row.text,
        "attachment_kind": row.attachment_kind,
        "attachment_ref": row.attachment_ref,
        "occurred_at": row.occurred_at.isoformat(),
        "created_at": row.created_at.isoformat(),
    }


def local_day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    local = now.astimezone(tz)
    start = datetime.combine(local.date(), time(0), tzinfo=tz)
    return start, start + timedelta(days=1)


async def history_items(
    s: AsyncSession, rows: Sequence[Activity], can_correct: Callable[[Activity], bool]
) -> list[HistoryItem]:
    """History records as people read them: their type, outcome, author and deal named
    (one query for all the rows)."""
    names = await repo.names_of(s, [r.id for r in rows])
    result = []
    for r in rows:
        n = names[r.id]
        result.append(HistoryItem(
            id=r.id,
            occurred_at=r.occurred_at,
            type=Label(n[1], n[2], n[3], n[4]) if n[1] is not None else None,
            outcome=Label(n[5], n[6], n[7], n[8]) if n[5] is not None else None,
            event=r.event,
            details=r.details,
            text=r.text,
            author_name=n[9] if r.author_id and n[9] is not None else None,
            author_role=Role(n[10]) if r.author_id and n[10] is not None else None,
            attachment_kind=r.attachment_kind,
            deal_title=n[11] if r.deal_id else None,
            can_correct=can_correct(r),
        ))
    return result


class HistoryService:
    def __init__(self, db: Database, clock: Clock,
                 classifiers: ClassifierService | None = None) -> None:
        self.db = db
        self.clock = clock
        self.classifiers = classifiers

    async def page(
        self, actor: Actor, client_id: int, page: int = 0, type_id: int = 0
    ) -> HistoryPage:
        """A page of the client's history, newest first (display only: Database.read)."""
        page = max(page, 0)
        now = self.clock.now()
        client_id = valid_id(client_id)
        async with self.db.read() as r:
            found, rows = await repo.history_rows(r, client_id, type_id or None,
                                                  HISTORY_PAGE, page * HISTORY_PAGE)
            if found is None:
                raise NotAvailable()
            cid, name, owner_id, is_deleted, team_id, total = found
            # An archived client's history stays readable for whoever may restore it
            # (the same rule as crm.clients.load_visible with `archived`).
            own = Ownership(owner_id, team_id)
            if not can_see(actor, own) or (is_deleted and not can_manage_client(actor, own)):
                raise NotAvailable()
            pages = max(1, -(-total // HISTORY_PAGE))
            if page > pages - 1:
                # Past the end (the history shrank since the button was drawn): the last.
                page = pages - 1
                rows = await repo.shown_page(
                    r, cid, type_id or None, HISTORY_PAGE, page * HISTORY_PAGE)
        result = []
        events = False
        for (aid, occurred_at, created_at, event, details, text, author_id, a_type_id,
             attachment_kind, deal_id, t_id, t_code, t_ru, t_en, o_id, o_code, o_ru, o_en,
             author_name, author_role, deal_title) in rows:
            events = events or bool(event)
            result.append(HistoryItem(
                id=aid,
                occurred_at=occurred_at,
                type=Label(t_id, t_code, t_ru, t_en) if t_id is not None else None,
                outcome=Label(o_id, o_code, o_ru, o_en) if o_id is not None else None,
                event=event,
                details=details,
                text=text,
                author_name=author_name if author_id and author_name is not None else None,
                author_role=Role(author_role) if author_id and author_role is not None
                else None,
                attachment_kind=attachment_kind,
                deal_title=deal_title if deal_id else None,
                can_correct=not is_deleted and _refusal(
                    actor, own, event, a_type_id, author_id, created_at, now) is None,
            ))
        # Only system events (a stage change, a lost deal) name stages and reasons.
        stages: dict[str, Label] = {}
        reasons: dict[str, Label] = {}
        if events:
            stages, reasons = await self._event_names(result)
        return HistoryPage(cid, name, result, page, pages, total, type_id, stages, reasons)

    async def _event_names(
        self, items: list[HistoryItem]
    ) -> tuple[dict[str, Label], dict[str, Label]]:
        """The stages and loss reasons by code, from the worker's copy of the classifiers
        unless an event names a code the copy has not seen yet."""
        if self.classifiers is None:
            self.classifiers = ClassifierService(self.db, self.clock)
        stages, reasons = await self.classifiers.event_names()
        for item in items:
            d = item.details or {}
            if item.event and (
                any(str(d[k]) not in stages for k in ("from", "to", "stage") if k in d)
                or ("reason" in d and str(d["reason"]) not in reasons)
            ):
                return await self.classifiers.event_names(fresh=True)
        return stages, reasons

    async def attachment(self, actor: Actor, activity_id: int) -> tuple[str, str]:
        """(kind, Telegram file_id) of a history record's attachment, if the actor may see it."""
        async with self.db.transaction() as s:
            row = await repo.activity(s, valid_id(activity_id))
            if row is None or not row.attachment_ref or not row.attachment_kind:
                raise NotAvailable()
            await load_visible(s, actor, row.client_id, archived=True)
            return row.attachment_kind, row.attachment_ref

    async def _correctable(
        self, s: AsyncSession, actor: Actor, activity_id: int
    ) -> tuple[Activity, str]:
        """The record and its client's name, if the actor may correct it now; else the
        reason why not, raised."""
        row = await repo.activity(s, valid_id(activity_id))
        if row is None:
            raise NotAvailable()
        client, own = await load_visible(s, actor, row.client_id)
        refusal = correction_refusal(actor, own, row, self.clock.now())
        if refusal is not None:
            raise refusal
        return row, client.name

    async def entry(self, actor: Actor, activity_id: int) -> EntryView:
        """A contact record the actor may correct, for its correction screen."""
        async with self.db.transaction() as s:
            row, client_name = await self._correctable(s, actor, activity_id)
            [item] = await history_items(s, [row], lambda _row: True)
            return EntryView(item, row.client_id, client_name)

    async def change_comment(self, actor: Actor, activity_id: int, text: str) -> int:
        """Replace the comment of a contact record (\"-\" clears it); returns the client id."""
        value = text.strip()
        new = None if value in ("", "-", "—") else value
        if new is not None and len(new) > TEXT_LIMIT:
            raise InvalidInput("comment")
        async with self.db.transaction() as s:
            row, _ = await self._correctable(s, actor, activity_id)
            old, row.text = row.text, new
            people_repo.audit(s, actor.id, "activity.comment", "activity", row.id,
                              {"client_id": row.client_id, "old": old, "new": new},
                              self.clock.now())
            return row.client_id

    async def change_outcome(self, actor: Actor, activity_id: int,
                             outcome_id: int | None) -> int:
        """Set the outcome of a contact record (None: no outcome); returns the client id."""
        async with self.db.transaction() as s:
            row, _ = await self._correctable(s, actor, activity_id)
            if outcome_id is not None:
                outcome = await cls_repo.item(s, valid_id(outcome_id))
                if outcome is None or outcome.kind != "outcome":
                    raise InvalidInput("outcome")
            old, row.outcome_id = row.outcome_id, outcome_id
            people_repo.audit(s, actor.id, "activity.outcome", "activity", row.id,
                              {"client_id": row.client_id, "old": old, "new": outcome_id},
                              self.clock.now())
            return row.client_id

    async def delete_entry(self, actor: Actor, activity_id: int) -> int:
        """Remove a contact record from the history; the audit keeps its content. Returns
        the client id."""
        async with self.db.transaction() as s:
            row, _ = await self._correctable(s, actor, activity_id)
            client_id = row.client_id
            people_repo.audit(s, actor.id, "activity.deleted", "activity", row.id,
                              {"old": _content(row), "new": None}, self.clock.now())
            await repo.delete_activity(s, row.id)
            return client_id

    async def log(
        self,
        actor: Actor,
        client_id: int,
        type_id: int,
        outcome_id: int | None,
        text: str | None,
        *,
        deal_id: int | None = None,
        attachment_kind: str | None = None,
        attachment_ref: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Logged:
        """Record a contact. Anyone who may see the card may add to its history."""
        async with self.db.transaction(quick=True) as s:
            return await log_contact(
                s, actor, self.clock.now(), client_id, type_id, outcome_id, text,
                deal_id=deal_id, attachment_kind=attachment_kind,
                attachment_ref=attachment_ref, occurred_at=occurred_at,
            )

    async def record_event(
        self, actor: Actor, client_id: int, event: str, deal_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        async with self.db.transaction() as s:
            client, _ = await load_visible(s, actor, client_id)
            now = self.clock.now()
            s.add(Activity(client_id=client.id, deal_id=deal_id, author_id=actor.id,
                           event=event, details=details, occurred_at=now, created_at=now))


async def log_contact(
    s: AsyncSession,
    actor: Actor,
    now: datetime,
    client_id: int,
    type_id: int,
    outcome_id: int | None,
    text: str | None,
    *,
    deal_id: int | None = None,
    attachment_kind: str | None = None,
    attachment_ref: str | None = None,
    occurred_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Logged:
    """The body of HistoryService.log, for use cases that do more in the same transaction."""
    text = (text or "").strip()[:TEXT_LIMIT] or None
    client, own = await load_visible(s, actor, client_id)
    found = await cls_repo.items_by_ids(
        s, {type_id} if outcome_id is None else {type_id, outcome_id})  # one statement
    kind = found.get(type_id)
    if kind is None or kind.kind != "activity_type" or (
        kind.code in CHECK_IN_ONLY and details is None
    ):
        raise InvalidInput("activity_type")
    if outcome_id is not None:
        outcome = found.get(outcome_id)
        if outcome is None or outcome.kind != "outcome":
            raise InvalidInput("outcome")
    open_deals = list(await repo.open_deals_of(s, client.id))
    if deal_id is not None and deal_id not in {d.id for d in open_deals}:
        raise Conflict("deal_closed")
    if deal_id is None and len(open_deals) == 1 and can_change(actor, own):
        # One deal in progress and it is theirs to work: the contact is about it. (A service
        # check-up must not reset the manager's stall clock.)
        deal_id = open_deals[0].id
    row = Activity(
        client_id=client.id,
        deal_id=deal_id,
        author_id=actor.id,
        type_id=type_id,
        outcome_id=outcome_id,
        text=text,
        attachment_kind=attachment_kind,
        attachment_ref=attachment_ref,
        details=details,
        occurred_at=occurred_at or now,
        created_at=now,
        # A campaign touch logged by hand is for the client's campaign of the moment (the
        # marketing report counts it there even if the card's campaign changes later).
        campaign_id=client.campaign_id if kind.code == TOUCH else None,
    )
    s.add(row)
    if deal_id is not None:
        await repo.touch_deal(s, deal_id, now)
    # The contact planned for today (or overdue) is done now.
    _, day_end = local_day_bounds(now, actor.tz)
    for planned in await repo.planned_for_client(s, client.id, actor.id):
        if planned.due_at < day_end:
            planned.status = "done"
            planned.done_at = now
    await s.flush()
    return Logged(row.id, client.id, deal_id, [(d.id, d.title) for d in open_deals],
                  client_name=client.name)


async def plan_contact(
    s: AsyncSession,
    actor: Actor,
    now: datetime,
    client_id: int,
    due_at: datetime,
    *,
    deal_id: int | None = None,
    note: str | None = None,
) -> Planned:
    """The body of PlanningService.plan, for use in a larger transaction."""
    if due_at.tzinfo is None:
        raise InvalidInput("when")
    if due_at < now - timedelta(minutes=1):
        raise InvalidInput("when_past")
    if due_at > now + MAX_AHEAD:
        raise InvalidInput("when_far")
    client, _ = await load_visible(s, actor, client_id)
    if deal_id is not None:
        deal = await s.get(Deal, deal_id)
        if deal is None or deal.client_id != client.id:
            raise NotAvailable()
    existing = list(await repo.planned_for_client(s, client.id, actor.id))
    if existing:
        first = existing[0]
        first.due_at = due_at
        first.deal_id = deal_id or first.deal_id
        first.note = note or first.note
        for extra in existing[1:]:
            extra.status = "cancelled"
        return Planned(first.id, client.id, due_at, moved=True, client_name=client.name)
    row = PlannedContact(
        client_id=client.id, deal_id=deal_id, owner_id=actor.id, due_at=due_at,
        note=note, status="planned", created_at=now,
    )
    s.add(row)
    await s.flush()
    return Planned(row.id, client.id, due_at, moved=False, client_name=client.name)


async def load_open_planned(
    s: AsyncSession, actor: Actor, planned_id: int
) -> PlannedContact:
    """A planned contact still to do, if it is the actor's (or their team's, for a head)."""
    row = await repo.planned(s, valid_id(planned_id))
    if row is None:
        raise NotAvailable()
    await load_visible(s, actor, row.client_id)
    require(row.owner_id == actor.id or actor.role in (Role.ADMIN, Role.HEAD))
    if row.status != "planned":
        raise Conflict("planned_closed")
    return row


class PlanningService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def plan(
        self,
        actor: Actor,
        client_id: int,
        due_at: datetime,
        *,
        deal_id: int | None = None,
        note: str | None = None,
    ) -> Planned:
        """Plan the next contact. An earlier plan of the same person for the client moves."""
        async with self.db.transaction() as s:
            return await plan_contact(
                s, actor, self.clock.now(), client_id, due_at, deal_id=deal_id, note=note
            )

    async def get(self, actor: Actor, planned_id: int) -> Planned:
        """A planned contact still to do, as the actor may see it."""
        async with self.db.transaction() as s:
            row = await load_open_planned(s, actor, planned_id)
            client, _ = await load_visible(s, actor, row.client_id)
            return Planned(row.id, client.id, row.due_at, moved=False, client_name=client.name)

    async def set_note(self, actor: Actor, planned_id: int, note: str) -> None:
        """The subject of a planned contact ("Call: budget and who decides")."""
        note = " ".join(note.split())
        if not note or len(note) > 500:
            raise InvalidInput("subject")
        async with self.db.transaction() as s:
            row = await load_open_planned(s, actor, planned_id)
            row.note = note

    async def no_next_step(self, actor: Actor, client_id: int, deal_id: int | None) -> None:
        """The manager says explicitly there is nothing to plan; that is recorded."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            client, _ = await load_visible(s, actor, client_id)
            for planned in await repo.planned_for_client(s, client.id, actor.id):
                planned.status = "cancelled"
            s.add(Activity(client_id=client.id, deal_id=deal_id, author_id=actor.id,
                           event="no_next_step", occurred_at=now, created_at=now))

    async def set_status(self, actor: Actor, planned_id: int, status: str) -> int:
        """Mark done or cancelled; returns the client id."""
        if status not in ("done", "cancelled"):
            raise InvalidInput("status")
        async with self.db.transaction() as s:
            row = await load_open_planned(s, actor, planned_id)
            row.status = status
            row.done_at = self.clock.now()
            return row.client_id

    async def today(self, actor: Actor) -> TodayView:
        now = self.clock.now()
        tz = actor.tz
        start, end = local_day_bounds(now, tz)
        local_today = now.astimezone(tz).date()
        team = (actor.team_id, actor.id) \
            if actor.role is Role.HEAD and actor.team_id is not None else None
        async with self.db.read() as r:
            rows = await repo.today_rows(r, actor.id, start, end, local_today, team)
        late, late_n, due, due_n = rows.late, rows.late_total, rows.due, rows.due_total
        count, amount, invoices, owed = rows.totals
        team_rows, team_n = rows.team, rows.team_total
        return TodayView(
            day=local_today, overdue=[AgendaItem(*row) for row in late],
            today=[AgendaItem(*row) for row in due], open_deals=count,
            open_amount=amount, overdue_invoices=invoices, overdue_amount=owed,
            overdue_total=late_n, today_total=due_n,
            team_overdue=[AgendaItem(*row) for row in team_rows], team_overdue_total=team_n,
        )

    async def agenda(self, actor: Actor, part: str, page: int = 0) -> AgendaPage:
        """A page of one part of Today: every overdue or today's contact, not only the
        first few Today shows; the team's part for a head only. A page past the end (the
        list shrank since the button was drawn) gives the last one."""
        if part not in AGENDA_PARTS:
            raise InvalidInput("agenda_part")
        if part == "team" and (actor.role is not Role.HEAD or actor.team_id is None):
            raise NotAvailable()
        now = self.clock.now()
        start, end = local_day_bounds(now, actor.tz)
        page = max(page, 0)

        async def read(page: int) -> tuple[list[tuple[Any, ...]], int]:
            async with self.db.read() as r:
                if part == "team":
                    assert actor.team_id is not None
                    return await repo.shown_team_overdue(
                        r, actor.team_id, actor.id, start, AGENDA_PAGE, page * AGENDA_PAGE)
                rows, total = await repo.agenda_page(r, actor.id, part == "late", start, end,
                                                     AGENDA_PAGE, page * AGENDA_PAGE)
                return list(rows), total

        rows, total = await read(page)
        if not rows and page > 0:
            probe, total = await read(0)
            page = max(0, -(-total // AGENDA_PAGE) - 1)
            rows = probe if page == 0 else (await read(page))[0]
        return AgendaPage(part, [AgendaItem(*row) for row in rows], total, page,
                          max(1, -(-total // AGENDA_PAGE)))
