"""Time travel: what falls due when, as outbox rows (SQLite, and PostgreSQL when set up)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from crm.clock import FrozenClock
from crm.notifications import reminder_key
from crm.service import CRM
from tests.notify_data import (
    add_client,
    add_deal,
    add_invoice,
    add_payment,
    add_planned,
    add_team,
    add_user,
    outbox,
    update_planned,
    update_user,
)

MSK = ZoneInfo("Europe/Moscow")


def msk(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MSK).astimezone(UTC)


def statuses(rows: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(r.idempotency_key, r.status) for r in rows]


async def test_reminder_appears_at_its_time_once(any_crm: CRM, clock: FrozenClock) -> None:
    db = any_crm.db
    uid = await add_user(db, 501, "Ivan")
    cid = await add_client(db, uid, "Acme")
    due = msk(2026, 11, 25, 12, 30)
    pid = await add_planned(db, cid, uid, due)
    clock.set(msk(2026, 11, 25, 12, 29))
    await any_crm.notifications.enqueue_due()
    assert await outbox(db, "reminder") == []
    clock.set(msk(2026, 11, 25, 12, 30))
    stats = await any_crm.notifications.enqueue_due()
    assert stats.reminders == 1
    # The same minute again, and a fresh service (another process): still one row.
    await any_crm.notifications.enqueue_due()
    fresh = CRM(db, any_crm.config, clock)
    assert (await fresh.notifications.enqueue_due()).reminders == 0
    rows = await outbox(db, "reminder")
    assert len(rows) == 1
    row = rows[0]
    assert row.idempotency_key == reminder_key(pid, due)
    assert row.due_at == due and row.chat_id == 501 and row.status == "pending"
    assert row.payload["planned_id"] == pid


async def test_outside_working_hours_fires_next_working_morning(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    uid = await add_user(db, 502, "Olga", role="service")
    # Vladivostok: 09:00-18:00 there is 02:00-11:00 in Moscow.
    far = await add_user(db, 503, "Pavel", tz="Asia/Vladivostok", role="service")
    cid = await add_client(db, uid, "Acme")
    cid2 = await add_client(db, far, "Far East Ltd")
    friday_evening = msk(2026, 11, 27, 19, 30)
    await add_planned(db, cid, uid, friday_evening)
    await add_planned(db, cid2, far, friday_evening)  # 02:30 Saturday in Vladivostok
    clock.set(friday_evening + timedelta(minutes=1))
    await any_crm.notifications.enqueue_due()
    rows = {r.user_id: r for r in await outbox(db, "reminder")}
    assert rows[uid].due_at == msk(2026, 11, 30, 9)
    vlad = ZoneInfo("Asia/Vladivostok")
    assert rows[far].due_at == datetime(2026, 11, 30, 9, 0, tzinfo=vlad).astimezone(UTC)
    # Nothing is claimable over the weekend.
    clock.set(msk(2026, 11, 29, 23))
    assert await any_crm.outbox.claim() == []
    clock.set(rows[far].due_at)
    assert [i.user_id for i in await any_crm.outbox.claim()] == [far]
    clock.set(msk(2026, 11, 30, 9))
    assert [i.user_id for i in await any_crm.outbox.claim()] == [uid]


async def test_vacation_means_no_reminder_even_after_return(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    uid = await add_user(db, 504, "Vera", vacation=True)
    cid = await add_client(db, uid, "Acme")
    due = msk(2026, 11, 25, 11)
    await add_planned(db, cid, uid, due)
    clock.set(due + timedelta(minutes=1))
    await any_crm.notifications.enqueue_due()
    await update_user(db, uid, on_vacation=False)
    clock.set(due + timedelta(hours=1))
    await any_crm.notifications.enqueue_due()
    rows = await outbox(db, "reminder")
    assert [(r.status, r.last_error) for r in rows] == [("cancelled", "vacation")]
    assert await any_crm.outbox.claim() == []


async def test_moving_a_planned_contact_moves_its_reminder(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    uid = await add_user(db, 505, "Ivan", role="service")
    cid = await add_client(db, uid, "Acme")
    # Planned for Saturday: the reminder waits for Monday 09:00 (a pending future row).
    saturday = msk(2026, 11, 28, 12)
    pid = await add_planned(db, cid, uid, saturday)
    clock.set(saturday + timedelta(minutes=5))
    await any_crm.notifications.enqueue_due()
    [first] = await outbox(db, "reminder")
    assert first.status == "pending" and first.due_at == msk(2026, 11, 30, 9)
    # Moved to Sunday evening: a new key; the Monday row for Saturday is replaced.
    sunday = msk(2026, 11, 29, 20)
    await update_planned(db, pid, due_at=sunday)
    clock.set(sunday + timedelta(minutes=1))
    await any_crm.notifications.enqueue_due()
    rows = await outbox(db, "reminder")
    assert statuses(rows) == [
        (reminder_key(pid, saturday), "cancelled"),
        (reminder_key(pid, sunday), "pending"),
    ]
    # Moved later still (Tuesday 15:00): nothing due on Monday morning.
    tuesday = msk(2026, 12, 1, 15)
    await update_planned(db, pid, due_at=tuesday)
    clock.set(msk(2026, 11, 30, 8, 59))
    await any_crm.notifications.enqueue_due()
    clock.set(msk(2026, 11, 30, 9))
    assert await any_crm.outbox.claim() == []
    clock.set(tuesday)
    await any_crm.notifications.enqueue_due()
    claimed = await any_crm.outbox.claim()
    assert [c.key for c in claimed] == [reminder_key(pid, tuesday)]
    assert [r.status for r in await outbox(db, "reminder")] == [
        "cancelled", "cancelled", "sending"]


async def test_cancelled_or_done_contact_cancels_its_waiting_reminder(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    uid = await add_user(db, 506, "Ivan")
    cid = await add_client(db, uid, "Acme")
    cid2 = await add_client(db, uid, "Beta")
    evening = msk(2026, 11, 25, 21)
    p1 = await add_planned(db, cid, uid, evening)
    p2 = await add_planned(db, cid2, uid, evening)
    clock.set(evening + timedelta(minutes=1))
    await any_crm.notifications.enqueue_due()
    await update_planned(db, p1, status="cancelled")
    await update_planned(db, p2, status="done")
    clock.set(evening + timedelta(minutes=2))
    await any_crm.notifications.enqueue_due()
    assert [r.status for r in await outbox(db, "reminder")] == ["cancelled", "cancelled"]


async def test_old_contacts_and_inactive_people_get_no_reminder(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    uid = await add_user(db, 507, "Ivan")
    gone = await add_user(db, 508, "Gone")
    await update_user(db, gone, is_active=False)
    cid = await add_client(db, uid, "Acme")
    now = msk(2026, 11, 25, 12)
    clock.set(now)
    await add_planned(db, cid, uid, now - timedelta(days=5))  # beyond the look-back
    await add_planned(db, cid, gone, now - timedelta(minutes=5))
    late = await add_planned(db, cid, uid, now - timedelta(hours=20))  # while we were down
    await any_crm.notifications.enqueue_due()
    rows = await outbox(db, "reminder")
    assert [r.payload["planned_id"] for r in rows] == [late]


async def test_overdue_invoice_alerts_pace_and_escalation(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    team = await add_team(db, "North")
    head = await add_user(db, 601, "Helen", role="head", team_id=team)
    mgr = await add_user(db, 602, "Ivan", team_id=team)
    cid = await add_client(db, mgr, "Acme")
    deal = await add_deal(db, cid, mgr, "Pumps", 100_000)
    inv = await add_invoice(db, deal, 100_000, date(2026, 11, 23))  # a Monday
    paid = await add_invoice(db, deal, 5_000, date(2026, 11, 23))
    await add_payment(db, paid, 5_000, date(2026, 11, 20))

    async def keys_at(when: datetime) -> list[str]:
        clock.set(when)
        await any_crm.notifications.enqueue_due()
        return [r.idempotency_key for r in await outbox(db, "overdue")]

    # Due day itself: nothing. The morning after (Tuesday 24th): at the start of hours.
    assert await keys_at(msk(2026, 11, 23, 17)) == []
    assert await keys_at(msk(2026, 11, 24, 0, 30)) == [f"overdue:{inv}:0"]
    [row] = await outbox(db, "overdue")
    assert row.due_at == msk(2026, 11, 24, 9) and row.user_id == mgr
    assert await keys_at(msk(2026, 11, 26, 12)) == [f"overdue:{inv}:0"]
    # Day 4 (27th): the second alert; day 7 (30th): the third, and the head's first.
    assert await keys_at(msk(2026, 11, 27, 10)) == [f"overdue:{inv}:0", f"overdue:{inv}:1"]
    keys = await keys_at(msk(2026, 11, 30, 10))
    assert keys[2:] == [f"overdue:{inv}:2", f"overdue:{inv}:h0:{head}"]
    escalated = (await outbox(db, "overdue"))[-1]
    assert escalated.user_id == head and escalated.payload["escalated"] is True
    # Paid in full: no more alerts.
    await add_payment(db, inv, 100_000, date(2026, 11, 30))
    assert len(await keys_at(msk(2026, 12, 3, 10))) == 4


async def test_overdue_alert_falling_on_a_weekend_waits_for_monday(
    any_crm: CRM, clock: FrozenClock
) -> None:
    db = any_crm.db
    mgr = await add_user(db, 603, "Ivan")
    cid = await add_client(db, mgr, "Acme")
    deal = await add_deal(db, cid, mgr, "Pumps", 1000)
    await add_invoice(db, deal, 1000, date(2026, 11, 27))  # Friday: first alert Saturday
    clock.set(msk(2026, 11, 28, 10))
    await any_crm.notifications.enqueue_due()
    [row] = await outbox(db, "overdue")
    assert row.due_at == msk(2026, 11, 30, 9)


async def test_digest_at_local_time_on_working_days(any_crm: CRM, clock: FrozenClock) -> None:
    db = any_crm.db
    team = await add_team(db, "North")
    head = await add_user(db, 701, "Helen", role="head", team_id=team)
    mgr = await add_user(db, 702, "Ivan", team_id=team, tz="Asia/Vladivostok")
    await add_user(db, 703, "Vera", team_id=team, vacation=True)
    await add_user(db, 704, "Mark", role="marketer")
    # 08:59 in Moscow is 15:59 in Vladivostok: only Ivan's digest is due.
    clock.set(msk(2026, 11, 25, 8, 59))
    await any_crm.notifications.enqueue_due()
    assert [r.idempotency_key for r in await outbox(db, "digest")] == [
        f"digest:{mgr}:2026-11-25"]
    clock.set(msk(2026, 11, 25, 9, 0))
    await any_crm.notifications.enqueue_due()
    await any_crm.notifications.enqueue_due()
    rows = {r.idempotency_key: r for r in await outbox(db, "digest")}
    assert rows[f"digest:{head}:2026-11-25"].due_at == msk(2026, 11, 25, 9)
    vera = [r for r in rows.values() if r.chat_id == 703]
    assert [(r.status, r.last_error) for r in vera] == [("cancelled", "vacation")]
    assert len(rows) == 3
    # Saturday: no digests.
    clock.set(msk(2026, 11, 28, 10))
    await any_crm.notifications.enqueue_due()
    assert len(await outbox(db, "digest")) == 3


async def test_claim_release_and_mark(any_crm: CRM, clock: FrozenClock) -> None:
    db = any_crm.db
    uid = await add_user(db, 801, "Ivan", role="service")  # no digest in the way
    cid = await add_client(db, uid, "Acme")
    now = msk(2026, 11, 25, 12)
    clock.set(now)
    for i in range(3):
        await add_planned(db, cid, uid, now - timedelta(minutes=3 - i))
    await any_crm.notifications.enqueue_due()
    first = await any_crm.outbox.claim(2)
    assert [i.attempts for i in first] == [1, 1]
    assert len(await any_crm.outbox.claim(5)) == 1
    assert await any_crm.outbox.claim(5) == []
    await any_crm.outbox.mark_sent(first[0], 77)
    # A crash: the rest stay in `sending` until released (lease, or start-up).
    assert await any_crm.outbox.release_stuck() == 0
    clock.advance(timedelta(minutes=3))
    assert await any_crm.outbox.release_stuck() == 2
    again = await any_crm.outbox.claim(5)
    assert sorted(i.id for i in again) != [] and first[0].id not in {i.id for i in again}
    assert {i.attempts for i in again} == {2}
    counts = await any_crm.outbox.counts()
    assert counts == {"sent": 1, "sending": 2}
