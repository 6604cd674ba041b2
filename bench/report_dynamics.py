"""Speed of the dynamics and forecast reports (issue 8, items 2 and 4) at scale, next to a
plain COUNT(*) over the history table in the same run.

Run: python -m bench.report_dynamics --db sqlite|postgresql [--clients 100000]

The data set is bench/scale.py's (100k clients, 1M history records, 20k deals, 50 managers
in five teams), plus an expected close on most open deals, an invoice on every won deal and
payments on most of them. Each figure is the median of three runs of the crm function (the
figures, without rendering), for the admin (50 managers) and a head (10). PostgreSQL's
tables are vacuumed first, as autovacuum would have done by then.
PostgreSQL needs `--url` or BENCH_DATABASE_URL (its public schema is DROPPED).
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

from sqlalchemy import func, select, text, update

from bench.scale import ADMIN_TG, NOW, Data, build, bulk
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.reports.dynamics import span
from crm.reports.period import PeriodKind
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Activity, Deal, Invoice, Payment


async def money_rows(db: Database, rng: random.Random) -> int:
    """Expected closes on open deals, an invoice per won deal, payments on most."""
    async with db.engine.begin() as conn:
        deals = (await conn.execute(select(Deal.id, Deal.status, Deal.amount,
                                           Deal.closed_at))).all()
        for deal_id, status, _amount, _closed in deals:
            if status == "open" and rng.random() < 0.8:
                await conn.execute(update(Deal).where(Deal.id == deal_id).values(
                    expected_close=(NOW + timedelta(days=rng.randrange(-60, 400))).date()))
    invoices: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    for deal_id, status, amount, closed in deals:
        if status != "won" or closed is None:
            continue
        iid = len(invoices) + 1
        due = (closed + timedelta(days=rng.randrange(0, 60))).date()
        invoices.append({"id": iid, "deal_id": deal_id, "amount": amount, "currency": "RUB",
                         "issued_on": closed.date(), "due_on": due, "status": "open",
                         "created_at": NOW})
        if rng.random() < 0.8:
            payments.append({"id": len(payments) + 1, "invoice_id": iid, "amount": amount,
                             "paid_on": due - timedelta(days=rng.randrange(0, 20)),
                             "created_at": NOW})
    await bulk(db, Invoice.__table__, invoices)
    await bulk(db, Payment.__table__, payments)
    if db.dialect == "postgresql":
        # As autovacuum would have by then: without the visibility map a count reads the
        # rows behind its index (an index-only scan needs a vacuumed table).
        async with db.engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("VACUUM ANALYZE"))
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return len(invoices)


async def median_ms(step: Callable[[], Awaitable[Any]]) -> float:
    samples = []
    for _ in range(3):
        t0 = time.perf_counter()
        await step()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


async def run(db: Database, data: Data) -> list[tuple[str, float]]:
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    admin = await crm.people.identify(ADMIN_TG)
    head = await crm.people.identify(data.head_of_team[1])
    assert admin is not None and head is not None
    today = NOW.astimezone(admin.tz).date()

    async def count() -> None:
        async with db.transaction() as s:
            await s.scalar(select(func.count()).select_from(Activity))

    months, weeks = span(PeriodKind.MONTH, 12, today), span(PeriodKind.WEEK, 12, today)
    return [
        ("baseline: COUNT(*) over the history", await median_ms(count)),
        ("dynamics, 12 months, admin (50 managers)",
         await median_ms(lambda: crm.reports.dynamics(admin, months))),
        ("dynamics, 12 weeks, admin (50 managers)",
         await median_ms(lambda: crm.reports.dynamics(admin, weeks))),
        ("dynamics, 12 months, head (10 managers)",
         await median_ms(lambda: crm.reports.dynamics(head, months))),
        ("forecast, admin (50 managers)", await median_ms(lambda: crm.reports.forecast(admin))),
        ("forecast, head (10 managers)", await median_ms(lambda: crm.reports.forecast(head))),
    ]


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
        data = await build(db, args.clients, args.clients * 10, args.clients // 5, rng)
        invoices = await money_rows(db, rng)
        print(f"{args.db}: {args.clients:,} clients, {args.clients * 10:,} history records, "
              f"{args.clients // 5:,} deals, {invoices:,} invoices; built in "
              f"{time.perf_counter() - t0:.0f} s")
        rows = await run(db, data)
        print("| report | median ms | × COUNT(*) |\n|---|---|---|")
        for name, ms in rows:
            print(f"| {name} | {ms:.0f} | {ms / rows[0][1]:.1f} |")
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="PostgreSQL URL (its public schema is dropped)")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.clients < 2001:
        parser.error("--clients must be at least 2001")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
