"""Speed of the funnel and time-use reports at scale, next to a plain COUNT(*) over the
history in the same run.

Run: python -m bench.funnel --db sqlite|postgresql [--clients 100000 --history 1000000]

Builds bench/scale.py's data set (50 managers in five teams, clients, typed history,
deals), then gives every deal the stage events crm/deals.py writes: created at the first
stage, one to four moves forward a few days apart, and the close of a won or lost deal
(about three events a deal, on top of --history). Each report is computed three times
through crm (the figures a handler renders) for the admin (all 50 managers), a head (10)
and a manager, for this month and this year; the median is printed. PostgreSQL needs
`--url` or BENCH_DATABASE_URL (its schema is DROPPED).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, text, update

from bench.scale import ADMIN_TG, NOW, Data, build, bulk
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.period import PeriodKind, period_of
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Activity, Deal, Stage


async def add_stage_events(db: Database, rng: random.Random) -> int:
    async with db.engine.begin() as conn:
        stages = [(r[0], r[1]) for r in await conn.execute(
            select(Stage.id, Stage.code).order_by(Stage.sort_order))]
        deals = list(await conn.execute(select(Deal.id, Deal.client_id, Deal.owner_id,
                                               Deal.status, Deal.opened_at, Deal.closed_at)))
        first_id = (await conn.scalar(select(func.max(Activity.id)))) or 0
    rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    n = first_id
    for deal_id, client_id, owner, status, opened, closed in deals:
        base = {"client_id": client_id, "deal_id": deal_id, "author_id": owner}

        def event(name: str, details: dict[str, Any], at: Any,
                  base: dict[str, Any] = base) -> None:
            nonlocal n
            n += 1
            rows.append({**base, "id": n, "event": name, "details": details,
                         "occurred_at": at, "created_at": at})

        event("deal_created", {"to": stages[0][1]}, opened)
        at, where = opened, 0
        for _ in range(rng.randrange(0, 4)):
            step = min(len(stages) - 1, where + rng.randrange(1, 3))
            if step == where:
                break
            at = at + timedelta(days=rng.randrange(1, 12))
            if at >= NOW or (closed is not None and at >= closed):
                break
            event("stage_changed", {"from": stages[where][1], "to": stages[step][1]}, at)
            where = step
        if status != "open" and closed is not None:
            event(f"deal_{status}", {"stage": stages[where][1]}, closed)
        updates.append({"id": deal_id, "stage_id": stages[where][0], "stage_changed_at": at})
    await bulk(db, Activity.__table__, rows)
    async with db.engine.begin() as conn:
        for i in range(0, len(updates), 5000):
            await conn.execute(
                update(Deal).where(Deal.id == bindparam("did")).values(
                    stage_id=bindparam("sid"), stage_changed_at=bindparam("sat")),
                [{"did": u["id"], "sid": u["stage_id"], "sat": u["stage_changed_at"]}
                 for u in updates[i:i + 5000]])
        await conn.execute(text("ANALYZE"))
    return len(rows)


async def timed(step: Callable[[], Awaitable[Any]], repeat: int = 3) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


async def run(db: Database, data: Data) -> list[tuple[str, float]]:
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    who: list[tuple[str, Actor]] = []
    for label, tg in (("admin, 50 managers", ADMIN_TG), ("head, 10", data.head_of_team[1]),
                      ("manager", data.tg_of[data.busy_manager])):
        actor = await crm.people.identify(tg)
        assert actor is not None
        who.append((label, actor))

    async def count() -> None:
        async with db.transaction() as s:
            await s.scalar(select(func.count()).select_from(Activity))

    out = [("baseline: SELECT COUNT(*) FROM activities", await timed(count))]
    today = NOW.astimezone(who[0][1].tz).date()
    for kind in (PeriodKind.MONTH, PeriodKind.YEAR):
        period = period_of(kind, today)
        for label, actor in who:
            out.append((f"funnel, {kind.name.lower()}, {label}", await timed(
                lambda a=actor, p=period: crm.reports.funnel(a, p))))  # type: ignore[misc]
            out.append((f"time use, {kind.name.lower()}, {label}", await timed(
                lambda a=actor, p=period: crm.reports.time_use(a, p))))  # type: ignore[misc]
    return out


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        else:
            url = args.url or os.environ.get("BENCH_DATABASE_URL", "")
            if not url.startswith("postgresql"):
                raise SystemExit("--db postgresql needs --url or BENCH_DATABASE_URL")
            db = Database(url)
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await db.dispose()
        db = Database(url)
        await upgrade(db)
        t0 = time.perf_counter()
        data = await build(db, args.clients, args.history, args.deals, rng)
        events = await add_stage_events(db, rng)
        print(f"{args.db}: {args.clients:,} clients, {args.history:,} typed history records "
              f"+ {events:,} stage events, {args.deals:,} deals, 50 managers; built in "
              f"{time.perf_counter() - t0:.0f} s")
        print("| report | median ms |\n|---|---|")
        for label, ms in await run(db, data):
            print(f"| {label} | {ms:.0f} |")
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="PostgreSQL URL (its public schema is dropped)")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--history", type=int)
    parser.add_argument("--deals", type=int)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.clients < 2001:
        parser.error("--clients must be at least 2001")
    args.history = args.history or args.clients * 10
    args.deals = args.deals or args.clients // 5
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
