"""Speed of the reports at scale: each report for the admin (all 50 managers) over a month
and over a year, next to a plain `SELECT COUNT(*) FROM activities` in the same run.

Run: python -m bench.reports --db sqlite|postgresql [--clients 100000] [--keep FILE]

The data set is bench/scale.py's (`build`: 100k clients with source, segment, region,
industry and campaign, 1M history records, 20k deals with invoices and payments, 50
managers in 5 teams). `--keep FILE` (SQLite) keeps the built database in FILE and reuses it
on the next run; `--reuse` (PostgreSQL) reuses a database built by an earlier run instead of
dropping its schema. PostgreSQL needs `--url` or BENCH_DATABASE_URL. See bench/README.md.

A report is timed as its crm/ function (the SQL and the assembly of the figures, what the
bot, the spreadsheet and a later dashboard all wait for); median of `--repeat` runs. Adding
a report is one line in REPORTS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.scale import ADMIN_TG, NOW, built, data_args, db_url, fresh, parse, steady
from crm.clock import FrozenClock
from crm.config import CRMConfig
from crm.dto import Actor
from crm.reports.dynamics import span
from crm.reports.period import Period, PeriodKind, period_of
from crm.service import CRM
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Client

Load = Callable[[CRM, Actor, Period], Awaitable[Any]]

# name → the report's crm function (a snapshot report ignores the period).
REPORTS: dict[str, Load] = {
    "results": lambda crm, a, p: crm.reports.results(a, p),
    "losses": lambda crm, a, p: crm.reports.losses(a, p),
    "receivables": lambda crm, a, _p: crm.reports.receivables(a),
    "coverage": lambda crm, a, _p: crm.reports.coverage(a),
    "marketing": lambda crm, a, p: crm.reports.marketing(a, p),
    "funnel": lambda crm, a, p: crm.reports.funnel(a, p),
    "time use": lambda crm, a, p: crm.reports.time_use(a, p),
    # Its own periods: the 12 months up to the period's end, whichever period is asked.
    "dynamics (12 months)": lambda crm, a, p: crm.reports.dynamics(
        a, span(PeriodKind.MONTH, 12, p.end)),
    "forecast": lambda crm, a, _p: crm.reports.forecast(a),
}


def periods(today: date) -> tuple[Period, Period]:
    """Last month (whole) and the last 365 days; each report also covers the period before."""
    return period_of(PeriodKind.LAST_MONTH, today), Period(
        PeriodKind.CUSTOM, today - timedelta(days=364), today)


async def timed(run: Callable[[], Awaitable[Any]], repeat: int) -> float:
    """Median seconds of `repeat` runs, after one warm-up run."""
    await run()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


async def bench(db: Database, repeat: int, only: list[str] | None) -> list[str]:
    crm = CRM(db, CRMConfig(admin_ids=frozenset({ADMIN_TG})), FrozenClock(NOW))
    admin = await crm.people.identify(ADMIN_TG)
    assert admin is not None
    today = NOW.astimezone(admin.tz).date()

    async def count() -> None:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT COUNT(*) FROM activities"))

    base = await timed(count, repeat)
    lines = ["| report | month, ms | year, ms | year ÷ baseline |", "|---|---|---|---|",
             f"| `SELECT COUNT(*) FROM activities` (baseline) | {base * 1000:.0f} | "
             f"{base * 1000:.0f} | 1.0 |"]
    for name, load in REPORTS.items():
        if only and name not in only:
            continue
        ms = []
        for period in periods(today):
            async def run(load: Load = load, period: Period = period) -> None:
                await load(crm, admin, period)

            ms.append(await timed(run, repeat))
        lines.append(f"| {name} | {ms[0] * 1000:.0f} | {ms[1] * 1000:.0f} | "
                     f"{ms[1] / base:.1f} |")
    return lines


async def ready(db: Database, n_clients: int) -> bool:
    try:
        async with db.engine.connect() as conn:
            return (await conn.scalar(select(func.count()).select_from(Client))) == n_clients
    except Exception:  # no schema yet
        return False


async def main_async(args: argparse.Namespace) -> None:
    if args.reuse:
        db = Database(db_url(args, args.path))
        if not await ready(db, args.clients):
            raise SystemExit("the kept database does not hold this data set: drop --keep/--reuse")
        await upgrade(db)
        print(f"{args.db}: reusing the data set built before")
    else:
        db = await fresh(args, args.path)
        await built(args, db)
    await steady(db)
    try:
        for line in await bench(db, args.repeat, args.only):
            print(line)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data_args(parser)
    parser.add_argument("--keep", help="SQLite: keep the data set in this file, reuse it")
    parser.add_argument("--reuse", action="store_true",
                        help="PostgreSQL: reuse the data set of an earlier run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per report")
    parser.add_argument("--only", nargs="*", help="these reports only")
    args = parse(parser)
    args.path = Path(args.keep or f"/tmp/salesbot-bench-reports-{os.getpid()}.db")
    if args.db == "sqlite":
        args.reuse = args.keep is not None and args.path.exists()
    try:
        asyncio.run(main_async(args))
    finally:
        if args.db == "sqlite" and args.keep is None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
