"""The report roll-ups of migration 0018 stay equal to the tables they sum up after every kind
of write, on SQLite and PostgreSQL:

* marketing_daily (new clients and campaign touches per classifier value and UTC day) — after
  clients are created, re-classified, re-dated, deleted (the flag, and the row with its
  history), and touches logged, corrected (type, time, client, their own campaign — 0020:
  a broadcast's touch counts towards its campaign, not the client's) and deleted;
* deal_stage_stays (each ended stay of a deal in a stage, with its length) — after deals move
  through the CRM, their stage events are corrected or deleted, a deal changes owner or
  opening time, and a deal is deleted.

Each check recomputes the roll-up from the raw rows in Python; the reports read through the
roll-ups give the same figures as the raw rows (everyone's marketing against a head's, whose
figures are read from the raw rows, with one team owning everything).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update

from crm.reports.marketing import DIMENSIONS
from crm.reports.period import Period, PeriodKind
from crm.service import CRM
from storage.db import Database
from storage.models import Activity, Client, Deal, DealStageStay, MarketingDaily, Stage
from storage.repo import reports as repo
from tests.notify_data import (
    actor,
    add_activity,
    add_client,
    add_deal,
    add_team,
    add_user,
    item_id,
    update_user,
)
from tests.test_report_marketing import MSK, msk

KINDS = [d.value for d in DIMENSIONS]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def marketing_kept(db: Database) -> dict[tuple[str, int, date], tuple[int, int]]:
    async with db.transaction() as s:
        rows = await s.execute(select(MarketingDaily.kind, MarketingDaily.value,
                                      MarketingDaily.day, MarketingDaily.new_clients,
                                      MarketingDaily.touches))
        return {(k, v, d): (n, t) for k, v, d, n, t in rows if n or t}


async def marketing_counted(db: Database) -> dict[tuple[str, int, date], tuple[int, int]]:
    touch = await item_id(db, "activity_type", "campaign_touch")
    new: Counter[tuple[str, int, date]] = Counter()
    touches: Counter[tuple[str, int, date]] = Counter()
    async with db.transaction() as s:
        clients = {c.id: c for c in await s.scalars(select(Client))}
        for c in clients.values():
            if not c.is_deleted:
                for k in KINDS:
                    new[(k, getattr(c, f"{k}_id") or 0, c.created_at.astimezone(UTC).date())] += 1
        for cid, at, own in await s.execute(
                select(Activity.client_id, Activity.occurred_at, Activity.campaign_id)
                .where(Activity.type_id == touch)):
            for k in KINDS:
                # A touch's own campaign (a broadcast's) before the client's (0020).
                value = (own if k == "campaign" else None) or getattr(clients[cid], f"{k}_id")
                touches[(k, value or 0, at.astimezone(UTC).date())] += 1
    return {key: (new[key], touches[key]) for key in {*new, *touches}}


async def marketing_in_step(db: Database) -> None:
    assert await marketing_kept(db) == await marketing_counted(db)


def ms(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


async def stays_kept(db: Database) -> set[tuple[Any, ...]]:
    async with db.transaction() as s:
        return {(r.activity_id, r.deal_id, r.owner_id, r.left_at, r.code, r.ms)
                for r in await s.scalars(select(DealStageStay))}


async def stays_counted(db: Database) -> set[tuple[Any, ...]]:
    """Each deal's stage events in time order; a stay ends at a move, a win or a loss and
    began at the event before, or when the deal was opened."""
    out = set()
    async with db.transaction() as s:
        deals = {d.id: d for d in await s.scalars(select(Deal))}
        events = list(await s.scalars(
            select(Activity).where(Activity.deal_id.is_not(None), Activity.event.in_(
                ("deal_created", "stage_changed", "deal_won", "deal_lost", "deal_reopened")))
            .order_by(Activity.deal_id, Activity.occurred_at, Activity.id)))
    before: dict[int, datetime] = {}
    for e in events:
        assert e.deal_id is not None
        deal = deals[e.deal_id]
        since = before.get(e.deal_id, deal.opened_at)
        before[e.deal_id] = e.occurred_at
        code = (e.details or {}).get("from") or (e.details or {}).get("stage")
        if e.event in ("stage_changed", "deal_won", "deal_lost") and code is not None:
            out.add((e.id, e.deal_id, deal.owner_id, e.occurred_at, code,
                     ms(e.occurred_at) - ms(since)))
    return out


async def stays_in_step(db: Database) -> None:
    assert await stays_kept(db) == await stays_counted(db)


async def test_marketing_counts_follow_every_write(any_crm: CRM) -> None:
    db = any_crm.db
    team = await add_team(db, "Sales")
    head = await add_user(db, 9001, "Hanna Head", role="head", team_id=team)
    ivan = await add_user(db, 9002, "Ivan Petrov", team_id=team)
    admin = await add_user(db, 9007, "Ann Admin", role="admin")
    web = await item_id(db, "source", "website")
    fair = await item_id(db, "source", "exhibition")
    moscow = await item_id(db, "region", "moscow")
    spring = await item_id(db, "campaign", "expo_spring")
    a = await add_client(db, ivan, "Alpha")
    b = await add_client(db, ivan, "Beta")
    c = await add_client(db, None, "Gamma")  # a lead: nobody's
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == a).values(
            source_id=web, campaign_id=spring, created_at=msk(11, 18, 0, 30)))
        await s.execute(update(Client).where(Client.id == b).values(
            source_id=fair, region_id=moscow, created_at=msk(11, 19, 2, 59)))
        await s.execute(update(Client).where(Client.id == c).values(
            created_at=msk(10, 1, 0, 30)))
    await marketing_in_step(db)
    # Touches on both sides of Moscow and UTC midnights, and other contacts.
    for i, when in enumerate([msk(11, 18, 0, 0), msk(11, 17, 23, 59), msk(11, 19, 3, 0),
                              msk(11, 24, 23, 59), msk(11, 25, 0, 0), msk(10, 1, 0, 30)]):
        await add_activity(db, (a, b, c)[i % 3], ivan, "campaign_touch", when)
        await add_activity(db, (a, b, c)[i % 3], ivan, "call", when)
    await marketing_in_step(db)
    touch = await item_id(db, "activity_type", "campaign_touch")
    call = await item_id(db, "activity_type", "call")
    async with db.transaction() as s:
        touches = list(await s.scalars(select(Activity.id).where(Activity.type_id == touch)
                                       .order_by(Activity.id)))
        calls = list(await s.scalars(select(Activity.id).where(Activity.type_id == call)
                                     .order_by(Activity.id)))

    # Re-classified clients carry their touches along; one value cleared.
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == a).values(source_id=fair,
                                                                      campaign_id=None))
        await s.execute(update(Client).where(Client.id == c).values(region_id=moscow))
    await marketing_in_step(db)
    # Re-dated, deleted (the flag) and restored; a write that changes nothing counted.
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == b).values(
            created_at=msk(9, 30, 23, 0)))
        await s.execute(update(Client).where(Client.id == c).values(is_deleted=True))
        await s.execute(update(Client).where(Client.id == a).values(name="Alpha 2"))
    await marketing_in_step(db)
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == c).values(is_deleted=False))
    await marketing_in_step(db)

    # Touches corrected: the time (across a UTC day), the type (both ways), the client.
    async with db.transaction() as s:
        await s.execute(update(Activity).where(Activity.id == touches[0]).values(
            occurred_at=msk(11, 21, 1, 0)))
        await s.execute(update(Activity).where(Activity.id == touches[1]).values(type_id=call))
        await s.execute(update(Activity).where(Activity.id == calls[0]).values(type_id=touch))
        await s.execute(update(Activity).where(Activity.id == touches[2]).values(client_id=a))
    await marketing_in_step(db)

    # The reports: everyone's (read from the roll-up and the partial days) against the head's
    # (read from the raw rows) once the lead has an owner in the team too.
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == c).values(owner_id=ivan))
    await marketing_in_step(db)
    for period in (Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24)),
                   Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 30)),
                   Period(PeriodKind.CUSTOM, date(2025, 11, 26), date(2026, 11, 25))):
        everyone = await any_crm.reports.marketing(await actor(db, admin), period)
        team_only = await any_crm.reports.marketing(await actor(db, head), period)
        assert everyone.total == team_only.total, period
        assert everyone.by == team_only.by, period
        assert everyone.total.current.touches or everyone.total.previous.touches

    # Deleted: a touch, then a whole client (its history goes with it by the cascade).
    async with db.transaction() as s:
        await s.execute(delete(Activity).where(Activity.id == touches[3]))
    await marketing_in_step(db)
    async with db.transaction() as s:
        await s.execute(delete(Client).where(Client.id == b))
    await marketing_in_step(db)
    kept = await marketing_kept(db)
    assert sum(n for (k, _v, _d), (n, _t) in kept.items() if k == "source") == 2


async def test_a_touch_with_its_own_campaign_follows_every_write(any_crm: CRM) -> None:
    """Migration 0020: a touch's own campaign (a broadcast's) wins over the client's in the
    campaign dimension only; the roll-up stays exact after touches get, change and lose
    their campaign, the clients' campaigns change, touches move, change type and go, and a
    client goes; everyone's report (the roll-up) equals the head's (the raw rows)."""
    db = any_crm.db
    team = await add_team(db, "Sales")
    head = await add_user(db, 9001, "Hanna Head", role="head", team_id=team)
    ivan = await add_user(db, 9002, "Ivan Petrov", team_id=team)
    admin = await add_user(db, 9007, "Ann Admin", role="admin")
    spring = await item_id(db, "campaign", "expo_spring")
    webinar = await item_id(db, "campaign", "webinar")
    news = await item_id(db, "campaign", "newsletter")
    web = await item_id(db, "source", "website")
    a = await add_client(db, ivan, "Alpha")
    b = await add_client(db, ivan, "Beta")
    async with db.transaction() as s:
        await s.execute(update(Client).where(Client.id == a).values(
            source_id=web, campaign_id=spring, created_at=msk(11, 2)))
        await s.execute(update(Client).where(Client.id == b).values(created_at=msk(11, 3)))
    touch = await item_id(db, "activity_type", "campaign_touch")
    call = await item_id(db, "activity_type", "call")
    ids = []
    async with db.transaction() as s:
        for cid, own, when in [(a, webinar, msk(11, 18, 0, 30)), (a, None, msk(11, 18, 4)),
                               (b, webinar, msk(11, 19, 2, 59)), (b, None, msk(11, 20)),
                               (a, news, msk(11, 24, 23, 59)), (b, news, msk(10, 30))]:
            row = Activity(client_id=cid, author_id=ivan, type_id=touch, campaign_id=own,
                           occurred_at=when, created_at=when)
            s.add(row)
            await s.flush()
            ids.append(row.id)
        s.add(Activity(client_id=a, author_id=ivan, type_id=call, campaign_id=news,
                       occurred_at=msk(11, 21), created_at=msk(11, 21)))
    await marketing_in_step(db)
    kept = await marketing_kept(db)
    day = msk(11, 18, 0, 30).date()
    assert kept[("campaign", webinar, day)] == (0, 1)  # its own, not Alpha's spring
    assert kept[("source", web, day)] == (0, 1)  # the other dimensions: the client's

    async def step(stmt: Any) -> None:
        async with db.transaction() as s:
            await s.execute(stmt)
        await marketing_in_step(db)

    # The clients' campaigns change: only the touches without one of their own move.
    await step(update(Client).where(Client.id == a).values(campaign_id=news))
    await step(update(Client).where(Client.id == b).values(campaign_id=spring))
    await step(update(Client).where(Client.id == a).values(campaign_id=None))
    # Touches get, change and lose their own campaign.
    await step(update(Activity).where(Activity.id == ids[1]).values(campaign_id=spring))
    await step(update(Activity).where(Activity.id == ids[0]).values(campaign_id=news))
    await step(update(Activity).where(Activity.id == ids[2]).values(campaign_id=None))
    # The campaign and the time at once; the type both ways; to another client.
    await step(update(Activity).where(Activity.id == ids[3]).values(
        campaign_id=webinar, occurred_at=msk(11, 22, 1)))
    await step(update(Activity).where(Activity.id == ids[4]).values(type_id=call))
    await step(update(Activity).where(Activity.id == ids[4]).values(type_id=touch))
    await step(update(Activity).where(Activity.id == ids[0]).values(client_id=b))
    await step(update(Client).where(Client.id == b).values(campaign_id=webinar,
                                                           is_deleted=True))
    await step(update(Client).where(Client.id == b).values(is_deleted=False))

    for period in (Period(PeriodKind.CUSTOM, date(2026, 11, 18), date(2026, 11, 24)),
                   Period(PeriodKind.MONTH, date(2026, 11, 1), date(2026, 11, 30))):
        everyone = await any_crm.reports.marketing(await actor(db, admin), period)
        team_only = await any_crm.reports.marketing(await actor(db, head), period)
        assert everyone.total == team_only.total, period
        assert everyone.by == team_only.by, period
        assert everyone.total.current.touches

    await step(delete(Activity).where(Activity.id == ids[5]))
    await step(delete(Client).where(Client.id == a))
    await step(delete(Client).where(Client.id == b))
    assert not any(t for (k, _v, _d), (_n, t) in (await marketing_kept(db)).items())


async def test_stage_stays_follow_every_write(any_crm: CRM) -> None:
    db = any_crm.db
    clock: Any = any_crm.clock
    ivan = await add_user(db, 9002, "Ivan Petrov")
    olga = await add_user(db, 9003, "Olga Smirnova")
    boss = await add_user(db, 9007, "Ann Admin", role="admin")
    me = await actor(db, ivan)
    a = await add_client(db, ivan, "Alpha")
    stages = {code: sid for code, sid in await _stages(db)}
    codes = list(stages)
    # Through the CRM: created, moved twice, won, reopened, lost; hours and days apart.
    deal = (await any_crm.deals.create(me, a, "Supply", Decimal(1000), None)).id
    for step, code in enumerate(codes[1:3]):
        clock.advance(timedelta(hours=5 + step, minutes=7, seconds=3))
        await any_crm.deals.move(me, deal, stages[code])
    clock.advance(timedelta(days=2))
    await any_crm.deals.win(me, deal)
    clock.advance(timedelta(days=1, seconds=1))
    await any_crm.deals.reopen(await actor(db, boss), deal)
    clock.advance(timedelta(hours=3))
    await any_crm.deals.lose(me, deal, await item_id(db, "loss_reason", "price"))
    # Another deal with no "created" event: its first stay starts when it was opened.
    other = await add_deal(db, a, olga, "Service", 500, opened_at=msk(11, 1, 10))
    async with db.transaction() as s:
        s.add(Activity(client_id=a, deal_id=other, author_id=olga, event="stage_changed",
                       details={"from": codes[0], "to": codes[1]},
                       occurred_at=msk(11, 3, 12), created_at=msk(11, 3, 12)))
    await stays_in_step(db)
    assert len(await stays_kept(db)) == 5  # 2 moves + won + lost, and the other deal's move

    async with db.transaction() as s:
        events = list(await s.scalars(select(Activity.id).where(Activity.deal_id == deal)
                                      .order_by(Activity.occurred_at, Activity.id)))
    # Corrections: an event's time (past its neighbour), its stage, its kind; moved to the
    # other deal.
    async with db.transaction() as s:
        await s.execute(update(Activity).where(Activity.id == events[1]).values(
            occurred_at=msk(11, 2, 9)))
        await s.execute(update(Activity).where(Activity.id == events[2]).values(
            details={"from": codes[2], "to": codes[0]}))
    await stays_in_step(db)
    async with db.transaction() as s:
        await s.execute(update(Activity).where(Activity.id == events[3]).values(
            event="note"))
    await stays_in_step(db)
    async with db.transaction() as s:
        await s.execute(update(Activity).where(Activity.id == events[3]).values(
            event="deal_won"))
        await s.execute(update(Activity).where(Activity.id == events[4]).values(
            deal_id=other))
    await stays_in_step(db)
    # The deal's owner and opening time changed; an event deleted.
    async with db.transaction() as s:
        await s.execute(update(Deal).where(Deal.id == deal).values(owner_id=olga))
        await s.execute(update(Deal).where(Deal.id == other).values(opened_at=msk(10, 30, 8)))
        await s.execute(delete(Activity).where(Activity.id == events[2]))
    await stays_in_step(db)
    # The funnel's stays read from the roll-up: both deals' stays over two months.
    period = Period(PeriodKind.CUSTOM, date(2026, 10, 1), date(2026, 11, 30))
    async with db.transaction() as s:
        w = repo.Window(period.bounds(MSK), period.bounds(MSK), (period.start, period.end),
                        (period.start, period.end))
        got = await repo.stage_stays(s, [ivan, olga], w)
    counted = await stays_counted(db)
    want: Counter[str] = Counter()
    for *_x, code, length in counted:
        want[code] += length
    assert {code: total for code, b, _n, total in got if b == 0} == dict(want)
    # A deal deleted: its history loses the deal (SET NULL), its stays go.
    async with db.transaction() as s:
        await s.execute(delete(Deal).where(Deal.id == other))
    await stays_in_step(db)
    assert {r[1] for r in await stays_kept(db)} == {deal}


async def _stages(db: Database) -> list[tuple[str, int]]:
    async with db.transaction() as s:
        return [(r[0], r[1]) for r in await s.execute(
            select(Stage.code, Stage.id).where(Stage.is_active.is_(True))
            .order_by(Stage.sort_order))]


async def test_time_use_by_slot_equals_the_history_in_any_zone(any_crm: CRM) -> None:
    """Time use reads whole UTC days from activity_daily and the hours around local midnights
    from the history: per manager, slot (local day or Monday-to-Sunday week) and type its
    figures equal the history counted by local date, in zones east and west of UTC, with
    DST, with a half-hour offset, and in UTC itself."""
    db = any_crm.db
    ivan = await add_user(db, 9002, "Ivan Petrov")
    boss = await add_user(db, 9007, "Ann Admin", role="admin")
    a = await add_client(db, ivan, "Alpha")
    call = await item_id(db, "activity_type", "call")
    meeting = await item_id(db, "activity_type", "meeting")
    start = datetime(2025, 10, 20, 0, 17, tzinfo=UTC)
    times = [start + timedelta(minutes=(k * 7919) % (400 * 24 * 60)) for k in range(900)]
    times += [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
              datetime(2026, 3, 8, 6, 59, tzinfo=UTC), datetime(2026, 3, 8, 7, 0, tzinfo=UTC)]
    async with db.transaction() as s:
        s.add_all(Activity(client_id=a, author_id=ivan, type_id=(call, meeting)[k % 2],
                           occurred_at=at, created_at=at) for k, at in enumerate(times))
    for zone in ("Europe/Moscow", "America/New_York", "Asia/Kolkata", "UTC",
                 "Europe/Berlin"):
        await update_user(db, boss, timezone=zone)
        viewer = await actor(db, boss)
        for period in (Period(PeriodKind.CUSTOM, date(2025, 11, 26), date(2026, 11, 25)),
                       Period(PeriodKind.MONTH, date(2026, 3, 1), date(2026, 3, 31))):
            report = await any_crm.reports.time_use(viewer, period)
            line = next(m for m in report.managers if m.member.id == ivan)
            got = {(x.slot.start, t.id): n for x in line.slots
                   for t, n in zip(report.types, x.counts, strict=True) if n}
            want: Counter[tuple[date, int]] = Counter()
            for k, at in enumerate(times):
                day = at.astimezone(viewer.tz).date()
                slot = next((x for x in report.slots if x.start <= day <= x.end), None)
                if slot is not None:
                    want[(slot.start, (call, meeting)[k % 2])] += 1
            assert got == dict(want), (zone, period)
            assert sum(want.values()) > 10
