"""When notifications fall due, and turning what is due into outbox rows.

Everything due becomes one outbox row with a unique idempotency key; a periodic tick calls
`NotificationService.enqueue_due()` and the scheduler delivers what it then claims. The
key carries what makes the notification unique, so enqueueing twice is harmless:

* a planned-contact reminder: ``remind:{planned_id}:{due_at}`` — moving the contact gives a
  new key (a new reminder) and the old pending row is cancelled;
* an overdue invoice: ``overdue:{invoice_id}:{bucket}`` (every N days one bucket), and
  ``overdue:{invoice_id}:h{bucket}:{head_id}`` for the head once it is M days overdue;
* a digest: ``digest:{user_id}:{local date}``;
* an invitation used: ``invite_used:{invite_id}:{recipient_id}``, to its author and the admins,
  enqueued in the transaction that registers the newcomer.
* a deal of the team won or lost, for each head of the team:
  ``deal_closed:{deal_id}:{status}:{head_id}`` (a repeated close tells no one twice).

Payloads carry ids only; the text is rendered when the row is sent, from what is true then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crm.clock import Clock
from crm.config import NotifyConfig
from crm.when import WorkHours, at_local, effective_fire_time
from storage.db import Database
from storage.models import User
from storage.repo import notify as repo
from storage.repo import outbox as outbox_repo

REMINDER, OVERDUE, DIGEST = "reminder", "overdue", "digest"
INVITE_USED = "invite_used"
DEAL_CLOSED = "deal_closed"
# A reminder that fires this much after its time says it is late.
LATE_AFTER = timedelta(minutes=5)
# After a longer outage, contacts older than this get no reminder (the digest lists them).
REMINDER_LOOKBACK = timedelta(days=3)
_KNOWN_KEYS_CAP = 200_000


def reminder_key(planned_id: int, due_at: datetime) -> str:
    return f"remind:{planned_id}:{due_at.astimezone(UTC).isoformat()}"


def overdue_key(invoice_id: int, bucket: int, head_id: int | None = None) -> str:
    if head_id is None:
        return f"overdue:{invoice_id}:{bucket}"
    return f"overdue:{invoice_id}:h{bucket}:{head_id}"


def digest_key(user_id: int, day: date) -> str:
    return f"digest:{user_id}:{day.isoformat()}"


def invite_used_key(invite_id: int, recipient_id: int) -> str:
    return f"invite_used:{invite_id}:{recipient_id}"


async def enqueue_invite_used(
    s: Any, invite_id: int, author_id: int, newcomer_id: int, now: datetime
) -> int:
    """Tell the invitation's author and every admin (each once) that it was used; in the
    caller's transaction, so the notice exists exactly when the registration does."""
    admins = await repo.active_admins(s)
    author = (await repo.users_by_ids(s, {author_id})).get(author_id)
    people = {u.id: u for u in [*([author] if author else []), *admins]}
    rows = [
        _row(invite_used_key(invite_id, u.id), INVITE_USED, u,
             {"invite_id": invite_id, "user_id": newcomer_id}, now, now, Uptime(now, now))
        for u in people.values()
        if u.id != newcomer_id and u.is_active and not u.unreachable
    ]
    return await outbox_repo.insert_if_absent(s, rows) if rows else 0
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
            Uptime(now, now), vacation=head.on_vacation,
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
class Uptime:
    """The scheduler's current run as persisted: [up_since, last_tick] with no gap longer
    than LATE_AFTER; None before the first run ever."""

    up_since: datetime | None = None
    last_tick: datetime | None = None

    def missed(self, fire_at: datetime, now: datetime) -> bool:
        """True when the scheduler was not running at `fire_at` and it is going out late:
        only then may the text say the bot was unavailable. Something merely new — a user
        who registered after the digest time, a contact planned for an hour ago, an
        invoice entered after its due date — is not late."""
        if not is_late(fire_at, now):
            return False
        if self.up_since is None or self.last_tick is None:
            return True
        return not self.up_since <= fire_at <= self.last_tick

    def after_tick(self, now: datetime) -> Uptime:
        """The run goes on if the last tick is recent (a quick restart included)."""
        if self.up_since is None or self.last_tick is None \
                or now - self.last_tick > LATE_AFTER:
            return Uptime(now, now)
        return Uptime(self.up_since, max(now, self.last_tick))


def send_time(fire_at: datetime, now: datetime, hours: WorkHours) -> datetime:
    """When a row goes out: at `fire_at`, or — caught up later — now if it is working
    time for the recipient, else at the start of their next working period."""
    if not is_late(fire_at, now):
        return fire_at
    return effective_fire_time(now, hours)


@dataclass(frozen=True, slots=True)
class EnqueueStats:
    reminders: int = 0
    overdue: int = 0
    digests: int = 0
    cancelled: int = 0


def _row(
    key: str, kind: str, user: User, payload: dict[str, Any], fire_at: datetime,
    now: datetime, uptime: Uptime, *, vacation: bool = False,
) -> dict[str, Any]:
    late = uptime.missed(fire_at, now)
    row: dict[str, Any] = {
        "idempotency_key": key, "kind": kind, "user_id": user.id, "chat_id": user.tg_id,
        "payload": {**payload, "fire_at": fire_at.isoformat(), "late": late},
        "due_at": send_time(fire_at, now, WorkHours.of(user)),
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
        async with self.db.transaction() as s:
            state = await outbox_repo.scheduler_state(s)
        uptime = Uptime(state.up_since, state.last_tick) if state is not None else Uptime()
        reminders, cancelled = await self._reminders(now, uptime)
        overdue = await self._overdue(now, uptime)
        digests = await self._digests(now, uptime)
        # Only a scan that went through counts as the scheduler having run.
        after = uptime.after_tick(now)
        async with self.db.transaction() as s:
            assert after.up_since is not None and after.last_tick is not None
            await outbox_repo.save_scheduler_state(s, after.up_since, after.last_tick)
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

    async def _reminders(self, now: datetime, uptime: Uptime) -> tuple[int, int]:
        async with self.db.transaction() as s:
            cancelled = await self._reconcile_reminders(s, now)
            wanted: list[dict[str, Any]] = []
            for planned, user in await repo.planned_due(s, now - REMINDER_LOOKBACK, now):
                if user.unreachable:
                    continue
                fire_at = effective_fire_time(planned.due_at, WorkHours.of(user))
                wanted.append(_row(
                    reminder_key(planned.id, planned.due_at), REMINDER, user,
                    {"planned_id": planned.id}, fire_at, now, uptime,
                    vacation=user.on_vacation,
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

    async def _overdue(self, now: datetime, uptime: Uptime) -> int:
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
                        {**payload, "bucket": mine.bucket}, fire, now, uptime,
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
                        fire, now, uptime, vacation=head.on_vacation,
                    ))
            inserted = await self._insert(s, await self._new_only(s, wanted))
        self._commit_known()
        return inserted

    async def _digests(self, now: datetime, uptime: Uptime) -> int:
        async with self.db.transaction() as s:
            wanted: list[dict[str, Any]] = []
            for user in await repo.digest_recipients(s):
                if user.unreachable or not user.digest_enabled:
                    continue
                minute = user.digest_time_min
                if minute is None:
                    minute = self.config.digest_time_min
                hours = WorkHours.of(user)
                local = now.astimezone(hours.tz)
                if not hours.works_on(local.date()):
                    continue
                fire_at = at_local(local.date(), minute, hours.tz)
                if fire_at > now:
                    continue
                if send_time(fire_at, now, hours).astimezone(hours.tz).date() != local.date():
                    # Caught up after the day's working hours: the next working day's
                    # digest covers the same week, and two at once would be noise.
                    continue
                wanted.append(_row(
                    digest_key(user.id, local.date()), DIGEST, user,
                    {"user_id": user.id, "date": local.date().isoformat()}, fire_at, now,
                    uptime, vacation=user.on_vacation,
                ))
            inserted = await self._insert(s, await self._new_only(s, wanted))
        self._commit_known()
        return inserted


REASSIGNED = "reassigned"


def reassigned_row(
    batch: str, user: User, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A notice that clients were moved to or away from `user`, in their working hours."""
    fire = effective_fire_time(now, WorkHours.of(user))
    return _row(f"{REASSIGNED}:{batch}:{user.id}", REASSIGNED, user, payload, fire, now,
                Uptime(now, now))
