"""When notifications fall due, and turning what is due into outbox rows.

Everything due becomes one outbox row with a unique idempotency key; a periodic tick calls
`NotificationService.enqueue_due()` and the scheduler delivers what it then claims. The
key carries what makes the notification unique, so enqueueing twice is harmless:

* a planned-contact reminder: ``remind:{planned_id}:{due_at}`` — moving the contact gives a
  new key (a new reminder) and the old pending row is cancelled;
* an overdue invoice: ``overdue:{invoice_id}:{bucket}`` (every N days one bucket), and
  ``overdue:{invoice_id}:h{bucket}:{head_id}`` for the head once it is M days overdue;
* a digest: ``digest:{user_id}:{local date}``;
* a deal of the team won or lost, for each head of the team:
  ``deal_closed:{deal_id}:{status}:{head_id}`` (a repeated close tells no one twice).

Payloads carry ids only; the text is rendered when the row is sent, from what is true then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm.clock import Clock
from crm.config import NotifyConfig
from storage.db import Database
from storage.models import User
from storage.repo import notify as repo
from storage.repo import outbox as outbox_repo

REMINDER, OVERDUE, DIGEST = "reminder", "overdue", "digest"
DEAL_CLOSED = "deal_closed"
# A reminder that fires this much after its time says it is late.
LATE_AFTER = timedelta(minutes=5)
# After a longer outage, contacts older than this get no reminder (the digest lists them).
REMINDER_LOOKBACK = timedelta(days=3)
_KNOWN_KEYS_CAP = 200_000


@dataclass(frozen=True, slots=True)
class WorkHours:
    tz: ZoneInfo
    start_min: int
    end_min: int
    days: str  # ISO weekdays, "12345"

    @classmethod
    def of(cls, user: User) -> WorkHours:
        return cls(ZoneInfo(user.timezone), user.work_start_min, user.work_end_min,
                   user.work_days)

    @property
    def bounds(self) -> tuple[int, int]:
        start, end = self.start_min, self.end_min
        if not 0 <= start < end <= 24 * 60:
            return 0, 24 * 60  # nonsense hours: treat the whole day as working
        return start, end

    def works_on(self, day: date) -> bool:
        return str(day.isoweekday()) in self.days


def at_local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as an aware UTC datetime."""
    minute = max(0, min(minute, 24 * 60 - 1))
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def effective_fire_time(due_at: datetime, hours: WorkHours) -> datetime:
    """`due_at` if it is inside working hours, else the start of the next working period."""
    if not any(str(d) in hours.days for d in range(1, 8)):
        return due_at  # no working days configured: never hold anything back
    start, end = hours.bounds
    local = due_at.astimezone(hours.tz)
    minute = local.hour * 60 + local.minute
    today = local.date()
    if hours.works_on(today):
        if start <= minute < end:
            return due_at
        if minute < start:
            return at_local(today, start, hours.tz)
    return next_work_start(due_at, hours)


def next_work_start(now: datetime, hours: WorkHours) -> datetime:
    """The start of working hours on the first working day after the local today."""
    start, _ = hours.bounds
    today = now.astimezone(hours.tz).date()
    for i in range(1, 8):
        day = today + timedelta(days=i)
        if hours.works_on(day):
            return at_local(day, start, hours.tz)
    return at_local(today + timedelta(days=1), start, hours.tz)


def reminder_key(planned_id: int, due_at: datetime) -> str:
    return f"remind:{planned_id}:{due_at.astimezone(UTC).isoformat()}"


def overdue_key(invoice_id: int, bucket: int, head_id: int | None = None) -> str:
    if head_id is None:
        return f"overdue:{invoice_id}:{bucket}"
    return f"overdue:{invoice_id}:h{bucket}:{head_id}"


def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def deal_closed_key(deal_id: int, status: str, head_id: int) -> str:
    return f"deal_closed:{deal_id}:{status}:{head_id}"


def deal_closed_rows(
    heads: list[User], deal_id: int, status: str, closed_by: int, now: datetime
) -> list[dict[str, Any]]:
    """Outbox rows telling the heads of a team that one of its deals was won or lost; in
    their working hours, never to the head who closed it."""
    rows = []
    for head in heads:
        if head.id == closed_by or head.unreachable:
            continue
        fire = effective_fire_time(now, WorkHours.of(head))
        rows.append(_row(
            deal_closed_key(deal_id, status, head.id), DEAL_CLOSED, head,
            {"deal_id": deal_id, "status": status, "closed_by": closed_by}, fire, now,
            vacation=head.on_vacation,
        ))
    return rows


@dataclass(frozen=True, slots=True)
class OverdueStep:
    bucket: int
    day: date  # the local day this alert belongs to


def overdue_steps(
    due_on: date, today: date, repeat_days: int, escalate_days: int
) -> tuple[OverdueStep | None, OverdueStep | None]:
    """(manager's alert, head's alert) due by `today` for an invoice due on `due_on`.

    The manager hears the morning after the due date and every `repeat_days` after; the
    head from `escalate_days` overdue on, at the same pace.
    """
    days = (today - due_on).days
    if days < 1:
        return None, None
    repeat = max(repeat_days, 1)
    bucket = (days - 1) // repeat
    manager = OverdueStep(bucket, due_on + timedelta(days=1 + bucket * repeat))
    head = None
    if days >= escalate_days:
        hbucket = (days - escalate_days) // repeat
        head = OverdueStep(hbucket, due_on + timedelta(days=escalate_days + hbucket * repeat))
    return manager, head


def is_late(fire_at: datetime, sent_at: datetime) -> bool:
    return sent_at - fire_at > LATE_AFTER


@dataclass(frozen=True, slots=True)
class EnqueueStats:
    reminders: int = 0
    overdue: int = 0
    digests: int = 0
    cancelled: int = 0


def _row(
    key: str, kind: str, user: User, payload: dict[str, Any], due_at: datetime,
    now: datetime, *, vacation: bool = False,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "idempotency_key": key, "kind": kind, "user_id": user.id, "chat_id": user.tg_id,
        "payload": {**payload, "fire_at": due_at.isoformat()}, "due_at": due_at,
        "created_at": now, "claimed_at": None, "sent_at": None, "tg_message_id": None,
    }
    if vacation:
        # Born cancelled: the key is used up, so the user does not get it on return either.
        row.update(status=outbox_repo.CANCELLED, last_error="vacation")
    return row


class NotificationService:
    def __init__(self, db: Database, clock: Clock, config: NotifyConfig) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self._known: set[str] = set()  # keys known to be in the outbox already
        self._unconfirmed: set[str] = set()

    async def enqueue_due(self) -> EnqueueStats:
        """One scan of everything that may have fallen due; safe to run any number of times."""
        now = self.clock.now()
        self._unconfirmed = set()
        reminders, cancelled = await self._reminders(now)
        overdue = await self._overdue(now)
        digests = await self._digests(now)
        return EnqueueStats(reminders, overdue, digests, cancelled)

    def _remember(self, keys: set[str]) -> None:
        self._unconfirmed |= keys

    def _commit_known(self) -> None:
        # Only after the transaction committed: a rolled-back key must be tried again.
        if len(self._known) > _KNOWN_KEYS_CAP:
            self._known.clear()
        self._known |= self._unconfirmed
        self._unconfirmed = set()

    async def _new_only(self, s: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [r for r in rows if r["idempotency_key"] not in self._known]
        existing = await outbox_repo.existing_keys(s, [r["idempotency_key"] for r in fresh])
        self._remember(existing)
        return [r for r in fresh if r["idempotency_key"] not in existing]

    async def _insert(self, s: Any, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        inserted = await outbox_repo.insert_if_absent(s, rows)
        self._remember({r["idempotency_key"] for r in rows})
        return inserted

    async def _reminders(self, now: datetime) -> tuple[int, int]:
        async with self.db.transaction() as s:
            cancelled = await self._reconcile_reminders(s, now)
            wanted: list[dict[str, Any]] = []
            for planned, user in await repo.planned_due(s, now - REMINDER_LOOKBACK, now):
                if user.unreachable:
                    continue
                fire_at = effective_fire_time(planned.due_at, WorkHours.of(user))
                wanted.append(_row(
                    reminder_key(planned.id, planned.due_at), REMINDER, user,
                    {"planned_id": planned.id}, fire_at, now, vacation=user.on_vacation,
                ))
            new = await self._new_only(s, wanted)
            if new:
                cancelled += await self._cancel_moved(s, new)
            inserted = await self._insert(s, new)
        self._commit_known()
        return inserted, cancelled

    async def _cancel_moved(self, s: Any, new: list[dict[str, Any]]) -> int:
        """A planned contact that moved has a new key; its old pending reminder goes."""
        new_keys = {r["payload"]["planned_id"]: r["idempotency_key"] for r in new}
        stale = [
            row.id for row in await outbox_repo.rows(s, REMINDER, outbox_repo.PENDING)
            if (pid := row.payload.get("planned_id")) in new_keys
            and row.idempotency_key != new_keys[pid]
        ]
        await outbox_repo.cancel(s, stale, "moved")
        return len(stale)

    async def _reconcile_reminders(self, s: Any, now: datetime) -> int:
        """Reminders waiting for working hours whose contact was since done, cancelled or
        moved. (The sender re-checks every row anyway; this keeps the outbox truthful.)"""
        waiting = await outbox_repo.pending_future(s, REMINDER, now, 1000)
        if not waiting:
            return 0
        states = await repo.planned_states(s, {int(r.payload["planned_id"]) for r in waiting})
        stale = []
        for row in waiting:
            pid = int(row.payload["planned_id"])
            state = states.get(pid)
            if state is None or state[0] != "planned" \
                    or reminder_key(pid, state[1]) != row.idempotency_key:
                stale.append(row.id)
        await outbox_repo.cancel(s, stale, "planned contact changed")
        return len(stale)

    async def _overdue(self, now: datetime) -> int:
        cfg = self.config
        async with self.db.transaction() as s:
            # Local dates run up to 14 h ahead of UTC: scan one day beyond, decide per user.
            invoices = await repo.unpaid_invoices(s, now.date() + timedelta(days=1))
            if not invoices:
                return 0
            owners = await repo.users_by_ids(s, {o for _, o, _, _ in invoices if o})
            heads: dict[int, list[User]] = {}
            wanted: list[dict[str, Any]] = []
            for invoice, owner_id, client_id, _owed in invoices:
                owner = owners.get(owner_id) if owner_id else None
                if owner is None or not owner.is_active:
                    continue
                hours = WorkHours.of(owner)
                today = now.astimezone(hours.tz).date()
                mine, head_step = overdue_steps(
                    invoice.due_on, today, cfg.overdue_repeat_days, cfg.overdue_escalate_days
                )
                payload = {"invoice_id": invoice.id, "client_id": client_id}
                if mine is not None and not owner.unreachable:
                    fire = effective_fire_time(at_local(mine.day, hours.start_min, hours.tz),
                                               hours)
                    wanted.append(_row(
                        overdue_key(invoice.id, mine.bucket), OVERDUE, owner,
                        {**payload, "bucket": mine.bucket}, fire, now,
                        vacation=owner.on_vacation,
                    ))
                if head_step is None or owner.team_id is None:
                    continue
                if owner.team_id not in heads:
                    heads[owner.team_id] = list(await repo.heads_of_team(s, owner.team_id))
                for head in heads[owner.team_id]:
                    if head.id == owner.id or head.unreachable:
                        continue
                    hh = WorkHours.of(head)
                    fire = effective_fire_time(at_local(head_step.day, hh.start_min, hh.tz), hh)
                    wanted.append(_row(
                        overdue_key(invoice.id, head_step.bucket, head.id), OVERDUE, head,
                        {**payload, "bucket": head_step.bucket, "escalated": True,
                         "manager_id": owner.id},
                        fire, now, vacation=head.on_vacation,
                    ))
            inserted = await self._insert(s, await self._new_only(s, wanted))
        self._commit_known()
        return inserted

    async def _digests(self, now: datetime) -> int:
        minute = self.config.digest_time_min
        async with self.db.transaction() as s:
            wanted: list[dict[str, Any]] = []
            for user in await repo.digest_recipients(s):
                if user.unreachable:
                    continue
                hours = WorkHours.of(user)
                local = now.astimezone(hours.tz)
                if not hours.works_on(local.date()):
                    continue
                fire_at = at_local(local.date(), minute, hours.tz)
                if fire_at > now:
                    continue
                wanted.append(_row(
                    digest_key(user.id, local.date()), DIGEST, user,
                    {"user_id": user.id, "date": local.date().isoformat()}, fire_at, now,
                    vacation=user.on_vacation,
                ))
            inserted = await self._insert(s, await self._new_only(s, wanted))
        self._commit_known()
        return inserted
