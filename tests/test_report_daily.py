"""The daily contact counts behind the results report (activity_daily, kept by triggers of
migration 0008) stay equal to the history itself after writes, corrections and deletions;
the report's contacts are the same as counted from the history, at period edges that are
local (Moscow) midnights, not UTC ones."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, select, update

from crm.reports.period import Period, PeriodKind, previous
from crm.service import CRM
from storage.db import Database
from storage.models import Activity, ActivityDaily, ActivityMonthly, Client
from storage.repo import reports as repo
from tests.notify_data import actor, add_activity, add_client, add_user, item_id
from tests.test_report_marketing import MSK, msk


async def daily(db: Database, table: type[ActivityDaily] | type[ActivityMonthly] = ActivityDaily
                ) -> dict[tuple[int, date, int], int]:
    async with db.transaction() as s:
        rows = await s.execute(select(table.author_id, table.day, table.type_id, table.n))
        return {(a, d, t): n for a, d, t, n in rows if n}


async def from_history(db: Database, month: bool = False) -> dict[tuple[int, date, int], int]:
    async with db.transaction() as s:
        rows = await s.execute(select(Activity.author_id, Activity.occurred_at,
                                      Activity.type_id))
        days = ((a, at.astimezone(UTC).date(), t) for a, at, t in rows
                if a is not None and t is not None)
        return dict(Counter((a, d.replace(day=1) if month else d, t) for a, d, t in days))


async def report_counts(db: Database, ids: list[int], period: Period) -> set[tuple[int, ...]]:
    prev = previous(period)
    w = repo.Window(period.bounds(MSK), prev.bounds(MSK), (period.start, period.end),
                    (prev.start, prev.end))
    async with db.transaction() as s:
        return set(await repo.contacts_by_type(s, ids, w))


async def raw_counts(db: Database, ids: list[int], period: Period) -> set[tuple[int | None, ...]]:
    prev = previous(period)
    spans = (period.bounds(MSK), prev.bounds(MSK))
    async with db.transaction() as s:
        rows = await s.execute(select(Activity.author_id, Activity.type_id,
                                      Activity.occurred_at)
                               .where(Activity.author_id.in_(ids),
                                      Activity.type_id.is_not(None)))
        counts: Counter[tuple[int | None, int | None, int]] = Counter()
        for a, t, at in rows:
            for b, (start, end) in enumerate(spans):
                if start <= at < end:
                    counts[(a, t, b)] += 1
    return {(a, t, b, n) for (a, t, b), n in counts.items()}


PERIODS = (
    Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24)),
    Period(PeriodKind.TODAY, date(2026, 11, 19), date(2026, 11, 19)),
    Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 25)),
    # Whole UTC months inside (October) and before (September) it.
    Period(PeriodKind.CUSTOM, date(2026, 8, 31), date(2026, 11, 25)),
)


async def last_contacts(db: Database) -> tuple[dict[int, datetime | None], dict[int, datetime]]:
    """Each client's last_contact_at, and its latest typed record counted from the history."""
    async with db.transaction() as s:
        kept = {cid: at for cid, at in await s.execute(select(Client.id,
                                                               Client.last_contact_at))}
        latest: dict[int, datetime] = {}
        for cid, at in await s.execute(select(Activity.client_id, Activity.occurred_at)
                                       .where(Activity.type_id.is_not(None))):
            latest[cid] = max(latest.get(cid, at), at)
    return kept, latest


async def in_step(db: Database, ids: list[int]) -> None:
    kept, latest = await last_contacts(db)
    assert kept == {cid: latest.get(cid) for cid in kept}
    assert await daily(db) == await from_history(db)
    assert await daily(db, ActivityMonthly) == await from_history(db, month=True)
    for period in PERIODS:
        assert await report_counts(db, ids, period) == await raw_counts(db, ids, period), period


async def test_daily_counts_follow_every_write(any_crm: CRM) -> None:
    db = any_crm.db
    ivan = await add_user(db, 9002, "Ivan Petrov")
    olga = await add_user(db, 9003, "Olga Smirnova")
    admin = await add_user(db, 9007, "Ann Admin", role="admin")
    ids = [ivan, olga]
    a = await add_client(db, ivan, "Alpha")
    b = await add_client(db, olga, "Beta")
    # Around Moscow midnight (21:00 UTC) and UTC midnight (03:00 Moscow), both edges of
    # the week 18–24 Nov and of the day 19 Nov.
    moments = [msk(11, 18, 0, 0), msk(11, 17, 23, 59), msk(11, 19, 2, 59), msk(11, 19, 3, 0),
               msk(11, 24, 23, 59), msk(11, 25, 0, 0), msk(11, 12, 12), msk(11, 20, 23, 30),
               # 1 Oct 00:30 in Moscow is still September in UTC; a month before and after.
               msk(10, 1, 0, 30), msk(10, 15), msk(9, 30, 23, 0), msk(8, 31, 0, 30),
               msk(6, 15)]
    for i, when in enumerate(moments):
        await add_activity(db, a if i % 2 else b, ivan if i % 3 else olga,
                           ("call", "meeting", "email")[i % 3], when)
    async with db.transaction() as s:  # a system event has no type: not a contact
        s.add(Activity(client_id=a, author_id=ivan, event="deal_won",
                       occurred_at=msk(11, 20), created_at=msk(11, 20)))
    await in_step(db, ids)
    assert sum((await daily(db)).values()) == len(moments)

    # Logged through the CRM, then deleted through the CRM (a correction).
    call = await item_id(db, "activity_type", "call")
    logged = await any_crm.history.log(await actor(db, ivan), a, call, None, "Перезвонил")
    await in_step(db, ids)
    async with db.transaction() as s:
        newest = await s.scalar(select(Activity.id).order_by(Activity.id.desc()).limit(1))
    assert newest is not None and logged is not None
    await any_crm.history.delete_entry(await actor(db, admin), newest)
    await in_step(db, ids)

    # Corrections of the time (across a day and out of the period), the type, the author;
    # a contact turned into an untyped record and back.
    meeting = await item_id(db, "activity_type", "meeting")
    async with db.transaction() as s:
        first, second, third, fourth = list(await s.scalars(
            select(Activity.id).where(Activity.type_id.is_not(None)).order_by(Activity.id)
            .limit(4)))
        await s.execute(update(Activity).where(Activity.id == first).values(
            occurred_at=msk(11, 21, 1, 0)))
        await s.execute(update(Activity).where(Activity.id == second).values(type_id=meeting))
        await s.execute(update(Activity).where(Activity.id == third).values(author_id=olga))
        await s.execute(update(Activity).where(Activity.id == fourth).values(type_id=None))
        await s.execute(update(Activity).where(Activity.id == first).values(text="edited"))
    await in_step(db, ids)
    async with db.transaction() as s:
        await s.execute(update(Activity).where(Activity.id == fourth).values(type_id=call))
        await s.execute(update(Activity).where(Activity.id == third).values(author_id=None))
    await in_step(db, ids)

    # Moved to another client (the latest contact of both is recomputed).
    async with db.transaction() as s:
        await s.execute(update(Activity).where(Activity.id == fourth).values(client_id=b))
    await in_step(db, ids)

    # Deleted: one record, then a whole client (its history goes with it).
    async with db.transaction() as s:
        await s.execute(delete(Activity).where(Activity.id == second))
    await in_step(db, ids)
    before = sum((await daily(db)).values())
    async with db.transaction() as s:  # the history goes by the foreign key's cascade
        gone = len(list(await s.scalars(select(Activity.id).where(
            Activity.client_id == b, Activity.type_id.is_not(None),
            Activity.author_id.is_not(None)))))
        await s.execute(delete(Client).where(Client.id == b))
    await in_step(db, ids)
    assert gone and sum((await daily(db)).values()) == before - gone


async def test_a_long_period_reads_the_daily_counts(any_crm: CRM) -> None:
    """A year of contacts: the whole days come from activity_daily, the figures are still
    those of the history (an hour's records every 7 hours for a year)."""
    db = any_crm.db
    ivan = await add_user(db, 9002, "Ivan Petrov")
    a = await add_client(db, ivan, "Alpha")
    call = await item_id(db, "activity_type", "call")
    start = datetime(2025, 11, 1, tzinfo=UTC)
    async with db.transaction() as s:
        s.add_all(Activity(client_id=a, author_id=ivan, type_id=call,
                           occurred_at=start + timedelta(hours=7 * k), created_at=start)
                  for k in range(1300))
    year = Period(PeriodKind.CUSTOM, date(2025, 11, 26), date(2026, 11, 25))
    got = await report_counts(db, [ivan], year)
    assert got == await raw_counts(db, [ivan], year)
    assert sum(n for *_, n in got) == 1300  # 1 Nov 2025 – 14 Nov 2026: all in the two years
    assert {b for _, _, b, _ in got} == {0, 1}
