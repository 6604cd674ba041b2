"""How long a client list takes at 100k clients and 1M history records.

Run: python -m bench.lists --db sqlite|postgresql [--clients 100000] [--repeat 5]

Builds the data set of bench.scale with its shared set-up (50 managers in five teams with
a head each, an admin; clients, deals, planned contacts, history), then gives the clients
classifiers and a probability and the open deals some invoices, and times `crm.lists.page`
(the count and the first page, what «Show» runs) for the admin, a head and a manager, filter
by filter. The baseline, measured in the same run, is a plain `SELECT count(*) FROM activities`.
PostgreSQL needs `--url` or BENCH_DATABASE_URL (its public schema is DROPPED).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, text

from bench.scale import NOW, built, data_args, fresh, parse
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.lists import ClientFilter
from crm.people import to_actor
from crm.service import CRM
from storage.db import Database
from storage.models import ClassifierItem, Stage, User


async def enrich(db: Database, rng: random.Random) -> dict[str, int]:
    """Classifiers and a probability on every client, invoices on a third of the deals."""
    async with db.engine.begin() as conn:
        regions = [r[0] for r in await conn.execute(
            select(ClassifierItem.id).where(ClassifierItem.kind == "region"))]
        industries = [r[0] for r in await conn.execute(
            select(ClassifierItem.id).where(ClassifierItem.kind == "industry"))]
        stage = await conn.scalar(select(Stage.id).where(Stage.code == "proposal"))
        for k, region in enumerate(regions):
            await conn.execute(text("UPDATE clients SET region_id = :r WHERE id % :n = :k"),
                               {"r": region, "n": len(regions), "k": k})
        for k, industry in enumerate(industries):
            await conn.execute(text(
                "UPDATE clients SET industry_id = :r WHERE (id / 7) % :n = :k"),
                {"r": industry, "n": len(industries), "k": k})
        await conn.execute(text("UPDATE clients SET probability = (id * 37) % 101"))
        await conn.execute(text(
            "INSERT INTO invoices (deal_id, amount, currency, issued_on, due_on, status, "
            "created_at) SELECT id, 1000000, 'RUB', :issued, :due, 'open', :now FROM deals "
            "WHERE id % 3 = 0"), {"issued": date(2026, 9, 1), "due": date(2026, 11, 1),
                                  "now": NOW.replace(tzinfo=None)})  # naive UTC, as stored
        await conn.execute(text("ANALYZE"))
    assert stage is not None
    return {"moscow": regions[0], "retail": industries[0], "stage": stage}


async def timed(step: Callable[[], Awaitable[int]], repeat: int) -> tuple[float, int]:
    times = []
    found = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = await step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, found


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        db = await fresh(args, Path(tmp) / "bench.db")
        await built(args, db)
        ids = await enrich(db, rng)
        crm = CRM(db, CRMConfig(), FrozenClock(NOW))
        async with db.transaction() as s:
            admin = to_actor(await s.get_one(User, 1))
            head = to_actor(await s.get_one(User, 2))
            manager = to_actor(await s.get_one(User, 11))

        async def baseline() -> int:
            async with db.transaction() as s:
                return int(await s.scalar(text("SELECT count(*) FROM activities")) or 0)

        filters = {
            "everything": ClientFilter(),
            "region": ClientFilter(region_id=ids["moscow"]),
            "region + industry": ClientFilter(region_id=ids["moscow"],
                                              industry_id=ids["retail"]),
            "open deal at stage": ClientFilter(stage_id=ids["stage"]),
            "probability 60–80": ClientFilter(prob_min=60, prob_max=80),
            "no contact 90 days": ClientFilter(silent_days=90),
            "contacted in 7 days": ClientFilter(contacted_days=7),
            "no next contact": ClientFilter(no_next_contact=True),
            "overdue invoice": ClientFilter(overdue_invoice=True),
            "created in a period": ClientFilter(created_from=NOW.date() - timedelta(days=30),
                                                created_to=NOW.date()),
            "region + no contact 30 d + no next": ClientFilter(
                region_id=ids["moscow"], silent_days=30, no_next_contact=True),
        }
        ms, n = await timed(baseline, args.repeat)
        print(f"baseline SELECT count(*) FROM activities: {ms:.1f} ms ({n:,} rows)")
        print("| filter | admin ms (found) | head ms (found) | manager ms (found) |")
        print("|---|---|---|---|")
        for name, flt in filters.items():
            cells = []
            for who in (admin, head, manager):
                async def step(who=who, flt=flt) -> int:  # type: ignore[no-untyped-def]
                    return (await crm.lists.page(who, flt)).total
                ms, n = await timed(step, args.repeat)
                cells.append(f"{ms:.1f} ({n:,})")
            print(f"| {name} | " + " | ".join(cells) + " |")
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_args(parser, seed=1)
    parser.add_argument("--repeat", type=int, default=5)
    asyncio.run(main_async(parse(parser)))

if __name__ == "__main__":
    main()
